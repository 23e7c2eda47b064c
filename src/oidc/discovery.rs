//! `/.well-known/*` metadata (RFC 8414, OpenID Connect Discovery) and the JWKS. Both list
//! only what exists.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::crypto::jwt::ALGORITHMS;
use crate::http::AppState;

/// The authorization server metadata.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = state.services.config().public_url();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let body = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": ["client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": crate::service::keys::ADMIN_SCOPES,
        "access_token_signing_alg_values_supported": ALGORITHMS,
        "authorization_response_iss_parameter_supported": false,
    });
    let mut res = axum::Json(body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}

/// The JSON Web Key Set: every key that can still verify a live token.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.services.keys().jwks();
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        body.as_str().to_owned(),
    )
        .into_response()
}
