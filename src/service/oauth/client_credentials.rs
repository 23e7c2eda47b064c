//! The client-credentials grant: an M2M application gets an RFC 9068 JWT for the
//! resources and scopes it is granted. The audit row goes through group commit.

use crate::domain::oauth::AppType;
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::signing_keys::AccessClaims;
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::now;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
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
        // One round trip: the resource if it is linked to the client, with the scopes
        // granted on it (a NULL scope row when none is granted).
        let granted_ids = Query::select()
            .column("scope_id")
            .from("client_scopes")
            .and_where(Expr::col("application_id").eq(app.id))
            .to_owned();
        let q = Query::select()
            .column(("resources", "id"))
            .column(("resource_scopes", "scope"))
            .from("resources")
            .inner_join(
                "client_resources",
                Condition::all()
                    .add(Expr::col(("client_resources", "resource_id")).equals(("resources", "id")))
                    .add(Expr::col(("client_resources", "application_id")).eq(app.id)),
            )
            .left_join(
                "resource_scopes",
                Condition::all()
                    .add(Expr::col(("resource_scopes", "resource_id")).equals(("resources", "id")))
                    .add(Expr::col(("resource_scopes", "id")).in_subquery(granted_ids)),
            )
            .and_where(Expr::col(("resources", "uri")).eq(uri.as_str()))
            .to_owned();
        let rows = self.db.conn.query_all(&q).await?;
        if rows.is_empty() {
            return Err(OAuthError::InvalidTarget(format!(
                "`{uri}` is unknown or this client may not get tokens for it"
            )));
        }
        let mut granted = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(s) = row.try_get::<Option<String>>("", "scope")? {
                granted.push(s);
            }
        }
        let scopes: Vec<String> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => granted.clone(),
            Some(requested) => {
                let requested: Vec<String> =
                    requested.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                if let Some(bad) = requested.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthError::InvalidScope(format!(
                        "the scope `{bad}` is not granted to this client on `{uri}`"
                    )));
                }
                let mut unique = requested;
                unique.dedup();
                unique
            }
        };
        let key = self
            .keys
            .active(&app.access_token_alg)
            .or_else(|| self.keys.active("RS256"))
            .ok_or_else(|| OAuthError::Server(Error::internal("no active signing key")))?;
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
