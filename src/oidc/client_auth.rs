//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic` (with RFC 6749 §2.3.1 URL-decoding) or `client_secret_post`.

use axum::http::{HeaderMap, header};
use base64::Engine;

use crate::domain::text::quoted;
use crate::service::Services;
use crate::service::admin::applications::Application;
use crate::service::oauth::error::OAuthError;

/// A parsed `application/x-www-form-urlencoded` body; parameters may repeat.
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses a form body; a parameter holding NUL is `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        super::parse_params(body).map(Self).map_err(|e| OAuthError::InvalidRequest(e.describe()))
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// The one value of `name`; a repeated parameter is `invalid_request` (RFC 6749 §3.2).
    pub fn one(&self, name: &str) -> Result<Option<String>, OAuthError> {
        let mut values = self.all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(OAuthError::InvalidRequest(format!("the parameter {} must not repeat", quoted(name)))),
        }
    }
}

/// Whether the request carries HTTP Basic credentials.
pub fn uses_basic(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "))
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    if !uses_basic(headers) {
        return Ok(None);
    }
    let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(bad)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value[6..].trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    let decode = |s: &str| -> Result<String, OAuthError> {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).ok_or_else(bad)
    };
    let (id, secret) = (decode(id)?, decode(secret)?);
    // Decoding can yield NUL, which no client ID or secret holds.
    super::ForbiddenChar::check("client_id", &id).map_err(|e| OAuthError::InvalidRequest(e.describe()))?;
    super::ForbiddenChar::check("client_secret", &secret).map_err(|e| OAuthError::InvalidRequest(e.describe()))?;
    Ok(Some((id, secret)))
}

/// Identifies the client: public clients (SPA, native) by `client_id` alone, every other
/// client by its secret (see [`authenticate`]).
pub async fn identify(services: &Services, headers: &HeaderMap, form: &Form) -> Result<Application, OAuthError> {
    if !uses_basic(headers)
        && form.one("client_secret")?.is_none()
        && let Some(id) = form.one("client_id")?
    {
        return match services.applications().cached(&id).await? {
            Some(app) if !app.kind.has_secret() => Ok(app),
            Some(_) => Err(OAuthError::InvalidClient("this client must authenticate with its secret".into())),
            None => Err(OAuthError::InvalidClient("unknown client".into())),
        };
    }
    authenticate(services, headers, form).await
}

/// Authenticates the client by Basic or by `client_id`/`client_secret` in the body
/// (never both). Unknown clients and wrong secrets get the same `invalid_client`.
pub async fn authenticate(services: &Services, headers: &HeaderMap, form: &Form) -> Result<Application, OAuthError> {
    let basic = basic_credentials(headers)?;
    let post_id = form.one("client_id")?;
    let post_secret = form.one("client_secret")?;
    let (id, secret) = match (basic, post_id, post_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::InvalidRequest("use one client authentication method, not two".into()));
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::InvalidRequest("client_id does not match the Basic credentials".into()));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id, secret),
        (None, Some(_), None) => {
            return Err(OAuthError::InvalidClient("this endpoint needs client authentication".into()));
        }
        (None, None, _) => return Err(OAuthError::InvalidClient("client authentication is required".into())),
    };
    services
        .applications()
        .authenticate_client(&id, &secret)
        .await?
        .ok_or_else(|| OAuthError::InvalidClient("unknown client or wrong secret".into()))
}
