//! Sessions and refresh tokens: refresh-token grants with rotation and reuse detection,
//! user access tokens with Authgear's claims, and the Admin API's session management.

use crate::domain::ids::{SessionId, TypedId, UserId};
use crate::domain::oauth::AppType;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::Sessions;
use crate::service::admin::user_rows::{admin_user_row, snapshot};
use crate::service::admin::users::User;
use crate::service::events::user_model::session_model;
use crate::service::oauth::refresh_token::UserTokens;
use crate::service::oauth::refresh_token::first_refresh_token;
use crate::service::store::session_end;
use crate::service::store::session_end::end_sessions;
use crate::service::store::session_row::NewSession;
use crate::service::store::time::{micros, now, strings, time_of};
use crate::service::{Audit, Error, Result};
use entity::session;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

/// A session of a user.
#[derive(Debug, Clone)]
pub struct Session {
    /// ID.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
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
    /// What an app's SDK said about the device (`x_device_info`).
    pub device_info: Option<serde_json::Value>,
}

/// Authgear's `acr` for a sign-in with a second factor.
const ACR_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

impl Session {
    /// A name people recognise the session by: the device an app described
    /// (`x_device_info`), else the browser and system of its user agent.
    pub fn display_name(&self) -> String {
        if let Some(info) = &self.device_info {
            let name = crate::domain::device_info::formatted_device_info(info);
            if !name.is_empty() {
                return name;
            }
        }
        crate::domain::user_agent::display_name(self.user_agent.as_deref())
    }

    /// The authentication context class: multi-factor when the sign-in used a second
    /// factor (`amr` has `mfa`), else none.
    pub fn acr(&self) -> Option<&'static str> {
        self.amr.iter().any(|a| a == "mfa").then_some(ACR_MFA)
    }
}

impl From<session::Model> for Session {
    fn from(m: session::Model) -> Self {
        Self {
            id: m.id.into(),
            user_id: m.user_id.into(),
            kind: m.kind,
            client_id: m.client_id,
            amr: strings(&m.amr),
            created_at: time_of(m.created_at),
            last_accessed_at: time_of(m.last_accessed_at),
            created_by_ip: m.created_by_ip,
            last_accessed_by_ip: m.last_accessed_by_ip,
            user_agent: m.user_agent,
            device_info: m.device_info,
        }
    }
}

impl Sessions<'_> {
    /// Admin API `createSession`: a refresh-token grant for a user and an application,
    /// with its first tokens.
    pub async fn create(&self, audit: &Audit, user_id: UserId, client_id: &str) -> Result<UserTokens> {
        // Read before the write transaction opens: on a single-connection pool the read
        // would otherwise wait for the transaction's own connection.
        let found = self.applications().get(client_id).await?;
        let (user, app, session_id, t, scopes, refresh) = self
            .write(async |tx| {
                let txn = tx.conn();
                let user: User = admin_user_row(txn, user_id.uuid()).await?.into();
                if user.is_disabled_at(OffsetDateTime::now_utc()) {
                    return Err(Error::invalid(reason::USER_DISABLED, "the user is disabled and cannot get a session"));
                }
                let app = found.ok_or_else(|| {
                    Error::not_found(
                        reason::APPLICATION_NOT_FOUND,
                        format!("no application has client ID {}", quoted(client_id)),
                    )
                })?;
                if app.kind == AppType::M2m {
                    return Err(Error::invalid(reason::INVALID_APPLICATION, "an m2m application has no user sessions"));
                }
                // A third-party app gets a user's tokens only with the user's own consent.
                if app.kind == AppType::ThirdPartyApp {
                    return Err(Error::invalid(
                        reason::INVALID_APPLICATION,
                        "a third-party application gets a user's tokens only through the user's consent",
                    ));
                }
                let t = micros(now());
                let scopes = vec!["openid".to_owned(), "offline_access".to_owned()];
                let row = NewSession {
                    kind: "offline_grant",
                    user_id: user_id.uuid(),
                    client_id: Some(client_id.to_owned()),
                    idp_session_id: None,
                    scopes: &scopes,
                    amr: &[],
                    auth_time: t,
                    lifetime_seconds: app.refresh_token_lifetime,
                    token_hash: None,
                }
                .row(t, &audit.actor)
                .insert(txn)
                .await?;
                let refresh = first_refresh_token(&self.master_key, row.id);
                tx.record(audit, Some(user_id.uuid()), json!({"session_id": row.id, "client_id": client_id})).await?;
                Ok::<_, Error>((user, app, row.id, t, scopes, refresh))
            })
            .await?;
        let access = self.oauth().user_access_token(&user, &app, session_id, t, &scopes).await?;
        Ok(UserTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
    }

    /// Sessions by ID.
    pub async fn by_ids(&self, ids: &[SessionId]) -> Result<Vec<Session>> {
        let rows = session::Entity::find()
            .filter(Expr::col(session::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    /// Live sessions of each user, oldest first.
    pub async fn by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, Vec<Session>>> {
        let t = micros(now());
        let rows = session::Entity::find()
            .filter(Expr::col(session::Column::UserId).is_in(ids.to_vec()))
            .filter(Expr::col(session::Column::RevokedAt).is_null())
            .filter(Expr::col(session::Column::ExpiresAt).gt(t))
            .order_by_asc(session::Column::Id)
            .all(&self.db.reader())
            .await?;
        let mut map: HashMap<UserId, Vec<Session>> = HashMap::new();
        for r in rows {
            map.entry(r.user_id.into()).or_default().push(r.into());
        }
        Ok(map)
    }

    /// Ends one session and its refresh tokens.
    pub async fn revoke(&self, audit: &Audit, session_id: SessionId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let sess =
                session::Entity::find_by_id(session_id).one(txn).await?.filter(|s| s.revoked_at.is_none()).ok_or_else(
                    || Error::not_found(reason::SESSION_NOT_FOUND, format!("session {session_id} does not exist")),
                )?;
            let user = admin_user_row(txn, sess.user_id).await?;
            // Ending a browser session also ends the grants that came from it.
            end_sessions(txn, session_end::session_and_grants(session_id.uuid()), micros(now())).await?;
            tx.record(audit, Some(user.id), json!({"session_id": session_id})).await?;
            let payload =
                json!({"user": snapshot(&user), "sessions": [session_model(&sess)], "termination_type": "individual"});
            tx.event(audit, "user.session.terminated", Some(user.id), payload).await?;
            Ok(user.into())
        })
        .await
    }

    /// Ends every session of a user.
    pub async fn revoke_all(&self, audit: &Audit, user_id: UserId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let user = admin_user_row(txn, user_id.uuid()).await?;
            let live = session::Entity::find()
                .filter(Expr::col(session::Column::UserId).eq(user_id))
                .filter(Expr::col(session::Column::RevokedAt).is_null())
                .all(txn)
                .await?;
            end_sessions(txn, session_end::of_user(user_id.uuid()), micros(now())).await?;
            crate::service::account::device_tokens::end_device_tokens(txn, user_id.uuid()).await?;
            tx.record(audit, Some(user_id.uuid()), json!({"user_id": user_id})).await?;
            let sessions: Vec<_> = live.iter().map(session_model).collect();
            let payload = json!({"user": snapshot(&user), "sessions": sessions, "termination_type": "all"});
            tx.event(audit, "user.session.terminated", Some(user.id), payload).await?;
            Ok(user.into())
        })
        .await
    }
}
