//! Integration tests: one binary, each test with its own app and database.

mod audit;
mod auth;
mod cli;
mod config;
mod helpers;
mod identities;
mod nodes;
mod paging;
mod playground;
mod queries_count;
mod roles_groups;
mod schema;
mod users;
