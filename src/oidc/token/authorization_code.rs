//! The `authorization_code` grant: exchanges a code from `/oauth2/authorize` (with its
//! PKCE verifier) for an access token, an ID token and, if the client may refresh, a
//! refresh token.

use serde_json::{Value, json};

use super::{Grant, TokenRequest};
use crate::service::oauth::error::OAuthError;

/// The token response for the code in `request`.
pub(super) async fn exchange(request: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let app = request.client_allowed(Grant::AuthorizationCode).await?;
    let form = &request.form;
    let code = form.one("code")?.ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
    let t = request
        .state
        .services
        .oauth()
        .exchange_code(
            &app,
            &code,
            form.one("redirect_uri")?.as_deref(),
            form.one("code_verifier")?.as_deref(),
            &request.actor(),
        )
        .await?;
    let mut body = json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "id_token": t.id_token,
        "scope": t.scope,
    });
    if let Some(r) = t.refresh_token {
        body["refresh_token"] = Value::String(r);
    }
    Ok(body)
}
