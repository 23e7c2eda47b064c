//! Sessions and refresh tokens: refresh-token grants with rotation and reuse detection,
//! user access tokens with Authgear's claims, and the Admin API's session management.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::refresh_batch::{Outcome, Rotation};
use super::session_end::{self, end_sessions};
use super::tokens::OAuthError;
use super::types::{Application, User, micros, now, strings, time_of};
use super::users::user_row;
use super::{Actor, Audit, Error, Result, Services, audit};
use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::oauth::AppType;
use entity::{refresh_token, session};

/// A session of a user.
#[derive(Debug, Clone)]
pub struct Session {
    /// ID.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// `idp` or `offline_grant`.
    pub kind: String,
    /// Application of an offline grant.
    pub client_id: Option<String>,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last use.
    pub last_accessed_at: OffsetDateTime,
    /// IP at creation.
    pub created_by_ip: Option<String>,
    /// IP at last use.
    pub last_accessed_by_ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

impl From<session::Model> for Session {
    fn from(m: session::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            kind: m.kind,
            client_id: m.client_id,
            amr: strings(&m.amr),
            created_at: time_of(m.created_at),
            last_accessed_at: time_of(m.last_accessed_at),
            created_by_ip: m.created_by_ip,
            last_accessed_by_ip: m.last_accessed_by_ip,
            user_agent: m.user_agent,
        }
    }
}

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

pub(crate) async fn insert_refresh_token(conn: &impl ConnectionTrait, session_id: Uuid, t: i64) -> Result<String> {
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
type GrantRow = (refresh_token::Model, session::Model, entity::user::Model, Vec<String>);

/// Comma-separated role keys of `users`.`id` from `link` (role keys never hold commas).
fn role_keys_sql(backend: sea_orm::DbBackend, from: &str) -> String {
    let agg = match backend {
        sea_orm::DbBackend::Postgres => "string_agg(r.\"key\", ',')",
        _ => "group_concat(r.\"key\", ',')",
    };
    format!("(SELECT {agg} FROM {from})")
}

/// A refresh token with its session, the session's user and the user's effective role
/// keys, by token hash: one round trip on the hot path.
async fn token_session_user(conn: &impl ConnectionTrait, digest: Vec<u8>) -> Result<Option<GrantRow>> {
    use sea_orm::{FromQueryResult, IdenStatic, Iterable};
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
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::TokenHash)).eq(digest));
    for c in refresh_token::Column::iter() {
        q.expr_as(Expr::col((refresh_token::Entity, c)), format!("t_{}", c.as_str()));
    }
    for c in session::Column::iter() {
        q.expr_as(Expr::col((session::Entity, c)), format!("s_{}", c.as_str()));
    }
    for c in entity::user::Column::iter() {
        q.expr_as(Expr::col((entity::user::Entity, c)), format!("u_{}", c.as_str()));
    }
    let backend = conn.get_database_backend();
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
    let Some(row) = conn.query_one(&q).await? else { return Ok(None) };
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

fn live(s: &session::Model, app: &Application, t: i64) -> bool {
    s.revoked_at.is_none()
        && s.expires_at > t
        && s.last_accessed_at + app.refresh_token_idle_timeout.saturating_mul(1_000_000) > t
}

impl Services {
    /// An access token for `user` and `app`: RFC 9068 with Authgear's user claims.
    pub(crate) async fn user_access_token(
        &self,
        user: &User,
        app: &Application,
        session_id: Uuid,
        auth_time: i64,
        scopes: &[String],
    ) -> Result<String> {
        let authgear = self.authgear_claims(user).await?;
        let jti = Uuid::now_v7().to_string();
        self.sign_access_token(user, app, session_id, auth_time, scopes, &authgear, &jti)
    }

    /// Admin API `createSession`: a refresh-token grant for a user and an application,
    /// with its first tokens.
    pub async fn create_session(&self, audit: &Audit, user_id: Uuid, client_id: &str) -> Result<UserTokens> {
        let txn = self.db.begin_write().await?;
        let user: User = user_row(&txn, user_id).await?.into();
        if user.is_disabled_at(OffsetDateTime::now_utc()) {
            return Err(Error::invalid("UserDisabled", "the user is disabled and cannot get a session"));
        }
        let app = self.application(client_id).await?.ok_or_else(|| {
            Error::not_found("ApplicationNotFound", format!("no application has client ID `{client_id}`"))
        })?;
        if app.kind == AppType::M2m {
            return Err(Error::invalid("InvalidApplication", "an m2m application has no user sessions"));
        }
        // A third-party app gets a user's tokens only with the user's own consent.
        if app.kind == AppType::ThirdPartyApp {
            return Err(Error::invalid(
                "InvalidApplication",
                "a third-party application gets a user's tokens only through the user's consent",
            ));
        }
        let t = micros(now());
        let scopes = vec!["openid".to_owned(), "offline_access".to_owned()];
        let row = session::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            kind: Set("offline_grant".into()),
            client_id: Set(Some(client_id.to_owned())),
            idp_session_id: Set(None),
            scopes: Set(json!(scopes)),
            amr: Set(json!([])),
            auth_time: Set(t),
            created_at: Set(t),
            last_accessed_at: Set(t),
            created_by_ip: Set(audit.actor.ip.clone()),
            last_accessed_by_ip: Set(audit.actor.ip.clone()),
            user_agent: Set(audit.actor.user_agent.clone()),
            expires_at: Set(t + app.refresh_token_lifetime.saturating_mul(1_000_000)),
            revoked_at: Set(None),
            token_hash: Set(None),
        }
        .insert(&txn)
        .await?;
        let refresh = insert_refresh_token(&txn, row.id, t).await?;
        audit::record(&txn, audit, Some(user_id), json!({"session_id": row.id, "client_id": client_id})).await?;
        txn.commit().await?;
        let access = self.user_access_token(&user, &app, row.id, t, &scopes).await?;
        Ok(UserTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
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
        let Some((rt, sess, user_row, roles)) = token_session_user(&self.db.conn, digest).await? else {
            return Err(invalid("unknown refresh token"));
        };
        if sess.client_id.as_deref() != Some(app.client_id.as_str()) {
            return Err(invalid("this refresh token belongs to another client"));
        }
        let t = micros(now());
        if let Some(rotated) = rt.rotated_at
            && t - rotated >= self.config.oauth.refresh_token_reuse_grace_seconds.saturating_mul(1_000_000)
        {
            let txn = self.db.begin_write().await?;
            end_sessions(&txn, session_end::session(sess.id), t).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
            let payload = json!({"session_id": sess.id, "reason": "refresh_token_reuse"});
            audit::record(&txn, &audit, Some(sess.user_id), payload).await?;
            txn.commit().await?;
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
        let authgear = super::claims::authgear_claims_with(&user, roles);
        let jti = Uuid::now_v7().to_string();
        let access = self.sign_access_token(&user, app, sess.id, sess.auth_time, &scopes, &authgear, &jti)?;
        Ok(UserTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
    }

    /// Sessions by ID.
    pub async fn sessions_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Session>> {
        let rows = session::Entity::find()
            .filter(Expr::col(session::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.conn)
            .await?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    /// Live sessions of each user, oldest first.
    pub async fn sessions_by_user_ids(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Session>>> {
        let t = micros(now());
        let rows = session::Entity::find()
            .filter(Expr::col(session::Column::UserId).is_in(ids.to_vec()))
            .filter(Expr::col(session::Column::RevokedAt).is_null())
            .filter(Expr::col(session::Column::ExpiresAt).gt(t))
            .order_by_asc(session::Column::Id)
            .all(&self.db.conn)
            .await?;
        let mut map: HashMap<Uuid, Vec<Session>> = HashMap::new();
        for r in rows {
            map.entry(r.user_id).or_default().push(r.into());
        }
        Ok(map)
    }

    /// Ends one session and its refresh tokens.
    pub async fn revoke_session(&self, audit: &Audit, session_id: Uuid) -> Result<User> {
        let txn = self.db.begin_write().await?;
        let sess = session::Entity::find_by_id(session_id)
            .one(&txn)
            .await?
            .filter(|s| s.revoked_at.is_none())
            .ok_or_else(|| Error::not_found("SessionNotFound", format!("session {session_id} does not exist")))?;
        let user = user_row(&txn, sess.user_id).await?;
        // Ending a browser session also ends the grants that came from it.
        end_sessions(&txn, session_end::session_and_grants(session_id), micros(now())).await?;
        audit::record(&txn, audit, Some(user.id), json!({"session_id": session_id})).await?;
        txn.commit().await?;
        Ok(user.into())
    }

    /// Ends every session of a user.
    pub async fn revoke_all_sessions(&self, audit: &Audit, user_id: Uuid) -> Result<User> {
        let txn = self.db.begin_write().await?;
        let user = user_row(&txn, user_id).await?;
        end_sessions(&txn, session_end::of_user(user_id), micros(now())).await?;
        audit::record(&txn, audit, Some(user_id), json!({"user_id": user_id})).await?;
        txn.commit().await?;
        Ok(user.into())
    }
}

/// Sessions that ended longer ago than this are deleted with their refresh tokens.
const KEEP_ENDED_SESSIONS_US: i64 = 86_400 * 1_000_000;

impl Services {
    /// Deletes revoked-token records past their token's expiry; sessions (with their
    /// refresh tokens), authorization codes and reset codes that ended more than a day
    /// ago; and users whose scheduled deletion is due. Rotated refresh
    /// tokens of live sessions stay: reuse detection needs them. Returns the rows deleted.
    pub async fn cleanup(&self) -> Result<u64> {
        let t = micros(now());
        let txn = self.db.begin_write().await?;
        let tokens = entity::revoked_token::Entity::delete_many()
            .filter(Expr::col(entity::revoked_token::Column::ExpiresAt).lt(t))
            .exec(&txn)
            .await?
            .rows_affected;
        let ended = t - KEEP_ENDED_SESSIONS_US;
        let sessions = session::Entity::delete_many()
            .filter(
                sea_orm::sea_query::Condition::any()
                    .add(Expr::col(session::Column::ExpiresAt).lt(ended))
                    .add(Expr::col(session::Column::RevokedAt).lt(ended)),
            )
            .exec(&txn)
            .await?
            .rows_affected;
        let t = micros(now());
        let codes = entity::authorization_code::Entity::delete_many()
            .filter(Expr::col(entity::authorization_code::Column::ExpiresAt).lt(t - KEEP_ENDED_SESSIONS_US))
            .exec(&txn)
            .await?
            .rows_affected;
        let resets = entity::password_reset_code::Entity::delete_many()
            .filter(Expr::col(entity::password_reset_code::Column::ExpiresAt).lt(t - KEEP_ENDED_SESSIONS_US))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        let users = self.delete_due_users().await?;
        let counters = self.forget_old_counters().await?;
        Ok(tokens + sessions + codes + resets + users + counters)
    }
}
