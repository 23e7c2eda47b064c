//! The client-credentials grant: an M2M application gets an RFC 9068 JWT for the
//! resources and scopes it is granted. The audit row goes through group commit.

use crate::domain::oauth::AppType;
use crate::domain::text::quoted;
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::signing_keys::AccessClaims;
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::now;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error};
use serde_json::json;
use uuid::Uuid;

/// An issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

impl OAuth<'_> {
    /// Issues a client-credentials access token for one resource linked to `app`, with
    /// the requested scopes (default: every scope granted on that resource). The audit row
    /// is committed (group commit) before this returns.
    pub async fn client_credentials(
        &self,
        app: &Application,
        resources: &[String],
        scope: Option<&str>,
        actor: Actor,
    ) -> Result<IssuedToken, OAuthError> {
        if !app.grant_types.iter().any(|g| g == "client_credentials")
            || !app.kind.has_secret()
            || app.kind == AppType::Spa
        {
            return Err(OAuthError::UnauthorizedClient("this client may not use the client_credentials grant".into()));
        }
        let uri = match resources {
            [one] => one,
            [] => return Err(OAuthError::InvalidTarget("the resource parameter is required".into())),
            _ => return Err(OAuthError::InvalidTarget("request a token for exactly one resource".into())),
        };
        let Some(granted) = self.applications().granted_scopes(app, uri).await? else {
            return Err(OAuthError::InvalidTarget(format!(
                "{} is unknown or this client may not get tokens for it",
                quoted(uri)
            )));
        };
        let scopes: Vec<String> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => granted.to_vec(),
            Some(requested) => {
                let requested: Vec<String> =
                    requested.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                if let Some(bad) = requested.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthError::InvalidScope(format!(
                        "the scope {} is not granted to this client on {}",
                        quoted(bad),
                        quoted(uri)
                    )));
                }
                let mut unique = requested;
                unique.dedup();
                unique
            }
        };
        let key = self.signing_key(&app.access_token_alg).map_err(OAuthError::Server)?;
        let iat = now().unix_timestamp();
        let claims = AccessClaims {
            iss: self.config.public_url(),
            sub: app.client_id.clone(),
            aud: uri.clone(),
            scope: scopes.join(" "),
            iat,
            exp: iat + app.access_token_lifetime,
            jti: Uuid::now_v7().to_string(),
            client_id: Some(app.client_id.clone()),
        };
        let token = key.sign("at+jwt", &claims).map_err(Error::from)?;
        let audit = Audit {
            actor: Actor { subject: Some(app.client_id.clone()), client_id: Some(app.client_id.clone()), ..actor },
            activity: "m2m.token.created".into(),
        };
        let payload = json!({"client_id": app.client_id, "resource": uri, "scopes": scopes, "jti": claims.jti});
        self.audit_batch.record(audit::row(&audit, None, payload, now())).await?;
        Ok(IssuedToken { access_token: token, expires_in: app.access_token_lifetime, scope: claims.scope })
    }
}
