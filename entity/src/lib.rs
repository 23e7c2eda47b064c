//! sea-orm entities of authgraph, one module per table.
//!
//! Every `*_at`, `*_from` and `*_until` column is a UTC time in microseconds since the Unix
//! epoch (BIGINT): it sorts and compares the same way on SQLite and PostgreSQL, which
//! keyset pagination and time-range filters rely on.
//!
//! Only `service/` in the main crate uses these types; the GraphQL and OIDC layers see
//! service types instead, so no column can leak by accident.

pub mod application;
pub mod audit_log;
pub mod authenticator;
pub mod authorization;
pub mod authorization_code;
pub mod client_resource;
pub mod client_scope;
pub mod client_secret;
pub mod consumed_challenge;
pub mod device_token;
pub mod fraud_protection_decision;
pub mod group;
pub mod group_role;
pub mod hook_event;
pub mod hook_script;
pub mod identity;
pub mod job_lock;
pub mod otp_code;
pub mod password_history;
pub mod password_reset_code;
pub mod rate_limit;
pub mod refresh_token;
pub mod resource;
pub mod resource_scope;
pub mod revoked_token;
pub mod role;
pub mod session;
pub mod signing_key;
pub mod user;
pub mod user_export;
pub mod user_group;
pub mod user_import;
pub mod user_import_outcome;
pub mod user_import_result;
pub mod user_role;
pub mod verified_claim;
pub mod webhook_delivery;
