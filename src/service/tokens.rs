//! The OAuth token service: client-credentials access tokens (RFC 6749 §4.4 with RFC 8707
//! resources and RFC 9068 JWTs), introspection (RFC 7662) and revocation (RFC 7009).

use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use super::keys::AccessClaims;
use super::types::{Application, micros, now};
use super::{Actor, Audit, Error, Services, audit};
use crate::domain::oauth::AppType;
use entity::revoked_token;

/// An OAuth error (RFC 6749 §5.2, RFC 8707 §2).
#[derive(Debug)]
pub enum OAuthError {
    /// `invalid_request`.
    InvalidRequest(String),
    /// `invalid_client`.
    InvalidClient(String),
    /// `unauthorized_client`.
    UnauthorizedClient(String),
    /// `unsupported_grant_type`.
    UnsupportedGrantType(String),
    /// `invalid_scope`.
    InvalidScope(String),
    /// `invalid_target`.
    InvalidTarget(String),
    /// `invalid_grant`.
    InvalidGrant(String),
    /// A server failure (logged, shown as `server_error`).
    Server(Error),
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        Self::Server(e)
    }
}

impl From<sea_orm::DbErr> for OAuthError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Server(e.into())
    }
}

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

impl Services {
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

    /// RFC 7662: the claims of a live access token of this server, or `None` (expired,
    /// revoked, unknown, malformed, or signed by a retired key). `caller` sees only tokens
    /// issued to itself (their `client_id` is its own) unless it may introspect all tokens;
    /// another client's token is `None`, so nothing about it is revealed.
    pub async fn introspect(&self, caller: &Application, token: &str) -> Result<Option<Value>, OAuthError> {
        self.learn_kid(token).await;
        let Ok(claims) = self.keys.verify::<Value>(token, &self.config.public_url(), None) else {
            return Ok(None);
        };
        let own = claims.get("client_id").and_then(Value::as_str) == Some(caller.client_id.as_str());
        if !own && !caller.can_introspect_all_tokens {
            return Ok(None);
        }
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
        if self.is_revoked(jti).await? {
            return Ok(None);
        }
        // The token's client was deleted: its tokens are dead.
        if self.client_deleted(claims.get("client_id").and_then(Value::as_str)).await? {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// RFC 7009: revokes an access token or a refresh token; unknown or invalid tokens are
    /// ignored. `client_id` is the identified client: a token of another client is refused.
    /// Without a client (Authgear's SDKs log out by posting only the refresh token), only
    /// refresh tokens can be revoked: whoever holds one may end its grant.
    pub async fn revoke(&self, token: &str, client_id: Option<&str>, actor: &Actor) -> Result<(), OAuthError> {
        self.learn_kid(token).await;
        let Ok(claims) = self.keys.verify::<AccessClaims>(token, &self.config.public_url(), None) else {
            return self.revoke_refresh_token(token, client_id, actor).await;
        };
        let Some(client_id) = client_id else {
            return Err(OAuthError::InvalidClient("revoking an access token needs client authentication".into()));
        };
        if claims.client_id.as_deref() != Some(client_id) {
            return Err(OAuthError::UnauthorizedClient("this token was issued to another client".into()));
        }
        let stmt = Query::insert()
            .into_table("revoked_tokens")
            .columns(["jti", "client_id", "expires_at", "revoked_at"])
            .values([
                claims.jti.clone().into(),
                client_id.into(),
                (claims.exp.saturating_mul(1_000_000)).into(),
                micros(now()).into(),
            ])
            .map_err(Error::internal)?
            .on_conflict(OnConflict::column("jti").do_nothing().to_owned())
            .to_owned();
        self.db.conn.execute(&stmt).await?;
        Ok(())
    }

    /// Ends the refresh-token grant a refresh token belongs to.
    async fn revoke_refresh_token(
        &self,
        token: &str,
        client_id: Option<&str>,
        actor: &Actor,
    ) -> Result<(), OAuthError> {
        use entity::{refresh_token, session};
        let digest = crate::crypto::sha256(token.as_bytes()).to_vec();
        let Some((_, Some(sess))) = refresh_token::Entity::find()
            .find_also_related(session::Entity)
            .filter(Expr::col((refresh_token::Entity, refresh_token::Column::TokenHash)).eq(digest))
            .one(&self.db.conn)
            .await?
        else {
            return Ok(());
        };
        if client_id.is_some_and(|c| sess.client_id.as_deref() != Some(c)) {
            return Err(OAuthError::UnauthorizedClient("this token was issued to another client".into()));
        }
        if sess.revoked_at.is_some() {
            return Ok(());
        }
        let txn = self.db.begin_write().await?;
        super::session_end::end_sessions(&txn, super::session_end::session(sess.id), micros(now())).await?;
        let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
        let payload = json!({"session_id": sess.id, "client_id": sess.client_id, "reason": "token_revoked"});
        audit::record(&txn, &audit, Some(sess.user_id), payload).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether the access token with this `jti` was revoked.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, Error> {
        Ok(revoked_token::Entity::find_by_id(jti.to_owned()).one(&self.db.conn).await?.is_some())
    }
}
