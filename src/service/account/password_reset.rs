//! Forgot password: a one-time link (15 minutes, single use) sent by email. A user has at
//! most one live link: issuing a new one ends the older ones, using one ends the others,
//! and a disabled, deactivated or deleting user can neither get nor use one.

use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::ids::TypedId;
use crate::domain::password::check_policy;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::Account;
use crate::service::admin::user_rows::set_primary_password;
use crate::service::admin::users::User;
use crate::service::store::session_end::{end_sessions, of_user};
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error, Result};
use entity::password_reset_code;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

const RESET_LIFETIME_US: i64 = 15 * 60 * 1_000_000;

/// One message per account per minute, so the form cannot flood an inbox.
const RESET_COOLDOWN_US: i64 = 60 * 1_000_000;

impl Account<'_> {
    /// Creates a reset code for the account with this email login ID and ends the user's
    /// older unused codes. Returns the user and the code, or `None` (unknown address,
    /// disabled account, or a code was sent less than a minute ago): the caller shows the
    /// same page either way.
    pub async fn start_password_reset(&self, email: &str) -> Result<Option<(User, String)>> {
        let Ok(Some(user)) = self.users().by_login_id("email", email).await else { return Ok(None) };
        if !may_reset(&user) || self.reset_cooling_down(&user).await? {
            return Ok(None);
        }
        let code = self.issue_reset_code(&user, None).await?;
        Ok(Some((user, code)))
    }

    /// Whether a reset link went to this user less than a minute ago.
    async fn reset_cooling_down(&self, user: &User) -> Result<bool> {
        let last = password_reset_code::Entity::find()
            .filter(Expr::col(password_reset_code::Column::UserId).eq(user.id))
            .order_by_desc(password_reset_code::Column::CreatedAt)
            .one(&self.db.reader())
            .await?;
        Ok(last.is_some_and(|l| micros(now()) - l.created_at < RESET_COOLDOWN_US))
    }

    /// Ends the user's older codes and stores a new one; with `audit`, audited in the
    /// same transaction. Returns the code.
    async fn issue_reset_code(&self, user: &User, audit: Option<&Audit>) -> Result<String> {
        let t = micros(now());
        let code = b64(random_bytes::<32>());
        let change = async |tx: &crate::service::unit_of_work::Tx| {
            let txn = tx.conn();
            end_reset_codes(txn, user.id.uuid(), t).await?;
            password_reset_code::ActiveModel {
                id: Set(Uuid::now_v7()),
                code_hash: Set(sha256(code.as_bytes()).to_vec()),
                user_id: Set(user.id.uuid()),
                created_at: Set(t),
                expires_at: Set(t + RESET_LIFETIME_US),
                used_at: Set(None),
            }
            .insert(txn)
            .await?;
            if let Some(a) = audit {
                tx.record(a, Some(user.id.uuid()), json!({"user_id": user.id})).await?;
            }
            Ok::<_, Error>(())
        };
        match audit {
            Some(_) => self.write(change).await?,
            None => self.write_unaudited(change).await?,
        }
        Ok(code)
    }

    /// `sendResetPasswordMessage`: emails a reset link to the account with this email
    /// login ID. Refuses an unknown address, a user who may not reset (disabled,
    /// deactivated, deleting), and a second message within a minute.
    pub async fn admin_send_reset_link(&self, audit: &Audit, login_id: &str) -> Result<()> {
        let user = self.users().by_login_id("email", login_id).await?.ok_or_else(|| {
            Error::not_found(
                reason::USER_NOT_FOUND,
                format!("no user has the email login ID {}", quoted(login_id.trim())),
            )
        })?;
        if !may_reset(&user) {
            return Err(Error::invalid(
                reason::USER_DISABLED,
                "this user is disabled, deactivated or scheduled for deletion",
            ));
        }
        if self.reset_cooling_down(&user).await? {
            return Err(Error::invalid(
                reason::RATE_LIMITED,
                "a reset message went to this user less than a minute ago",
            ));
        }
        let code = self.issue_reset_code(&user, Some(audit)).await?;
        let to =
            user.standard_attributes.get("email").and_then(serde_json::Value::as_str).unwrap_or(login_id).to_owned();
        self.mail_reset_link(&to, &code, &audit.actor).await
    }

    async fn mail_reset_link(&self, to: &str, code: &str, actor: &Actor) -> Result<()> {
        let link = format!(
            "{}/reset_password?code={}",
            self.config.public_url(),
            url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
        );
        let minutes = RESET_LIFETIME_US / 60_000_000;
        let body = self.messages.render("email_reset.txt", minijinja::context! { link, minutes })?;
        let subject = self.messages.subject("forgot_password", None)?;
        self.send_email(to, &subject, body, "forgot_password", actor).await
    }

    /// Sends a reset link to the account with this email login ID, if there is one (and
    /// it may reset, and no link went out in the last minute); otherwise sends nothing.
    /// Returns whether a message was sent.
    pub async fn send_password_reset_link(&self, email: &str, actor: &Actor) -> Result<bool> {
        let Some((user, code)) = self.start_password_reset(email).await? else { return Ok(false) };
        let to = user.standard_attributes.get("email").and_then(serde_json::Value::as_str).unwrap_or(email).to_owned();
        self.mail_reset_link(&to, &code, actor).await?;
        Ok(true)
    }

    /// `sendPassword`: emails a password an administrator set (`reset`) or created the
    /// account with, with the sign-in address. `expired`: the user must change it.
    pub(in crate::service) async fn send_password_email(
        &self,
        to: &str,
        password: &str,
        reset: bool,
        expired: bool,
        actor: &Actor,
    ) -> Result<()> {
        let login_url = format!("{}/login", self.config.public_url());
        let body =
            self.messages.render("email_password.txt", minijinja::context! { password, reset, expired, login_url })?;
        let subject = self.messages.subject("send_password", None)?;
        self.send_email(to, &subject, body, "send_password", actor).await
    }

    /// Whether a reset code can still be used: unused, unexpired, and its user may reset.
    pub async fn reset_code_valid(&self, code: &str) -> Result<bool> {
        Ok(self.reset_code_user(code).await?.is_some())
    }

    /// The user a usable reset code belongs to.
    async fn reset_code_user(&self, code: &str) -> Result<Option<Uuid>> {
        let t = micros(now());
        let Some(row) = password_reset_code::Entity::find()
            .filter(Expr::col(password_reset_code::Column::CodeHash).eq(sha256(code.as_bytes()).to_vec()))
            .one(&self.db.reader())
            .await?
        else {
            return Ok(None);
        };
        if row.used_at.is_some() || row.expires_at <= t {
            return Ok(None);
        }
        let ok = self.users().get(row.user_id.into()).await?.is_some_and(|u| may_reset(&u));
        Ok(ok.then_some(row.user_id))
    }

    /// Sets a new password with a reset code, uses the code up, and ends every session of
    /// the user (whoever knew the old password is logged out).
    pub async fn finish_password_reset(&self, code: &str, password: String, actor: &Actor) -> Result<User> {
        check_policy(&self.config.password_policy, &password)?;
        let expired = || Error::invalid(reason::RESET_CODE_INVALID, "this reset link has expired or was already used");
        let Some(user_id) = self.reset_code_user(code).await? else {
            return Err(expired());
        };
        self.check_password_history(user_id.into(), &password).await?;
        let hash = self.hasher.hash(password).await?;
        let keep = self.config.password_policy.history_kept();
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let Some(row) = password_reset_code::Entity::find()
                .filter(Expr::col(password_reset_code::Column::CodeHash).eq(sha256(code.as_bytes()).to_vec()))
                .one(txn)
                .await?
            else {
                return Err(expired());
            };
            let used = password_reset_code::Entity::update_many()
                .col_expr(password_reset_code::Column::UsedAt, Expr::value(t))
                .filter(Expr::col(password_reset_code::Column::Id).eq(row.id))
                .filter(Expr::col(password_reset_code::Column::UsedAt).is_null())
                .filter(Expr::col(password_reset_code::Column::ExpiresAt).gt(t))
                .exec(txn)
                .await?;
            if used.rows_affected == 0 {
                return Err(expired());
            }
            let user: User = crate::service::admin::user_rows::user_row(txn, row.user_id).await?.into();
            if !may_reset(&user) {
                return Err(expired());
            }
            set_primary_password(txn, user.id.uuid(), hash, now(), keep).await?;
            end_sessions(txn, of_user(user.id.uuid()), t).await?;
            crate::service::account::device_tokens::end_device_tokens(txn, user.id.uuid()).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.password.reset".into() };
            tx.record(&audit, Some(user.id.uuid()), json!({"user_id": user.id, "sessions_ended": true})).await?;
            Ok(user)
        })
        .await
    }
}

/// Whether this user may get or use a reset link: not disabled (now), deactivated or
/// scheduled for deletion.
fn may_reset(user: &User) -> bool {
    !(user.is_disabled_at(now()) || user.is_deactivated || user.delete_at.is_some())
}

/// Ends, at `t` (UTC micros), every unused reset link of a user: a new link, a new
/// password or disabling the user leaves no older link usable.
pub(in crate::service) async fn end_reset_codes(conn: &impl ConnectionTrait, user_id: Uuid, t: i64) -> Result<u64> {
    Ok(password_reset_code::Entity::update_many()
        .col_expr(password_reset_code::Column::UsedAt, Expr::value(t))
        .filter(Expr::col(password_reset_code::Column::UserId).eq(user_id))
        .filter(Expr::col(password_reset_code::Column::UsedAt).is_null())
        .exec(conn)
        .await?
        .rows_affected)
}
