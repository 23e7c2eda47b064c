//! The business logic. Only this layer touches sea-orm; it owns transactions and audit rows.
//! Resolvers and HTTP handlers call one function here and map the result.

pub mod account;
pub mod applications;
pub mod audit;
pub mod audit_batch;
pub mod authorize;
pub mod changes;
pub mod claims;
pub mod code_grant;
pub mod consents;
pub mod db;
pub mod escalation;
pub mod group_commit;
pub mod identities;
pub mod keys;
pub mod loaders;
pub mod login;
pub mod mail;
pub mod paging;
pub mod password_reset;
pub mod rate_limit;
pub mod refresh_batch;
pub mod resources;
pub mod roles_groups;
pub mod sealed;
pub mod session_end;
pub mod sessions;
pub mod tokens;
pub mod types;
pub mod user_search;
pub mod users;

use std::sync::Arc;

use sea_orm::{DbErr, SqlErr};

use crate::config::Config;
use crate::crypto::jwt::KeyRing;
use crate::crypto::master_key::MasterKey;
use crate::crypto::password::PasswordHasher;
use crate::domain::Invalid;
pub use db::Db;

/// Everything the service layer needs, shared by all requests.
#[derive(Clone)]
pub struct Services {
    pub(crate) db: Db,
    pub(crate) config: Arc<Config>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) master_key: Arc<MasterKey>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) audit_batch: audit_batch::AuditBatcher,
    pub(crate) origins: Arc<applications::OriginCache>,
    pub(crate) mailer: Arc<mail::Mailer>,
    pub(crate) refresh_batch: refresh_batch::RefreshBatcher,
    pub(crate) app_cache: Arc<applications::AppCache>,
    pub(crate) generations: Arc<changes::Generations>,
}

impl Services {
    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The signing and verification keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The database handle (for health checks and statement counts).
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// A service failure. It deliberately has no `Display`: adapters (GraphQL, HTTP) map it
/// explicitly so that a code is never lost, and internal causes are only logged.
#[derive(Debug)]
pub enum Error {
    /// The caller's input is wrong; nothing changed.
    Invalid {
        /// Machine-readable reason.
        reason: &'static str,
        /// What to fix.
        message: String,
    },
    /// A referenced object does not exist.
    NotFound {
        /// Machine-readable reason.
        reason: &'static str,
        /// What was not found.
        message: String,
    },
    /// The change conflicts with existing data.
    Conflict {
        /// Machine-readable reason.
        reason: &'static str,
        /// What conflicts.
        message: String,
    },
    /// The caller may not do this.
    Forbidden {
        /// Machine-readable reason.
        reason: &'static str,
        /// Why.
        message: String,
    },
    /// Something failed inside the server; logged, never shown.
    Internal(String),
}

/// Result of a service call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `Invalid` error.
    pub fn invalid(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { reason, message: message.into() }
    }
    /// A `NotFound` error.
    pub fn not_found(reason: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { reason, message: message.into() }
    }
    /// A `Conflict` error.
    pub fn conflict(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { reason, message: message.into() }
    }
    /// An internal error from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
    /// A short human-readable description (for CLI output and logs).
    pub fn describe(&self) -> String {
        match self {
            Self::Invalid { message, .. }
            | Self::NotFound { message, .. }
            | Self::Conflict { message, .. }
            | Self::Forbidden { message, .. } => message.clone(),
            Self::Internal(cause) => format!("internal error: {cause}"),
        }
    }
}

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Self::Invalid { reason: e.reason, message: e.message }
    }
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

impl From<crate::crypto::password::HashError> for Error {
    fn from(e: crate::crypto::password::HashError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::crypto::jwt::KeyError> for Error {
    fn from(e: crate::crypto::jwt::KeyError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::crypto::master_key::MasterKeyError> for Error {
    fn from(e: crate::crypto::master_key::MasterKeyError) -> Self {
        Self::internal(e)
    }
}

/// Maps a unique-constraint violation to `Conflict`, anything else to `Internal`.
pub(crate) fn conflict_on_unique(e: DbErr, reason: &'static str, message: impl Into<String>) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::conflict(reason, message),
        _ => e.into(),
    }
}

/// Who performs a change, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// Token subject (admin name, client ID) or end-user ID.
    pub subject: Option<String>,
    /// Client IP address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// OAuth client ID, if the token came from one.
    pub client_id: Option<String>,
}

/// The audit record a write must produce: who did it and what activity it is.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Who acted.
    pub actor: Actor,
    /// Activity type, e.g. `admin_api.mutation.create_user.executed`.
    pub activity: String,
}

impl Audit {
    /// The audit record of an Admin API mutation named `mutation` (snake_case).
    pub fn admin_mutation(actor: Actor, mutation: &str) -> Self {
        Self { actor, activity: format!("admin_api.mutation.{mutation}.executed") }
    }
}
