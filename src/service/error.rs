//! The service layer's one error type, and every machine-readable reason in one place
//! beside it. Adapters (GraphQL, OAuth, HTML pages) map it; internal causes keep their
//! source chain so the adapter logs it in full, once.

use std::error::Error as StdError;

use sea_orm::{DbErr, SqlErr};

use crate::domain::Invalid;

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
    /// A blocking hook refused the operation, or failed; nothing changed.
    Hook(Box<HookFailure>),
    /// Something failed inside the server; logged (with its whole source chain), never
    /// shown.
    Internal(Internal),
}

/// Why a blocking hook stopped an operation.
#[derive(Debug, Clone)]
pub enum HookFailure {
    /// A handler answered `is_allowed: false` (Authgear's `HookDisallowed`).
    Disallowed {
        /// The blocking event.
        event_type: String,
        /// The refusing handler's `title` and `reason`.
        reasons: Vec<HookReason>,
    },
    /// A handler timed out, could not be reached, answered non-2xx, threw, or answered
    /// something that is not a valid response for the event.
    Failed {
        /// The blocking event.
        event_type: String,
        /// `HookDeliveryTimeout`, `HookDeliveryFailed` or `HookInvalidResponse`.
        reason: &'static str,
        /// What went wrong (for the log and the admin; never a secret).
        detail: String,
    },
    /// A JWT or ID-token mutation removed or changed claims (it may only add).
    InvalidJwtMutations {
        /// Claims removed.
        removed: Vec<String>,
        /// Claims changed.
        changed: Vec<String>,
    },
}

/// A refusing handler's message.
#[derive(Debug, Clone, Default)]
pub struct HookReason {
    /// Short title.
    pub title: Option<String>,
    /// Explanation.
    pub reason: Option<String>,
}

impl HookFailure {
    /// The machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Disallowed { .. } => crate::domain::reason::HOOK_DISALLOWED,
            Self::Failed { reason, .. } => reason,
            Self::InvalidJwtMutations { .. } => crate::domain::reason::INVALID_JWT_MUTATIONS,
        }
    }

    /// A sentence for the person or client: the handler's own words for a refusal.
    pub fn message(&self) -> String {
        match self {
            Self::Disallowed { reasons, .. } => {
                let text: Vec<String> = reasons
                    .iter()
                    .map(|r| match (&r.title, &r.reason) {
                        (Some(t), Some(r)) => format!("{t}: {r}"),
                        (Some(t), None) => t.clone(),
                        (None, Some(r)) => r.clone(),
                        (None, None) => String::new(),
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                if text.is_empty() { "refused by a hook".into() } else { text.join("; ") }
            }
            Self::Failed { event_type, detail, .. } => format!("the {event_type} hook failed: {detail}"),
            Self::InvalidJwtMutations { removed, changed } => format!(
                "a hook may only add claims to a token; it removed [{}] and changed [{}]",
                removed.join(", "),
                changed.join(", ")
            ),
        }
    }

    /// Authgear's `info`: `{event_type, reasons}` for a refusal, `{removed, changed}` for
    /// a JWT mutation.
    pub fn info(&self) -> serde_json::Value {
        match self {
            Self::Disallowed { event_type, reasons } => serde_json::json!({
                "event_type": event_type,
                "reasons": reasons.iter().map(|r| serde_json::json!({"title": r.title, "reason": r.reason})).collect::<Vec<_>>(),
            }),
            Self::Failed { event_type, .. } => serde_json::json!({"event_type": event_type}),
            Self::InvalidJwtMutations { removed, changed } => {
                serde_json::json!({"removed": removed, "changed": changed})
            }
        }
    }
}

/// An internal failure: what the server was doing, and the error that caused it.
#[derive(Debug)]
pub struct Internal {
    context: &'static str,
    source: Option<Box<dyn StdError + Send + Sync>>,
    detail: Option<String>,
}

impl Internal {
    /// The failure and its causes, outermost first, joined by `: ` (for the log).
    pub fn chain(&self) -> String {
        let mut out = self.context.to_owned();
        if let Some(d) = &self.detail {
            out.push_str(": ");
            out.push_str(d);
        }
        let mut next: Option<&(dyn StdError + 'static)> = self.source.as_deref().map(|e| e as _);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
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
    /// An internal error caused by `source` while doing `context`.
    pub fn caused(context: &'static str, source: impl StdError + Send + Sync + 'static) -> Self {
        Self::Internal(Internal { context, source: Some(Box::new(source)), detail: None })
    }
    /// An internal error with no underlying error value (a broken invariant).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(Internal { context: "internal", source: None, detail: Some(cause.to_string()) })
    }
    /// A short human-readable description (for CLI output and logs).
    pub fn describe(&self) -> String {
        match self {
            Self::Invalid { message, .. }
            | Self::NotFound { message, .. }
            | Self::Conflict { message, .. }
            | Self::Forbidden { message, .. } => message.clone(),
            Self::Hook(h) => h.message(),
            Self::Internal(cause) => format!("internal error: {}", cause.chain()),
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
        Self::caused("database", e)
    }
}

impl From<crate::crypto::password::HashError> for Error {
    fn from(e: crate::crypto::password::HashError) -> Self {
        Self::caused("password hashing", e)
    }
}

impl From<crate::crypto::jwt::KeyError> for Error {
    fn from(e: crate::crypto::jwt::KeyError) -> Self {
        Self::caused("signing keys", e)
    }
}

impl From<crate::crypto::master_key::MasterKeyError> for Error {
    fn from(e: crate::crypto::master_key::MasterKeyError) -> Self {
        Self::caused("master key", e)
    }
}

/// Maps a unique-constraint violation to `Conflict`, anything else to `Internal`.
pub(in crate::service) fn conflict_on_unique(e: DbErr, reason: &'static str, message: impl Into<String>) -> Error {
    match crate::service::store::direct_statements::sql_err(&e) {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::conflict(reason, message),
        _ => e.into(),
    }
}
