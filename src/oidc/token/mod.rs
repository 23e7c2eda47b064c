//! `POST /oauth2/token`: reads the form, picks the grant from `grant_type`, and hands the
//! request to that grant's module (one per grant); each answers with its token response
//! or an OAuth error (RFC 6749 §5.2). The form reading and the actor are shared with
//! introspection and revocation.

mod anonymous_request;
mod authorization_code;
mod biometric_request;
mod client_credentials;
mod device_info;
mod refresh_token;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::client_auth::{Form, identify, uses_basic};
use super::errors::{no_store, oauth_error};
use crate::domain::text::quoted;
use crate::service::admin::applications::Application;
use crate::service::oauth::anonymous_request::GRANT_TYPE as ANONYMOUS_GRANT;
use crate::service::oauth::biometric_request::GRANT_TYPE as BIOMETRIC_GRANT;
use crate::service::oauth::error::OAuthError;
use crate::service::{Actor, TriggeredBy};
use crate::state::{AppState, Peer};

/// The form body of a request to the token, introspection or revocation endpoint.
pub(super) fn form_body(headers: &HeaderMap, body: &Bytes) -> Result<Form, OAuthError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
    }
    Form::parse(body)
}

/// Who is calling, for the audit log and sessions.
pub(super) fn actor(peer: &Peer, headers: &HeaderMap) -> Actor {
    Actor {
        subject: None,
        ip: Some(peer.0.ip().to_string()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        client_id: None,
        triggered_by: TriggeredBy::User,
    }
}

/// A grant type the token endpoint serves, as `grant_type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// `authorization_code` (with PKCE): [`authorization_code`].
    AuthorizationCode,
    /// `refresh_token` (rotation with reuse detection): [`refresh_token`].
    RefreshToken,
    /// `client_credentials` (RFC 9068 access tokens for a resource): [`client_credentials`].
    ClientCredentials,
    /// Authgear's anonymous-request grant (a device-signed JWT): [`anonymous_request`].
    AnonymousRequest,
    /// Authgear's biometric-request grant (setup or sign-in with a device key):
    /// [`biometric_request`].
    BiometricRequest,
}

impl Grant {
    /// The grant named by `grant_type`; any other is `unsupported_grant_type`.
    fn parse(grant_type: &str) -> Result<Self, OAuthError> {
        match grant_type {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            ANONYMOUS_GRANT => Ok(Self::AnonymousRequest),
            BIOMETRIC_GRANT => Ok(Self::BiometricRequest),
            other => {
                Err(OAuthError::UnsupportedGrantType(format!("the grant type {} is not supported", quoted(other))))
            }
        }
    }

    /// The `grant_type` value, as an application's allowed grant types list it.
    fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::AnonymousRequest => ANONYMOUS_GRANT,
            Self::BiometricRequest => BIOMETRIC_GRANT,
        }
    }
}

/// A request to the token endpoint, as every grant reads it.
struct TokenRequest<'a> {
    state: &'a AppState,
    peer: &'a Peer,
    headers: &'a HeaderMap,
    form: Form,
}

impl TokenRequest<'_> {
    /// The client, identified as [`identify`] does (public clients by `client_id`); for a
    /// grant whose use the service decides (anonymous request).
    async fn client(&self) -> Result<Application, OAuthError> {
        identify(&self.state.services, self.headers, &self.form).await
    }

    /// The client, identified as [`identify`] does (public clients by `client_id`), that
    /// must be allowed to use `grant`.
    async fn client_allowed(&self, grant: Grant) -> Result<Application, OAuthError> {
        let app = self.client().await?;
        if !app.grant_types.iter().any(|g| g == grant.as_str()) {
            return Err(OAuthError::UnauthorizedClient(format!(
                "this client may not use the {} grant",
                grant.as_str()
            )));
        }
        Ok(app)
    }

    /// The caller, for the audit log and sessions.
    fn actor(&self) -> Actor {
        actor(self.peer, self.headers)
    }
}

/// The `alg` in the header of a JWT this server just signed (for the metrics).
fn jwt_alg(jwt: &str) -> Option<String> {
    let header = crate::crypto::b64_decode(jwt.split('.').next()?)?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    Some(header["alg"].as_str()?.to_owned())
}

/// The token endpoint.
pub async fn token(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let basic = uses_basic(&headers);
    let result = async {
        let form = form_body(&headers, &body)?;
        let grant_type =
            form.one("grant_type")?.ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?;
        let grant = Grant::parse(&grant_type)?;
        let request = TokenRequest { state: &state, peer: &peer, headers: &headers, form };
        let body = match grant {
            Grant::AuthorizationCode => authorization_code::exchange(&request).await,
            Grant::RefreshToken => refresh_token::exchange(&request).await,
            Grant::ClientCredentials => client_credentials::exchange(&request).await,
            Grant::AnonymousRequest => anonymous_request::exchange(&request).await,
            Grant::BiometricRequest => biometric_request::exchange(&request).await,
        }?;
        Ok((grant, body))
    }
    .await;
    match result {
        Ok((grant, body)) => {
            let telemetry = state.services.telemetry();
            if telemetry.is_enabled() {
                let alg = body["access_token"].as_str().and_then(jwt_alg).unwrap_or_else(|| "none".into());
                telemetry.token_issued(grant.as_str(), &alg);
            }
            no_store(StatusCode::OK, body)
        }
        Err(e) => oauth_error(e, basic),
    }
}
