//! The OAuth token service: client-credentials access tokens (RFC 6749 §4.4 with RFC 8707
//! resources and RFC 9068 JWTs), introspection (RFC 7662) and revocation (RFC 7009).

use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::signing_keys::AccessClaims;
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error};
use entity::revoked_token;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

impl OAuth<'_> {
    /// RFC 7662: the claims of a live access token of this server, or `None` (expired,
    /// revoked, unknown, malformed, or signed by a retired key). `caller` sees only tokens
    /// issued to itself (their `client_id` is its own) unless it may introspect all tokens;
    /// another client's token is `None`, so nothing about it is revealed.
    pub async fn introspect(&self, caller: &Application, token: &str) -> Result<Option<Value>, OAuthError> {
        self.signing_keys().learn_kid(token).await;
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
        if self.applications().client_deleted(claims.get("client_id").and_then(Value::as_str)).await? {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// RFC 7009: revokes an access token or a refresh token; unknown or invalid tokens are
    /// ignored. `client_id` is the identified client: a token of another client is refused.
    /// Without a client (Authgear's SDKs log out by posting only the refresh token), only
    /// refresh tokens can be revoked: whoever holds one may end its grant.
    pub async fn revoke(&self, token: &str, client_id: Option<&str>, actor: &Actor) -> Result<(), OAuthError> {
        self.signing_keys().learn_kid(token).await;
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
        // Idempotent, with the bump that tells every process's cache of checked tokens.
        self.write_unaudited(async |tx| -> Result<(), Error> {
            tx.conn().execute(&stmt).await?;
            crate::service::store::changes::bump(tx.conn(), crate::service::store::changes::Area::RevokedTokens).await
        })
        .await?;
        self.generations.revoked_here();
        Ok(())
    }

    /// Ends the refresh-token grant a refresh token belongs to.
    async fn revoke_refresh_token(
        &self,
        token: &str,
        client_id: Option<&str>,
        actor: &Actor,
    ) -> Result<(), OAuthError> {
        let Some(((sess, _, _), _)) = self.grant_of_refresh_token(token).await? else {
            return Ok(());
        };
        if client_id.is_some_and(|c| sess.client_id.as_deref() != Some(c)) {
            return Err(OAuthError::UnauthorizedClient("this token was issued to another client".into()));
        }
        if sess.revoked_at.is_some() {
            return Ok(());
        }
        self.write(async |tx| {
            let txn = tx.conn();
            crate::service::store::session_end::end_sessions(
                txn,
                crate::service::store::session_end::session(sess.id),
                micros(now()),
            )
            .await?;
            let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
            let payload = json!({"session_id": sess.id, "client_id": sess.client_id, "reason": "token_revoked"});
            tx.record(&audit, Some(sess.user_id), payload).await?;
            Ok(())
        })
        .await
    }

    /// Whether the access token with this `jti` was revoked.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, Error> {
        Ok(revoked_token::Entity::find_by_id(jti.to_owned()).one(&self.db.reader()).await?.is_some())
    }
}
