//! The `client_credentials` grant: a confidential client authenticates with its secret
//! and gets an RFC 9068 JWT access token for one `resource` (RFC 8707).

use serde_json::{Value, json};

use super::TokenRequest;
use crate::oidc::client_auth::authenticate;
use crate::service::oauth::error::OAuthError;

/// The token response for the client that authenticates in `request`.
pub(super) async fn exchange(request: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let app = authenticate(&request.state.services, request.headers, &request.form).await?;
    let form = &request.form;
    let scope = form.one("scope")?;
    let issued = request
        .state
        .services
        .oauth()
        .client_credentials(&app, &form.all("resource"), scope.as_deref(), request.actor())
        .await?;
    Ok(json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }))
}
