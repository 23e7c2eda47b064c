//! What the Admin API manages: users, identities, authenticators, roles and groups, applications, API
//! resources, sessions and authorizations, signing keys and the audit log. Each file holds
//! one area's data type, its writes (each a unit of work with its audit row) and its reads.

pub(in crate::service) mod admin_tokens;
pub mod app_cache;
pub mod applications;
pub mod audit_logs;
pub mod authenticators;
pub mod authorizations;
pub(in crate::service) mod escalation;
pub mod fraud_protection;
pub mod hook_scripts;
pub mod identities;
pub mod lifecycle;
pub mod lockouts;
pub mod lookups;
pub mod resources;
pub mod roles_groups;
pub mod sessions;
pub mod signing_keys;
pub mod trigram_stats;
pub mod user_export;
pub(in crate::service) mod user_keyword;
pub(in crate::service) mod user_rows;
pub mod user_search;
pub(in crate::service) mod user_search_ordered;
pub(in crate::service) mod user_search_pg;
pub(in crate::service) mod user_search_pg_lookup;
mod user_search_range;
pub mod users;
