//! `/.well-known/*` metadata (RFC 8414, OpenID Connect Discovery) and the JWKS. Both list
//! only what exists.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::crypto::jwt::ALGORITHMS;
use crate::domain::scope::AdminScope;
use crate::service::oauth::authorize::FULL_ACCESS;
use crate::service::oauth::authorize::FULL_USERINFO;
use crate::service::oauth::authorize::USER_SCOPES;
use crate::state::AppState;

/// The authorization server metadata.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = state.services.config().public_url();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let mut scopes: Vec<&str> = USER_SCOPES.to_vec();
    scopes.extend_from_slice(&[FULL_ACCESS, FULL_USERINFO]);
    scopes.extend(AdminScope::ALL.map(AdminScope::as_str));
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "end_session_endpoint": format!("{issuer}/oauth2/end_session"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ALGORITHMS,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": crate::service::oauth::claims::supported_claims(),
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": scopes,
        "access_token_signing_alg_values_supported": ALGORITHMS,
        "authorization_response_iss_parameter_supported": true,
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
