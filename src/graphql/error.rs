//! The one adapter from service errors to GraphQL errors with `extensions.code`.

use crate::domain::reason;
use async_graphql::ErrorExtensions;

use crate::service::Error;

/// The `extensions.code` values of the Admin API's errors, as Authgear and Apollo name them.
pub mod code {
    /// The input is wrong; nothing changed.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The token lacks a scope, or the change would escalate privileges.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// A referenced object does not exist.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The change conflicts with existing data.
    pub const CONFLICT: &str = "CONFLICT";
    /// Something failed inside the server (logged, never described).
    pub const INTERNAL: &str = "INTERNAL";
    /// No valid bearer token.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// A blocking hook refused the change or failed; nothing changed.
    pub const BLOCKED_BY_HOOK: &str = "BLOCKED_BY_HOOK";
}

fn with_code(message: String, code: &'static str, name: &'static str, reason: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| {
        e.set("code", code);
        e.set("errorName", name);
        e.set("reason", reason);
    })
}

impl From<Error> for async_graphql::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { reason, message } => with_code(message, code::BAD_USER_INPUT, "Invalid", reason),
            Error::NotFound { reason, message } => with_code(message, code::NOT_FOUND, "NotFound", reason),
            Error::Conflict { reason, message } => with_code(message, code::CONFLICT, "AlreadyExists", reason),
            Error::Forbidden { reason, message } => with_code(message, code::FORBIDDEN, "Forbidden", reason),
            Error::Hook(h) => {
                let name = match *h {
                    crate::service::HookFailure::Disallowed { .. } => "Forbidden",
                    crate::service::HookFailure::Failed { .. } => "InternalError",
                    crate::service::HookFailure::InvalidJwtMutations { .. } => "Invalid",
                };
                if let crate::service::HookFailure::Failed { event_type, detail, .. } = &*h {
                    tracing::warn!(event = %event_type, %detail, "a blocking hook failed an Admin API call");
                }
                let info = async_graphql::Value::from_json(h.info()).unwrap_or_default();
                with_code(h.message(), code::BLOCKED_BY_HOOK, name, h.reason()).extend_with(|_, e| e.set("info", info))
            }
            Error::Internal(cause) => {
                tracing::error!(cause = %cause.chain(), "internal error in Admin API");
                with_code("internal error".to_owned(), code::INTERNAL, "InternalError", reason::INTERNAL_ERROR)
            }
        }
    }
}

/// A `BAD_USER_INPUT` error.
pub fn bad_input(reason: &'static str, message: impl Into<String>) -> async_graphql::Error {
    with_code(message.into(), code::BAD_USER_INPUT, "Invalid", reason)
}

/// An error that refuses a whole request before it runs (from an extension, where no
/// resolver context exists), with the same extensions as every other error.
pub fn request_error(
    message: String,
    code: &str,
    name: &str,
    reason: &str,
    info: Option<serde_json::Value>,
) -> async_graphql::ServerError {
    let mut e = async_graphql::ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    ext.set("errorName", name);
    ext.set("reason", reason);
    if let Some(info) = info {
        ext.set("info", async_graphql::Value::from_json(info).unwrap_or_default());
    }
    e.extensions = Some(ext);
    e
}
