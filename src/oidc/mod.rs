//! The OAuth 2 / OpenID Connect endpoints: discovery, JWKS, token (client credentials),
//! introspection and revocation. Handlers parse the request, call one service function
//! and map the result; errors follow RFC 6749 §5.2.

mod client_auth;
mod cors;
mod discovery;
mod errors;
mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::http::AppState;

/// The OAuth and OIDC routes, with CORS for the applications' allowed origins.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/introspect", post(token::introspect))
        .route("/oauth2/revoke", post(token::revoke))
        .layer(axum::middleware::from_fn_with_state(state, cors::cors))
}
