//! `POST /oauth2/introspect` (RFC 7662).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::client_auth::{authenticate, uses_basic};
use super::errors::{no_store, oauth_error};
use super::token::form_body;
use crate::service::oauth::error::OAuthError;
use crate::state::AppState;

/// RFC 7662 introspection; the caller authenticates as a client and sees its own tokens
/// (or every token, if its application may introspect all tokens).
pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = uses_basic(&headers);
    let result = async {
        let form = form_body(&headers, &body)?;
        let caller = authenticate(&state.services, &headers, &form).await?;
        let token = form.one("token")?.ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
        Ok(match state.services.oauth().introspect(&caller, &token).await? {
            Some(Value::Object(mut claims)) => {
                claims.insert("active".into(), Value::Bool(true));
                claims.insert("token_type".into(), Value::String("Bearer".into()));
                Value::Object(claims)
            }
            _ => json!({"active": false}),
        })
    }
    .await;
    match result {
        Ok(body) => no_store(StatusCode::OK, body),
        Err(e) => oauth_error(e, basic),
    }
}
