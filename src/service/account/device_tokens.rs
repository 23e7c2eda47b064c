//! Remembered devices ("Don't ask again on this device"): after a second factor, a browser
//! may get a device token (256 random bits in a cookie; only its SHA-256 is stored) that
//! lets the same user skip the second factor there until it expires, is revoked, or all
//! of the user's sessions end.

use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::ids::{SessionId, TypedId, UserId};
use crate::domain::reason;
use crate::service::account::login::{IdpSession, LoginError, LoginOutcome};
use crate::service::account::second_factor_end::FactorKind;
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Account, Actor, Audit, Error, Result};
use entity::device_token;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// The audit activity of a remembered device.
pub const CREATED: &str = "device_token.created";
/// The audit activity of a device the user forgot (one, or all).
pub const REVOKED: &str = "device_token.revoked";

/// The method a device token adds to the first factor's (Authgear's `x_device_token`).
pub(in crate::service) const AMR_DEVICE_TOKEN: &str = "x_device_token";

/// A remembered device, as the settings page lists it.
#[derive(Debug, Clone)]
pub struct RememberedDevice {
    /// The row's ID (never the token).
    pub id: Uuid,
    /// When it was remembered.
    pub created_at: OffsetDateTime,
    /// When it stops skipping the second factor.
    pub expires_at: OffsetDateTime,
    /// The browser's `User-Agent` then.
    pub user_agent: Option<String>,
    /// The client IP address then.
    pub ip: Option<String>,
}

/// A new device token for the cookie.
#[derive(Debug)]
pub struct NewDeviceToken {
    /// The cookie's value (43 base64url characters).
    pub token: String,
    /// How long the cookie lives, in seconds.
    pub max_age_seconds: i64,
}

/// Deletes every device token of a user (all their sessions ended); returns how many.
pub(in crate::service) async fn end_device_tokens(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<u64> {
    Ok(device_token::Entity::delete_many()
        .filter(Expr::col(device_token::Column::UserId).eq(user_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Deletes device tokens that expired before `t` (UTC micros); returns how many.
pub(in crate::service) async fn forget_expired(conn: &impl ConnectionTrait, t: i64) -> Result<u64> {
    Ok(device_token::Entity::delete_many()
        .filter(Expr::col(device_token::Column::ExpiresAt).lt(t))
        .exec(conn)
        .await?
        .rows_affected)
}

impl Account<'_> {
    /// Remembers this browser for the user of a session that just passed a second factor
    /// (its `amr` has `mfa`): stores the hash of a new token and writes
    /// `device_token.created`. `None` when `mfa.device_token_enabled` is off or the session
    /// had no second factor.
    pub async fn remember_device(&self, sess: &IdpSession, actor: &Actor) -> Result<Option<NewDeviceToken>> {
        let cfg = &self.config.mfa;
        if !cfg.device_token_enabled || !sess.amr.iter().any(|m| m == "mfa") {
            return Ok(None);
        }
        let token = b64(random_bytes::<32>());
        let t = micros(now());
        let expires_at = t + cfg.device_token_lifetime_seconds.saturating_mul(1_000_000);
        let audit = Audit { actor: actor.clone(), activity: CREATED.into() };
        let user_id = sess.user_id;
        let digest = sha256(token.as_bytes()).to_vec();
        self.write(async |tx| {
            let row = device_token::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user_id.uuid()),
                token_hash: Set(digest.clone()),
                created_at: Set(t),
                expires_at: Set(expires_at),
                user_agent: Set(actor.user_agent.clone()),
                ip: Set(actor.ip.clone()),
            }
            .insert(tx.conn())
            .await?;
            let payload = json!({
                "user_id": user_id,
                "device_token_id": row.id,
                "expires_at": time_of(expires_at).unix_timestamp(),
            });
            tx.record(&audit, Some(user_id.uuid()), payload).await?;
            Ok::<_, Error>(())
        })
        .await?;
        Ok(Some(NewDeviceToken { token, max_age_seconds: cfg.device_token_lifetime_seconds }))
    }

    /// Instead of the second factor: a live device token of the user that the sealed
    /// "first factor passed" state names ends the step, with `amr` the first factor's
    /// methods and `x_device_token` (then the session, unless the sign-in hooks ask for
    /// more). `Ok(None)` when the token is unknown, expired, another user's, device tokens
    /// are off, or the hooks' `constraints.amr` asks for more than a remembered device
    /// proves: ask for the second factor.
    pub async fn login_with_device_token(
        &self,
        pending: &str,
        flow: &str,
        token: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<Option<LoginOutcome>, LoginError> {
        let passed = self.first_factor_passed(pending, flow)?;
        if !self.config.mfa.device_token_enabled
            || token.is_empty()
            || token.len() > 200
            || !passed.accepts(FactorKind::DeviceToken)
        {
            return Ok(None);
        }
        let t = now();
        let digest = sha256(token.as_bytes()).to_vec();
        let row = device_token::Entity::find()
            .filter(Expr::col(device_token::Column::TokenHash).eq(digest))
            .one(&self.db.reader())
            .await?;
        let Some(row) = row.filter(|r| r.user_id == passed.user && r.expires_at > micros(t)) else {
            return Ok(None);
        };
        let Some(user) = self.users().get(UserId::from(row.user_id)).await? else { return Ok(None) };
        self.check_may_sign_in(&user)?;
        let next = self.after_second_factor(passed, &user, FactorKind::DeviceToken, actor, replaces, t).await?;
        Ok(Some(next))
    }

    /// The user's live remembered devices, newest first.
    pub async fn remembered_devices(&self, user_id: UserId) -> Result<Vec<RememberedDevice>> {
        let rows = device_token::Entity::find()
            .filter(Expr::col(device_token::Column::UserId).eq(user_id))
            .filter(Expr::col(device_token::Column::ExpiresAt).gt(micros(now())))
            .order_by_desc(device_token::Column::CreatedAt)
            .all(&self.db.reader())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| RememberedDevice {
                id: r.id,
                created_at: time_of(r.created_at),
                expires_at: time_of(r.expires_at),
                user_agent: r.user_agent,
                ip: r.ip,
            })
            .collect())
    }

    /// Forgets one of the user's remembered devices (`Some`) or all of them (`None`) and
    /// writes `device_token.revoked`; another user's device is not found.
    pub async fn forget_devices(&self, user_id: UserId, device: Option<Uuid>, actor: &Actor) -> Result<u64> {
        let audit = Audit { actor: actor.clone(), activity: REVOKED.into() };
        self.write(async |tx| {
            let mut q = device_token::Entity::delete_many().filter(Expr::col(device_token::Column::UserId).eq(user_id));
            if let Some(id) = device {
                q = q.filter(Expr::col(device_token::Column::Id).eq(id));
            }
            let n = q.exec(tx.conn()).await?.rows_affected;
            if device.is_some() && n == 0 {
                return Err(Error::not_found(reason::DEVICE_TOKEN_NOT_FOUND, "this device is no longer remembered"));
            }
            let payload = json!({"user_id": user_id, "device_token_id": device, "revoked": n});
            tx.record(&audit, Some(user_id.uuid()), payload).await?;
            Ok(n)
        })
        .await
    }
}
