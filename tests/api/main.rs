//! Integration tests: one binary, each test with its own app and database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account_ui;
mod applications;
mod audit;
mod auth;
mod cli;
mod config;
mod cost;
mod escalation;
mod fuzz;
mod helpers;
mod hostile_input;
mod identities;
mod login;
mod login_conformance;
mod nodes;
mod oidc_client;
mod paging;
mod playground;
mod processes;
mod queries_count;
mod rate_limits;
mod resources;
mod roles_groups;
mod rp;
mod schema;
mod scope_plan;
mod sessions;
mod smtp;
mod tokens;
mod users;
