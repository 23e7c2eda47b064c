//! Authgear's biometric-request grant
//! (`urn:authgear:params:oauth:grant-type:biometric-request`): the JWT's `action` picks
//! `setup` (with the signed-in user's access token in `Authorization: Bearer`; answers
//! `{}`) or `authenticate` (answers tokens). Whether the client may use it depends on
//! `biometric.enabled` and its application type, not on its `grant_types` list.

use serde_json::{Value, json};

use super::TokenRequest;
use super::device_info::device_info;
use crate::crypto::device_jwt::unverified_action;
use crate::service::oauth::error::OAuthError;

/// The token response for the JWT in `request`.
pub(super) async fn exchange(request: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let app = request.client().await?;
    let jwt = request.form.one("jwt")?.ok_or_else(|| OAuthError::InvalidRequest("jwt is required".into()))?;
    let oauth = request.state.services.oauth();
    match unverified_action(&jwt).as_deref() {
        Some("setup") => {
            let bearer = crate::state::bearer_token(request.headers);
            oauth.biometric_setup(&app, &jwt, bearer, &request.actor()).await?;
            Ok(json!({}))
        }
        Some("authenticate") => {
            let scope = request.form.one("scope")?;
            let info = device_info(request)?;
            let t = oauth.biometric_authenticate(&app, &jwt, scope.as_deref(), info, &request.actor()).await?;
            let mut body = json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "refresh_token": t.refresh_token,
                "scope": t.scope,
            });
            if let Some(id) = t.id_token {
                body["id_token"] = json!(id);
            }
            Ok(body)
        }
        other => Err(OAuthError::InvalidRequest(format!(
            "invalid action: {}; use `setup` or `authenticate`",
            other.unwrap_or("none")
        ))),
    }
}
