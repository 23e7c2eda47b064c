//! OAuth error responses (RFC 6749 §5.2): JSON, `Cache-Control: no-store`, and a
//! `WWW-Authenticate` challenge for `invalid_client` when the client used Basic.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::oauth::error::OAuthError;

/// JSON with the no-store headers every token endpoint response carries.
pub fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// Maps an OAuth error to its response; `basic` says the client authenticated with HTTP Basic.
pub fn oauth_error(e: OAuthError, basic: bool) -> Response {
    let (status, code, description) = match e {
        OAuthError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
        OAuthError::InvalidClient(d) => (StatusCode::UNAUTHORIZED, "invalid_client", d),
        OAuthError::UnauthorizedClient(d) => (StatusCode::BAD_REQUEST, "unauthorized_client", d),
        OAuthError::UnsupportedGrantType(d) => (StatusCode::BAD_REQUEST, "unsupported_grant_type", d),
        OAuthError::InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", d),
        OAuthError::InvalidTarget(d) => (StatusCode::BAD_REQUEST, "invalid_target", d),
        OAuthError::InvalidGrant(d) => (StatusCode::BAD_REQUEST, "invalid_grant", d),
        OAuthError::NotSignedIn(d) => (StatusCode::UNAUTHORIZED, "invalid_grant", d),
        OAuthError::TooManyRequests(d) => (StatusCode::TOO_MANY_REQUESTS, "invalid_request", d),
        OAuthError::Server(crate::service::Error::Hook(h)) => {
            let code = match *h {
                crate::service::HookFailure::Disallowed { .. } => "access_denied",
                _ => "server_error",
            };
            let status =
                if code == "access_denied" { StatusCode::FORBIDDEN } else { StatusCode::INTERNAL_SERVER_ERROR };
            tracing::info!(reason = h.reason(), detail = %h.message(), "a blocking hook stopped a token request");
            (status, code, h.message())
        }
        OAuthError::Server(e) => {
            tracing::error!(cause = %e.describe(), "token endpoint failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the server failed; try again".to_owned())
        }
    };
    let mut res = no_store(status, json!({"error": code, "error_description": description}));
    if code == "invalid_client" && basic {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"authgraph\""));
    }
    res
}
