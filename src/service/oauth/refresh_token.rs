//! The refresh-token grant: rotation on every use, reuse detection (a rotated token
//! presented again revokes its whole grant), idle and absolute timeouts, and the user
//! access tokens it mints with Authgear's claims.

use crate::crypto::{b64, random_bytes, sha256};
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::users::User;
use crate::service::oauth::error::OAuthError;
use crate::service::store::grant_row::token_session_user;
use crate::service::store::refresh_batch::{Outcome, Rotation};
use crate::service::store::refresh_claim::{Claim, TOUCH_EVERY_US};
use crate::service::store::session_end;
use crate::service::store::session_end::end_sessions;
use crate::service::store::time::{micros, now, strings};
use crate::service::{Actor, Audit, Result};
use entity::{refresh_token, session};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Tokens for a user.
#[derive(Debug, Clone)]
pub struct UserTokens {
    /// The access token (RFC 9068 JWT).
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

fn new_refresh_token() -> (String, Vec<u8>) {
    let token = b64(random_bytes::<32>());
    let hash = sha256(token.as_bytes()).to_vec();
    (token, hash)
}

pub(in crate::service) async fn insert_refresh_token(
    conn: &impl ConnectionTrait,
    session_id: Uuid,
    t: i64,
) -> Result<String> {
    let (token, hash) = new_refresh_token();
    let row = refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session_id),
        token_hash: Set(hash),
        created_at: Set(t),
        rotated_at: Set(None),
    };
    refresh_token::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(token)
}

pub(in crate::service) fn live(s: &session::Model, app: &Application, t: i64) -> bool {
    s.revoked_at.is_none()
        && s.expires_at > t
        && s.last_accessed_at + app.refresh_token_idle_timeout.saturating_mul(1_000_000) > t
}

impl OAuth<'_> {
    /// An access token for `user` and `app`: RFC 9068 with Authgear's user claims.
    pub(in crate::service) async fn user_access_token(
        &self,
        user: &User,
        app: &Application,
        session_id: Uuid,
        auth_time: i64,
        scopes: &[String],
    ) -> Result<String> {
        let authgear = self.authgear_claims(user).await?;
        let jti = Uuid::now_v7().to_string();
        self.sign_access_token(user, app, session_id, auth_time, &[], scopes, &authgear, &jti).await
    }

    /// The `refresh_token` grant: rotates the token (unless the application turned rotation
    /// off) and returns new tokens. A token that was already rotated, presented again after
    /// the grace window, revokes the whole grant (reuse detection).
    pub async fn refresh(&self, app: &Application, token: &str, actor: &Actor) -> Result<UserTokens, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let digest = sha256(token.as_bytes()).to_vec();
        // PostgreSQL, the common case: one statement for a batch of refreshes reads, checks
        // and rotates; what it does not claim takes the general path below.
        if app.refresh_token_rotation
            && let Some(claims) = self.refresh_batch.claims()
        {
            let (refresh, hash) = new_refresh_token();
            let claim = Claim {
                digest: digest.clone(),
                client_id: app.client_id.clone(),
                idle_timeout: app.refresh_token_idle_timeout,
                new_id: Uuid::now_v7(),
                new_hash: hash,
                ip: actor.ip.clone(),
            };
            if let Some((_, sess, user_row, roles)) = claims.claim(claim).await? {
                let user = User::from(user_row);
                // The statement applied this rule too; it is checked here where it is defined.
                if user.is_disabled_at(OffsetDateTime::now_utc()) || user.is_deactivated {
                    return Err(invalid("the user is disabled"));
                }
                return self.tokens_of_grant(app, &sess, &user, roles, refresh).await;
            }
        }
        // Reads first, outside the write transaction; the writes below are conditional,
        // so a concurrent revocation or rotation is still noticed.
        // The token with its session and user in one round trip.
        let Some((rt, sess, user_row, roles)) = token_session_user(&self.db.reader(), digest).await? else {
            return Err(invalid("unknown refresh token"));
        };
        if sess.client_id.as_deref() != Some(app.client_id.as_str()) {
            return Err(invalid("this refresh token belongs to another client"));
        }
        let t = micros(now());
        if let Some(rotated) = rt.rotated_at
            && t - rotated >= self.config.oauth.refresh_token_reuse_grace_seconds.saturating_mul(1_000_000)
        {
            self.write(async |tx| {
                end_sessions(tx.conn(), session_end::session(sess.id), t).await?;
                let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
                let payload = json!({"session_id": sess.id, "reason": "refresh_token_reuse"});
                tx.record(&audit, Some(sess.user_id), payload).await
            })
            .await?;
            return Err(invalid("this refresh token was already used; the grant is revoked"));
        }
        if !live(&sess, app, t) {
            return Err(invalid("the grant has expired or was revoked"));
        }
        let user = User::from(user_row);
        if user.is_disabled_at(OffsetDateTime::now_utc()) || user.is_deactivated {
            return Err(invalid("the user is disabled"));
        }
        // One conditional write, group-committed with concurrent refreshes.
        let touch = (t - sess.last_accessed_at > TOUCH_EVERY_US).then(|| (t, actor.ip.clone()));
        let (refresh, new_token) = if app.refresh_token_rotation {
            let (token, hash) = new_refresh_token();
            let row = refresh_token::ActiveModel {
                id: Set(Uuid::now_v7()),
                session_id: Set(sess.id),
                token_hash: Set(hash),
                created_at: Set(t),
                rotated_at: Set(None),
            };
            (token, Some(row))
        } else {
            (token.to_owned(), None)
        };
        let rotation = Rotation {
            session_id: sess.id,
            old_token_id: rt.id,
            first_use: rt.rotated_at.is_none(),
            new_token,
            touch,
            at: t,
        };
        if self.refresh_batch.rotate(rotation).await? == Outcome::Refused {
            return Err(invalid("the grant was revoked"));
        }
        self.tokens_of_grant(app, &sess, &user, roles, refresh).await
    }

    /// The tokens of a refresh that was written: a new access token for the grant's user,
    /// and `refresh`, the grant's refresh token from now on.
    async fn tokens_of_grant(
        &self,
        app: &Application,
        sess: &session::Model,
        user: &User,
        roles: Vec<String>,
        refresh: String,
    ) -> Result<UserTokens, OAuthError> {
        let scopes = strings(&sess.scopes);
        let authgear = crate::service::oauth::claims::authgear_claims_with(user, roles);
        let jti = Uuid::now_v7().to_string();
        let access = self
            .sign_access_token(user, app, sess.id, sess.auth_time, &strings(&sess.amr), &scopes, &authgear, &jti)
            .await?;
        Ok(UserTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
    }
}
