//! The refresh-token grant: rotation on every use, reuse detection (a rotated token
//! presented again revokes its whole grant), idle and absolute timeouts, and the user
//! access tokens it mints with Authgear's claims.

use crate::crypto::master_key::MasterKey;
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::users::User;
use crate::service::oauth::error::OAuthError;
use crate::service::oauth::grant_token::{GrantToken, Presented};
use crate::service::store::grant_row::{SessionGrant, session_grant, token_session_user};
use crate::service::store::refresh_batch::{Outcome, Rotation, TokenWrite};
use crate::service::store::refresh_claim::{Claim, TOUCH_EVERY_US};
use crate::service::store::session_end;
use crate::service::store::session_end::end_sessions;
use crate::service::store::time::{micros, now, strings};
use crate::service::{Actor, Audit, Result};
use entity::session;
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

/// The first refresh token of the grant `session_id` (a new grant is at generation 0).
pub(in crate::service) fn first_refresh_token(key: &MasterKey, session_id: Uuid) -> String {
    GrantToken { session_id, generation: 0 }.encode(key)
}

/// What the use of a presented refresh token is, next to its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// The grant's current token.
    Current,
    /// The token the current one replaced, within the grace window: a retry, answered with
    /// the current token.
    Retry,
    /// A replaced token after the grace window (or an older one): the grant is revoked.
    Reuse,
    /// A token this grant never issued (a generation ahead of it).
    Unknown,
}

/// How a grant token of `generation` relates to its grant `sess`, at `t`.
fn use_of_generation(sess: &session::Model, generation: i64, t: i64, grace_us: i64) -> Use {
    let current = sess.refresh_generation;
    if generation == current {
        Use::Current
    } else if generation > current {
        Use::Unknown
    } else if generation == current - 1 && sess.refresh_rotated_at.is_some_and(|r| t - r < grace_us) {
        Use::Retry
    } else {
        Use::Reuse
    }
}

/// How a token issued before grant tokens, rotated at `rotated_at`, relates to its grant.
fn use_of_legacy(rotated_at: Option<i64>, t: i64, grace_us: i64) -> Use {
    match rotated_at {
        None => Use::Current,
        Some(r) if t - r < grace_us => Use::Retry,
        Some(_) => Use::Reuse,
    }
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
    /// the grace window, revokes the whole grant (reuse detection); within the window it is
    /// a retry, answered with the same new token as the use it repeats.
    pub async fn refresh(&self, app: &Application, token: &str, actor: &Actor) -> Result<UserTokens, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let presented = match GrantToken::parse(token, &self.master_key) {
            Presented::Grant(g) => g,
            Presented::Forged => return Err(invalid("unknown refresh token")),
            Presented::Digest(digest) => {
                // A token issued before grant tokens.
                let Some((rt, sess, user, roles)) = token_session_user(&self.db.reader(), digest).await? else {
                    return Err(invalid("unknown refresh token"));
                };
                let t = micros(now());
                let used = use_of_legacy(rt.rotated_at, t, self.grace_us());
                let legacy = Legacy { id: rt.id, token };
                return self.refresh_read(app, (sess, user, roles), used, Some(legacy), t, actor).await;
            }
        };
        // PostgreSQL, the common case: one statement for a batch of refreshes reads, checks
        // and rotates; what it does not claim takes the general path below.
        if app.refresh_token_rotation
            && let Some(claims) = self.refresh_batch.claims()
        {
            let claim = Claim {
                session_id: presented.session_id,
                generation: presented.generation,
                client_id: app.client_id.clone(),
                idle_timeout: app.refresh_token_idle_timeout,
                ip: actor.ip.clone(),
            };
            if let Some((sess, user_row, roles)) = claims.claim(claim).await? {
                let user = User::from(user_row);
                // The statement applied this rule too; it is checked here where it is defined.
                if user.is_disabled_at(OffsetDateTime::now_utc()) || user.is_deactivated {
                    return Err(invalid("the user is disabled"));
                }
                let refresh = self.refresh_token_at(sess.id, presented.generation + 1);
                return self.tokens_of_grant(app, &sess, &user, roles, refresh).await;
            }
        }
        // Read first, outside the write transaction; the writes are conditional, so a
        // concurrent revocation or rotation is still noticed.
        let Some(grant) = session_grant(&self.db, presented.session_id).await? else {
            return Err(invalid("unknown refresh token"));
        };
        let t = micros(now());
        let used = use_of_generation(&grant.0, presented.generation, t, self.grace_us());
        self.refresh_read(app, grant, used, None, t, actor).await
    }

    /// The grant a refresh token names, if the grant issued it, and whether it is the
    /// grant's current token (not replaced by a rotation). Nothing is checked beyond that.
    pub(in crate::service) async fn grant_of_refresh_token(&self, token: &str) -> Result<Option<(SessionGrant, bool)>> {
        Ok(match GrantToken::parse(token, &self.master_key) {
            Presented::Forged => None,
            Presented::Grant(p) => session_grant(&self.db, p.session_id)
                .await?
                .filter(|g| p.generation <= g.0.refresh_generation)
                .map(|g| {
                    let current = p.generation == g.0.refresh_generation;
                    (g, current)
                }),
            Presented::Digest(digest) => token_session_user(&self.db.reader(), digest)
                .await?
                .map(|(rt, sess, user, roles)| ((sess, user, roles), rt.rotated_at.is_none())),
        })
    }

    /// The grace window in micros.
    fn grace_us(&self) -> i64 {
        self.config.oauth.refresh_token_reuse_grace_seconds.saturating_mul(1_000_000)
    }

    /// The grant's token of `generation`.
    fn refresh_token_at(&self, session_id: Uuid, generation: i64) -> String {
        GrantToken { session_id, generation }.encode(&self.master_key)
    }

    /// A refresh of the grant read, `used` as it was: checks it, writes it (group-committed
    /// with concurrent refreshes) and signs the tokens.
    async fn refresh_read(
        &self,
        app: &Application,
        (sess, user_row, roles): SessionGrant,
        used: Use,
        legacy: Option<Legacy<'_>>,
        t: i64,
        actor: &Actor,
    ) -> Result<UserTokens, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        if sess.client_id.as_deref() != Some(app.client_id.as_str()) {
            return Err(invalid("this refresh token belongs to another client"));
        }
        match used {
            Use::Unknown => return Err(invalid("unknown refresh token")),
            // A grant that has ended already: nothing to end or audit again.
            Use::Reuse if sess.revoked_at.is_some() => return Err(invalid("the grant has expired or was revoked")),
            Use::Reuse => {
                self.write(async |tx| {
                    end_sessions(tx.conn(), session_end::session(sess.id), t).await?;
                    let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
                    let payload = json!({"session_id": sess.id, "reason": "refresh_token_reuse"});
                    tx.record(&audit, Some(sess.user_id), payload).await
                })
                .await?;
                return Err(invalid("this refresh token was already used; the grant is revoked"));
            }
            Use::Current | Use::Retry => {}
        }
        if !live(&sess, app, t) {
            return Err(invalid("the grant has expired or was revoked"));
        }
        let user = User::from(user_row);
        if user.is_disabled_at(OffsetDateTime::now_utc()) || user.is_deactivated {
            return Err(invalid("the user is disabled"));
        }
        let current = sess.refresh_generation;
        let write = if used == Use::Current && app.refresh_token_rotation {
            TokenWrite::Rotate { from: current }
        } else {
            TokenWrite::Keep { at: current }
        };
        let rotation = Rotation {
            session_id: sess.id,
            write,
            legacy_token_id: legacy.as_ref().filter(|_| used == Use::Current).map(|l| l.id),
            touch: (t - sess.last_accessed_at > TOUCH_EVERY_US).then(|| (t, actor.ip.clone())),
            at: t,
        };
        let Outcome::Done { generation } = self.refresh_batch.rotate(rotation).await? else {
            return Err(invalid("the grant was revoked"));
        };
        let refresh = match legacy {
            // A legacy token of a grant that does not rotate stays its token.
            Some(l) if generation == current && used == Use::Current => l.token.to_owned(),
            _ => self.refresh_token_at(sess.id, generation),
        };
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

/// A presented token issued before grant tokens.
struct Legacy<'a> {
    /// Its row in `refresh_tokens`.
    id: Uuid,
    /// The token.
    token: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(generation: i64, rotated_at: Option<i64>) -> session::Model {
        session::Model {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            kind: "offline_grant".into(),
            client_id: None,
            idp_session_id: None,
            scopes: json!([]),
            amr: json!([]),
            auth_time: 0,
            created_at: 0,
            last_accessed_at: 0,
            created_by_ip: None,
            last_accessed_by_ip: None,
            user_agent: None,
            expires_at: 0,
            revoked_at: None,
            token_hash: None,
            device_info: None,
            identity_id: None,
            refresh_generation: generation,
            refresh_rotated_at: rotated_at,
        }
    }

    #[test]
    fn only_the_token_just_replaced_has_a_grace_window() {
        let (t, grace) = (1_000_000_000, 10_000_000);
        let moved = grant(5, Some(t - 1));
        assert_eq!(use_of_generation(&moved, 5, t, grace), Use::Current);
        assert_eq!(use_of_generation(&moved, 4, t, grace), Use::Retry);
        assert_eq!(use_of_generation(&moved, 3, t, grace), Use::Reuse);
        assert_eq!(use_of_generation(&moved, 6, t, grace), Use::Unknown);
        assert_eq!(use_of_generation(&grant(5, Some(t - grace)), 4, t, grace), Use::Reuse);
        assert_eq!(use_of_generation(&grant(5, Some(t)), 4, t, 0), Use::Reuse, "no window");
        assert_eq!(use_of_generation(&grant(0, None), 0, t, grace), Use::Current);
        assert_eq!(use_of_legacy(None, t, grace), Use::Current);
        assert_eq!(use_of_legacy(Some(t - 1), t, grace), Use::Retry);
        assert_eq!(use_of_legacy(Some(t - grace), t, grace), Use::Reuse);
    }
}
