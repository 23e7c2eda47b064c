//! The token endpoint's errors (RFC 6749 §5.2), as the OAuth flows return them.

use crate::service::Error;

/// An OAuth error (RFC 6749 §5.2, RFC 8707 §2).
#[derive(Debug)]
pub enum OAuthError {
    /// `invalid_request`.
    InvalidRequest(String),
    /// `invalid_client`.
    InvalidClient(String),
    /// `unauthorized_client`.
    UnauthorizedClient(String),
    /// `unsupported_grant_type`.
    UnsupportedGrantType(String),
    /// `invalid_scope`.
    InvalidScope(String),
    /// `invalid_target`.
    InvalidTarget(String),
    /// `invalid_grant`.
    InvalidGrant(String),
    /// `invalid_grant` with HTTP 401: the grant needs a signed-in user's access token in
    /// the `Authorization` header (biometric setup), and there was none that holds.
    NotSignedIn(String),
    /// A rate limit refused the request: HTTP 429 with `invalid_request`, since RFC 6749
    /// has no code of its own for it.
    TooManyRequests(String),
    /// A server failure (logged, shown as `server_error`).
    Server(Error),
}

impl OAuthError {
    /// The `error_description` (a server failure says only that).
    pub fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::InvalidGrant(d)
            | Self::NotSignedIn(d)
            | Self::TooManyRequests(d) => d.clone(),
            Self::Server(_) => "internal error".into(),
        }
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        Self::Server(e)
    }
}

impl From<sea_orm::DbErr> for OAuthError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Server(e.into())
    }
}
