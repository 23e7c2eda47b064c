//! The anonymous-request grant (`urn:authgear:params:oauth:grant-type:anonymous-request`):
//! a device-signed JWT (`jwt`) signs an anonymous user in, creating the user the first
//! time a key is seen. Whether the client may use it depends on `anonymous.enabled` and
//! its application type, not on its `grant_types` list (see
//! `AppType::allows_anonymous_users`). `x_device_info` is kept on the grant.

use serde_json::{Value, json};

use super::TokenRequest;
use super::device_info::device_info;
use crate::service::oauth::error::OAuthError;

/// The token response for the JWT in `request`.
pub(super) async fn exchange(request: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let app = request.client().await?;
    let jwt = request.form.one("jwt")?.ok_or_else(|| OAuthError::InvalidRequest("jwt is required".into()))?;
    let info = device_info(request)?;
    let t = request.state.services.oauth().anonymous_request(&app, &jwt, info, &request.actor()).await?;
    Ok(json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "id_token": t.id_token.unwrap_or_default(),
        "scope": t.scope,
    }))
}
