//! The `refresh_token` grant: rotates a refresh token (a replayed one revokes its whole
//! family) and returns a new access token with the new refresh token.

use serde_json::{Value, json};

use super::{Grant, TokenRequest};
use crate::service::oauth::error::OAuthError;

/// The token response for the refresh token in `request`.
pub(super) async fn exchange(request: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let app = request.client_allowed(Grant::RefreshToken).await?;
    let token = request
        .form
        .one("refresh_token")?
        .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
    // Signed on the runtime whose workers take each other's tasks: each HTTP thread
    // serves only its own connections, and a refresh's work is its signature, so one
    // thread's backlog would wait while the other core idles (docs/benchmarks.md,
    // thirtieth session: 7–31 % more refreshes on PostgreSQL).
    let services = request.state.services.clone();
    let actor = request.actor();
    let work = async move { services.oauth().refresh(&app, &token, &actor).await };
    let t = request
        .state
        .services
        .on_shared_workers(work)
        .await
        .ok_or_else(|| OAuthError::Server(crate::service::Error::internal("the refresh task stopped")))??;
    Ok(json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "scope": t.scope,
    }))
}
