//! The refresh-token grant: rotation on every use, reuse detection (a rotated token
//! presented again revokes its whole grant), idle and absolute timeouts, and the user
//! access tokens it mints with Authgear's claims.

use crate::crypto::{b64, random_bytes, sha256};
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::users::User;
use crate::service::oauth::error::OAuthError;
use crate::service::store::refresh_batch::{Outcome, Rotation};
use crate::service::store::session_end;
use crate::service::store::session_end::end_sessions;
use crate::service::store::time::{micros, now, strings};
use crate::service::{Actor, Audit, Result};
use entity::{refresh_token, session};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
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
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session_id),
        token_hash: Set(hash),
        created_at: Set(t),
        rotated_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// What a refresh grant reads: the token, its session, the user and the user's effective
/// role keys.
pub(in crate::service) type GrantRow = (refresh_token::Model, session::Model, entity::user::Model, Vec<String>);

/// Comma-separated role keys of `users`.`id` from `link` (role keys never hold commas).
fn role_keys_sql(backend: sea_orm::DbBackend, from: &str) -> String {
    let agg = match backend {
        sea_orm::DbBackend::Postgres => "string_agg(r.\"key\", ',')",
        _ => "group_concat(r.\"key\", ',')",
    };
    format!("(SELECT {agg} FROM {from})")
}

/// The SQL of [`token_session_user`] for `backend`, built once per process: the statement
/// has some fifty aliased columns, and building it for every refresh showed in profiles.
fn token_session_user_sql(backend: sea_orm::DbBackend) -> &'static str {
    use sea_orm::{IdenStatic, Iterable};
    use std::sync::OnceLock;
    static POSTGRES: OnceLock<String> = OnceLock::new();
    static SQLITE: OnceLock<String> = OnceLock::new();
    let cell = if backend == sea_orm::DbBackend::Postgres { &POSTGRES } else { &SQLITE };
    cell.get_or_init(|| {
        let mut q = Query::select();
        q.from(refresh_token::Entity)
            .inner_join(
                session::Entity,
                Expr::col((session::Entity, session::Column::Id))
                    .equals((refresh_token::Entity, refresh_token::Column::SessionId)),
            )
            .inner_join(
                entity::user::Entity,
                Expr::col((entity::user::Entity, entity::user::Column::Id))
                    .equals((session::Entity, session::Column::UserId)),
            )
            .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::TokenHash)).eq(Vec::<u8>::new()));
        for c in refresh_token::Column::iter() {
            q.expr_as(Expr::col((refresh_token::Entity, c)), format!("t_{}", c.as_str()));
        }
        for c in session::Column::iter() {
            q.expr_as(Expr::col((session::Entity, c)), format!("s_{}", c.as_str()));
        }
        for c in entity::user::Column::iter() {
            q.expr_as(Expr::col((entity::user::Entity, c)), format!("u_{}", c.as_str()));
        }
        let direct = role_keys_sql(
            backend,
            "\"user_roles\" ur JOIN \"roles\" r ON r.\"id\" = ur.\"role_id\" WHERE ur.\"user_id\" = \"users\".\"id\"",
        );
        let via_groups = role_keys_sql(
            backend,
            "\"user_groups\" ug JOIN \"group_roles\" gr ON gr.\"group_id\" = ug.\"group_id\" \
             JOIN \"roles\" r ON r.\"id\" = gr.\"role_id\" WHERE ug.\"user_id\" = \"users\".\"id\"",
        );
        q.expr_as(Expr::cust(direct), "direct_roles").expr_as(Expr::cust(via_groups), "group_roles");
        backend.build(&q).sql
    })
}

/// A refresh token with its session, the session's user and the user's effective role
/// keys, by token hash: one round trip on the hot path.
pub(in crate::service) async fn token_session_user(
    conn: &impl ConnectionTrait,
    digest: Vec<u8>,
) -> Result<Option<GrantRow>> {
    use sea_orm::FromQueryResult;
    let backend = conn.get_database_backend();
    let stmt = sea_orm::Statement::from_sql_and_values(backend, token_session_user_sql(backend), [digest.into()]);
    let Some(row) = conn.query_one_raw(stmt).await? else { return Ok(None) };
    let mut roles: Vec<String> = Vec::new();
    for col in ["direct_roles", "group_roles"] {
        let list: Option<String> = row.try_get("", col)?;
        roles.extend(list.iter().flat_map(|l| l.split(',')).filter(|k| !k.is_empty()).map(str::to_owned));
    }
    roles.sort();
    roles.dedup();
    Ok(Some((
        refresh_token::Model::from_query_result(&row, "t_")?,
        session::Model::from_query_result(&row, "s_")?,
        entity::user::Model::from_query_result(&row, "u_")?,
        roles,
    )))
}

/// A grant's last access is recorded at most this often (its idle timeout is counted in
/// days, so a minute's precision is plenty and saves a write per refresh).
const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

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
        let scopes = strings(&sess.scopes);
        let authgear = crate::service::oauth::claims::authgear_claims_with(&user, roles);
        let jti = Uuid::now_v7().to_string();
        let access = self
            .sign_access_token(&user, app, sess.id, sess.auth_time, &strings(&sess.amr), &scopes, &authgear, &jti)
            .await?;
        Ok(UserTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
    }
}
