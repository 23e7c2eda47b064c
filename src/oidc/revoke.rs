//! `POST /oauth2/revoke` (RFC 7009).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth::{identify, uses_basic};
use super::errors::{no_store, oauth_error};
use super::token::{actor, form_body};
use crate::service::oauth::error::OAuthError;
use crate::state::{AppState, Peer};

/// RFC 7009 revocation. Confidential clients authenticate and public clients send their
/// `client_id`; a request with neither may revoke a refresh token (Authgear's SDKs log
/// out that way).
pub async fn revoke(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let basic = uses_basic(&headers);
    let result = async {
        let form = form_body(&headers, &body)?;
        let anonymous = !basic && form.one("client_id")?.is_none() && form.one("client_secret")?.is_none();
        let client = if anonymous { None } else { Some(identify(&state.services, &headers, &form).await?.client_id) };
        let token = form.one("token")?.ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
        state.services.oauth().revoke(&token, client.as_deref(), &actor(&peer, &headers)).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK, json!({})),
        Err(e) => oauth_error(e, basic),
    }
}
