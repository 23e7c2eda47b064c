//! `POST /oauth2/token` (client credentials), `/oauth2/introspect`, `/oauth2/revoke`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::client_auth::{Form, authenticate, identify, uses_basic};
use super::errors::{no_store, oauth_error};
use crate::service::Actor;
use crate::service::tokens::OAuthError;
use crate::state::{AppState, Peer};

fn form_body(headers: &HeaderMap, body: &Bytes) -> Result<Form, OAuthError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
    }
    Form::parse(body)
}

fn actor(peer: &Peer, headers: &HeaderMap) -> Actor {
    Actor {
        subject: None,
        ip: Some(peer.0.ip().to_string()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        client_id: None,
    }
}

/// The token endpoint.
pub async fn token(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let basic = uses_basic(&headers);
    let result = async {
        let form = form_body(&headers, &body)?;
        let grant =
            form.one("grant_type")?.ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?;
        if grant == "refresh_token" {
            let app = identify(&state.services, &headers, &form).await?;
            if !app.grant_types.iter().any(|g| g == "refresh_token") {
                return Err(OAuthError::UnauthorizedClient("this client may not use the refresh_token grant".into()));
            }
            let token = form
                .one("refresh_token")?
                .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
            let t = state.services.refresh(&app, &token, &actor(&peer, &headers)).await?;
            return Ok(json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "refresh_token": t.refresh_token,
                "scope": t.scope,
            }));
        }
        if grant == "authorization_code" {
            let app = identify(&state.services, &headers, &form).await?;
            if !app.grant_types.iter().any(|g| g == "authorization_code") {
                return Err(OAuthError::UnauthorizedClient(
                    "this client may not use the authorization_code grant".into(),
                ));
            }
            let code = form.one("code")?.ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
            let t = state
                .services
                .exchange_code(
                    &app,
                    &code,
                    form.one("redirect_uri")?.as_deref(),
                    form.one("code_verifier")?.as_deref(),
                    &actor(&peer, &headers),
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
            return Ok(body);
        }
        if grant != "client_credentials" {
            return Err(OAuthError::UnsupportedGrantType(format!("the grant type `{grant}` is not supported")));
        }
        let app = authenticate(&state.services, &headers, &form).await?;
        let scope = form.one("scope")?;
        let issued = state
            .services
            .client_credentials(&app, &form.all("resource"), scope.as_deref(), actor(&peer, &headers))
            .await?;
        Ok(json!({
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }))
    }
    .await;
    match result {
        Ok(body) => no_store(StatusCode::OK, body),
        Err(e) => oauth_error(e, basic),
    }
}

/// RFC 7662 introspection; the caller authenticates as a client and sees its own tokens
/// (or every token, if its application may introspect all tokens).
pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = uses_basic(&headers);
    let result = async {
        let form = form_body(&headers, &body)?;
        let caller = authenticate(&state.services, &headers, &form).await?;
        let token = form.one("token")?.ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
        Ok(match state.services.introspect(&caller, &token).await? {
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
        state.services.revoke(&token, client.as_deref(), &actor(&peer, &headers)).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK, json!({})),
        Err(e) => oauth_error(e, basic),
    }
}
