//! Users: creation, profile, account status and passwords.

use crate::domain::attributes::{validate_custom, validate_standard};
use crate::domain::ids::{TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::domain::password::check_policy;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::Users;
use crate::service::admin::user_rows::admin_user_row;
use crate::service::admin::user_rows::generate_password;
use crate::service::admin::user_rows::insert_password;
use crate::service::admin::user_rows::new_user_row;
use crate::service::admin::user_rows::primary_password;
use crate::service::admin::user_rows::refresh_derived;
use crate::service::admin::user_rows::snapshot;
use crate::service::admin::user_rows::upsert_password;
use crate::service::admin::user_rows::user_row;
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Audit, Error, Result};
use entity::{identity, user, verified_claim};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// Input of `createUser`.
#[derive(Clone)]
pub struct NewUser {
    /// Login ID key (`email`, `phone`, `username`).
    pub login_id_key: String,
    /// Login ID value.
    pub login_id_value: String,
    /// Initial password; `None` creates a user without one, `""` generates a random one.
    pub password: Option<String>,
    /// Email the password to the user's email login ID after the user is created.
    pub send_password: bool,
    /// The password must be changed at the first login.
    pub set_password_expired: bool,
    /// Start of the account valid period.
    pub account_valid_from: Option<OffsetDateTime>,
    /// End of the account valid period.
    pub account_valid_until: Option<OffsetDateTime>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("login_id_key", &self.login_id_key)
            .field("login_id_value", &self.login_id_value)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Changes to the account-valid period; `None` leaves a bound as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ValidPeriod {
    /// New lower bound.
    pub from: Option<Option<OffsetDateTime>>,
    /// New upper bound.
    pub until: Option<Option<OffsetDateTime>>,
}

impl Users<'_> {
    /// Checks a password against the policy, or generates one that satisfies it when
    /// `password` is empty.
    fn password_or_generated(&self, password: String) -> Result<String> {
        let password = if password.is_empty() { generate_password(&self.config.password_policy) } else { password };
        check_policy(&self.config.password_policy, &password)?;
        Ok(password)
    }

    /// Creates a user with one login ID and, optionally, a password.
    pub async fn create(&self, audit: &Audit, input: NewUser) -> Result<User> {
        let login_id = LoginId::parse(&self.config.login_id, &input.login_id_key, &input.login_id_value)?;
        if let (Some(f), Some(u)) = (input.account_valid_from, input.account_valid_until)
            && f >= u
        {
            return Err(Error::invalid(
                reason::INVALID_ACCOUNT_VALID_PERIOD,
                "accountValidFrom must be before accountValidUntil",
            ));
        }
        let plain = input.password.map(|p| self.password_or_generated(p)).transpose()?;
        let send_to = match (input.send_password, &plain) {
            (false, _) => None,
            (true, None) => {
                return Err(Error::invalid(
                    reason::SEND_PASSWORD_INVALID,
                    "sendPassword needs a password (or \"\" to generate one)",
                ));
            }
            (true, Some(_)) if input.login_id_key != "email" => {
                return Err(Error::invalid(
                    reason::SEND_PASSWORD_INVALID,
                    "sendPassword needs an email login ID to send to",
                ));
            }
            (true, Some(_)) => Some(login_id.value.clone()),
        };
        let password_hash = match &plain {
            None => None,
            Some(p) => Some(self.hasher.hash(p.clone()).await?),
        };
        let keep = self.config.password_policy.history_kept();
        let t = now();
        let user = self
            .write(async |tx| {
                let txn = tx.conn();
                let mut row = new_user_row(micros(t), false);
                row.account_valid_from = Set(input.account_valid_from.map(micros));
                row.account_valid_until = Set(input.account_valid_until.map(micros));
                let row = row.insert(txn).await?;
                crate::service::admin::identities::insert_login_id(
                    txn,
                    &input.login_id_key,
                    row.id.into(),
                    &login_id,
                    t,
                )
                .await?;
                if let Some(hash) = password_hash {
                    insert_password(txn, row.id, hash, t, input.set_password_expired, keep).await?;
                }
                let row = refresh_derived(txn, row).await?;
                let row = self.pre_create_hook(txn, row, &audit.actor).await?;
                tx.record(audit, Some(row.id), json!({"user": snapshot(&row)})).await?;
                tx.event(audit, "user.created", Some(row.id), json!({"user": snapshot(&row)})).await?;
                Ok::<_, Error>(User::from(row))
            })
            .await?;
        if let (Some(to), Some(p)) = (send_to, plain) {
            self.account().send_password_email(&to, &p, false, input.set_password_expired, &audit.actor).await?;
        }
        Ok(user)
    }

    /// Replaces standard and/or custom attributes (each object as a whole).
    pub async fn update(
        &self,
        audit: &Audit,
        user_id: UserId,
        standard: Option<Value>,
        custom: Option<Value>,
    ) -> Result<User> {
        let standard = standard.map(|s| validate_standard(&s)).transpose()?;
        let custom = custom.map(|c| validate_custom(&self.config.custom_attributes, &c)).transpose()?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let mut am = row.clone().into_active_model();
            if let Some(std) = standard {
                am.standard_attributes = Set(merge_standard(txn, &row, std).await?);
            }
            if let Some(custom) = custom {
                am.custom_attributes = Set(Value::Object(custom));
            }
            am.updated_at = Set(micros(now()));
            let row = am.update(txn).await?;
            let row = refresh_derived(txn, row).await?;
            let row = self.pre_update_hook(txn, row, &audit.actor).await?;
            tx.record(audit, Some(user_id.uuid()), json!({"user": snapshot(&row)})).await?;
            tx.event(audit, "user.profile.updated", Some(user_id.uuid()), json!({"user": snapshot(&row)})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Deletes a user and everything that belongs to them; the audit log keeps the record.
    pub async fn delete(&self, audit: &Audit, user_id: UserId, reason: Option<String>) -> Result<UserId> {
        crate::domain::text::check_text("reason", reason.as_deref().unwrap_or(""))?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            let model = crate::service::events::user_model::model_of(txn, &row).await?;
            crate::service::admin::lifecycle::purge_user_data(txn, row.id).await?;
            user::Entity::delete_by_id(user_id).exec(txn).await?;
            tx.record(audit, Some(user_id.uuid()), json!({"user": snapshot(&row), "reason": reason})).await?;
            let payload = json!({"user": model, "is_scheduled_deletion": false});
            tx.event(audit, "user.deleted", Some(user_id.uuid()), payload).await?;
            Ok(user_id)
        })
        .await
    }

    /// Disables (indefinitely or for a window) or re-enables a user.
    pub async fn set_disabled_status(
        &self,
        audit: &Audit,
        user_id: UserId,
        disabled: bool,
        reason: Option<String>,
        window: (Option<OffsetDateTime>, Option<OffsetDateTime>),
    ) -> Result<User> {
        crate::domain::text::check_text("reason", reason.as_deref().unwrap_or(""))?;
        let window = match window {
            (None, None) => None,
            (Some(from), Some(until)) if from < until && disabled => Some((from, until)),
            (Some(_), Some(_)) if !disabled => {
                return Err(Error::invalid(
                    reason::INVALID_DISABLED_STATUS,
                    "temporarilyDisabledFrom/Until only apply when isDisabled is true",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    reason::INVALID_DISABLED_STATUS,
                    "temporarilyDisabledFrom must be before temporarilyDisabledUntil",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    reason::INVALID_DISABLED_STATUS,
                    "give both temporarilyDisabledFrom and temporarilyDisabledUntil, or neither",
                ));
            }
        };
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            if row.delete_at.is_some() || row.anonymize_at.is_some() {
                // As in Authgear: a scheduled deletion or anonymization is unscheduled, not
                // overridden, so that no re-enabled account is deleted later.
                return Err(Error::invalid(
                    reason::INVALID_ACCOUNT_STATUS_TRANSITION,
                    "the user's deletion or anonymization is scheduled: unschedule it first",
                ));
            }
            if let Some((from, until)) = window {
                let outside = row.account_valid_from.is_some_and(|v| micros(from) < v)
                    || row.account_valid_until.is_some_and(|v| micros(until) > v);
                if outside {
                    return Err(Error::invalid(
                        reason::INVALID_DISABLED_STATUS,
                        "the temporary disable window must lie inside the account valid period",
                    ));
                }
            }
            let mut am = row.into_active_model();
            am.is_disabled = Set(disabled && window.is_none());
            am.disable_reason = Set(if disabled { reason.filter(|r| !r.is_empty()) } else { None });
            am.temporarily_disabled_from = Set(window.map(|w| micros(w.0)));
            am.temporarily_disabled_until = Set(window.map(|w| micros(w.1)));
            am.updated_at = Set(micros(now()));
            let row = am.update(txn).await?;
            let user = User::from(row.clone());
            let t = now();
            let mut ended = 0;
            if user.is_disabled_at(t) {
                // A disabled user is logged out everywhere at once: no session lingers in the
                // Admin API's list, and no refresh grant waits for its next use to fail.
                ended = crate::service::store::session_end::end_sessions(
                    txn,
                    crate::service::store::session_end::of_user(user_id.uuid()),
                    micros(t),
                )
                .await?;
                crate::service::account::device_tokens::end_device_tokens(txn, user_id.uuid()).await?;
            }
            if disabled {
                // A reset link sent before disabling stays dead after re-enabling too.
                crate::service::account::password_reset::end_reset_codes(txn, user_id.uuid(), micros(t)).await?;
            }
            tx.record(audit, Some(user_id.uuid()), json!({"user": snapshot(&row), "sessions_ended": ended})).await?;
            let event = if disabled { "user.disabled" } else { "user.reenabled" };
            tx.event(audit, event, Some(user_id.uuid()), json!({"user": snapshot(&row)})).await?;
            Ok(user)
        })
        .await
    }

    /// Sets or clears the bounds of the account valid period.
    pub async fn set_account_valid_period(&self, audit: &Audit, user_id: UserId, p: ValidPeriod) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let from = p.from.unwrap_or(row.account_valid_from.map(time_of));
            let until = p.until.unwrap_or(row.account_valid_until.map(time_of));
            if let (Some(f), Some(u)) = (from, until)
                && f >= u
            {
                return Err(Error::invalid(
                    reason::INVALID_ACCOUNT_VALID_PERIOD,
                    "accountValidFrom must be before accountValidUntil",
                ));
            }
            let window_outside = row.temporarily_disabled_from.is_some_and(|w| from.is_some_and(|f| micros(f) > w))
                || row.temporarily_disabled_until.is_some_and(|w| until.is_some_and(|u| micros(u) < w));
            if window_outside {
                return Err(Error::invalid(
                    reason::INVALID_ACCOUNT_VALID_PERIOD,
                    "the account valid period must contain the user's temporary disable window",
                ));
            }
            let mut am = row.into_active_model();
            am.account_valid_from = Set(from.map(micros));
            am.account_valid_until = Set(until.map(micros));
            am.updated_at = Set(micros(now()));
            let row = am.update(txn).await?;
            tx.record(audit, Some(user_id.uuid()), json!({"user": snapshot(&row)})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Sets a new primary password (creating the authenticator if the user has none); an
    /// empty password generates a random one.
    pub async fn reset_password(
        &self,
        audit: &Audit,
        user_id: UserId,
        password: String,
        expired: bool,
        send: bool,
    ) -> Result<User> {
        let password = self.password_or_generated(password)?;
        // Fail fast on an unknown user before spending a hash.
        let found: User = user::Entity::find_by_id(user_id)
            .one(&self.db.reader())
            .await?
            .ok_or_else(|| Error::not_found(reason::USER_NOT_FOUND, format!("user {user_id} does not exist")))?
            .into();
        let send_to = match (send, found.standard_attributes.get("email").and_then(Value::as_str)) {
            (false, _) => None,
            (true, Some(email)) => Some(email.to_owned()),
            (true, None) => {
                return Err(Error::invalid(
                    reason::SEND_PASSWORD_INVALID,
                    "sendPassword needs the user to have an email address",
                ));
            }
        };
        self.check_password_history(user_id, &password).await?;
        let hash = self.hasher.hash(password.clone()).await?;
        let keep = self.config.password_policy.history_kept();
        let t = now();
        let user = self
            .write(async |tx| {
                let txn = tx.conn();
                let row = admin_user_row(txn, user_id.uuid()).await?;
                upsert_password(txn, user_id.uuid(), hash, t, expired, keep).await?;
                tx.record(audit, Some(user_id.uuid()), json!({"user": snapshot(&row)})).await?;
                Ok::<_, Error>(User::from(row))
            })
            .await?;
        if let Some(to) = send_to {
            self.account().send_password_email(&to, &password, true, expired, &audit.actor).await?;
        }
        Ok(user)
    }

    /// Marks the primary password as expired (the user must change it at next login), or not.
    pub async fn set_password_expired(&self, audit: &Audit, user_id: UserId, expired: bool) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let auth = primary_password(txn, user_id.uuid()).await?.ok_or_else(|| {
                Error::not_found(reason::PASSWORD_AUTHENTICATOR_NOT_FOUND, format!("user {user_id} has no password"))
            })?;
            let t = now();
            let mut am = auth.into_active_model();
            am.expire_after = Set(expired.then_some(micros(t)));
            am.updated_at = Set(micros(t));
            am.update(txn).await?;
            tx.record(audit, Some(user_id.uuid()), json!({"user": snapshot(&row), "expired": expired})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Marks a claim (`email` or `phone_number`) value verified or unverified.
    pub async fn set_verified_status(
        &self,
        audit: &Audit,
        user_id: UserId,
        claim: &str,
        value: &str,
        verified: bool,
    ) -> Result<User> {
        let value = match claim {
            "email" => crate::domain::login_id::normalize_email(value.trim())?,
            "phone_number" => crate::domain::login_id::normalize_phone(value.trim())?,
            other => {
                return Err(Error::invalid(
                    reason::INVALID_CLAIM_NAME,
                    format!("claim {} cannot be verified: use email or phone_number", quoted(other)),
                ));
            }
        };
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let existing = verified_claim::Entity::find()
                .filter(Expr::col(verified_claim::Column::UserId).eq(user_id))
                .filter(Expr::col(verified_claim::Column::Name).eq(claim))
                .filter(Expr::col(verified_claim::Column::Value).eq(value.clone()))
                .one(txn)
                .await?;
            let changed = existing.is_some() != verified;
            match (existing, verified) {
                (None, true) => {
                    verified_claim::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        user_id: Set(user_id.uuid()),
                        name: Set(claim.to_owned()),
                        value: Set(value.clone()),
                        created_at: Set(micros(now())),
                    }
                    .insert(txn)
                    .await?;
                }
                (Some(c), false) => {
                    verified_claim::Entity::delete_by_id(c.id).exec(txn).await?;
                }
                _ => {}
            }
            let row = refresh_derived(txn, row).await?;
            tx.record(
                audit,
                Some(user_id.uuid()),
                json!({"user": snapshot(&row), "claim_name": claim, "claim_value": value, "is_verified": verified}),
            )
            .await?;
            if changed {
                verified_event(tx, audit, &row, claim, &value, verified).await?;
            }
            Ok(row.into())
        })
        .await
    }

    /// Loads one user.
    pub async fn get(&self, id: UserId) -> Result<Option<User>> {
        Ok(user::Entity::find_by_id(id).one(&self.db.reader()).await?.map(User::from))
    }

    /// Records a successful login time (the login flow calls this; tests use it to seed).
    pub async fn set_last_login_at(&self, user_id: UserId, at: OffsetDateTime) -> Result<()> {
        let res = user::Entity::update_many()
            .col_expr(user::Column::LastLoginAt, Expr::value(micros(at)))
            .filter(Expr::col(user::Column::Id).eq(user_id))
            .exec(&self.db.writer().await?)
            .await?;
        if res.rows_affected == 0 {
            return Err(Error::not_found(reason::USER_NOT_FOUND, format!("user {user_id} does not exist")));
        }
        Ok(())
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    /// ID.
    pub id: UserId,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// Last successful login.
    pub last_login_at: Option<OffsetDateTime>,
    /// OIDC standard attributes, including derived `*_verified` flags.
    pub standard_attributes: Value,
    /// Declared custom attributes.
    pub custom_attributes: Value,
    /// Disabled indefinitely by an admin.
    pub disabled_indefinitely: bool,
    /// Reason shown to the user.
    pub disable_reason: Option<String>,
    /// Deactivated by the end user.
    pub is_deactivated: bool,
    /// Anonymous user.
    pub is_anonymous: bool,
    /// Anonymized.
    pub is_anonymized: bool,
    /// Scheduled deletion time.
    pub delete_at: Option<OffsetDateTime>,
    /// Why the deletion was scheduled.
    pub delete_reason: Option<String>,
    /// When the user was anonymized.
    pub anonymized_at: Option<OffsetDateTime>,
    /// Scheduled anonymization time.
    pub anonymize_at: Option<OffsetDateTime>,
    /// Start of a temporary disable window.
    pub temporarily_disabled_from: Option<OffsetDateTime>,
    /// End of a temporary disable window.
    pub temporarily_disabled_until: Option<OffsetDateTime>,
    /// Start of the valid period.
    pub account_valid_from: Option<OffsetDateTime>,
    /// End of the valid period.
    pub account_valid_until: Option<OffsetDateTime>,
    /// End of the user's MFA grace period (enrol a second factor before then).
    pub mfa_grace_period_end_at: Option<OffsetDateTime>,
}

impl User {
    /// Whether the user is disabled at `now`: indefinitely, inside a temporary window, or
    /// outside the valid period.
    pub fn is_disabled_at(&self, now: OffsetDateTime) -> bool {
        let in_window = match (self.temporarily_disabled_from, self.temporarily_disabled_until) {
            (Some(from), Some(until)) => from <= now && now < until,
            _ => false,
        };
        let before_valid = self.account_valid_from.is_some_and(|from| now < from);
        let after_valid = self.account_valid_until.is_some_and(|until| now >= until);
        self.disabled_indefinitely || in_window || before_valid || after_valid
    }

    /// A display ID derived from the email, username or phone number.
    pub fn end_user_account_id(&self) -> Option<String> {
        ["email", "preferred_username", "phone_number"]
            .iter()
            .find_map(|k| self.standard_attributes.get(*k).and_then(Value::as_str).map(str::to_owned))
    }
}

impl From<entity::user::Model> for User {
    fn from(m: entity::user::Model) -> Self {
        Self {
            id: m.id.into(),
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
            last_login_at: m.last_login_at.map(time_of),
            standard_attributes: m.standard_attributes,
            custom_attributes: m.custom_attributes,
            disabled_indefinitely: m.is_disabled,
            disable_reason: m.disable_reason,
            is_deactivated: m.is_deactivated,
            is_anonymous: m.is_anonymous,
            is_anonymized: m.is_anonymized,
            delete_at: m.delete_at.map(time_of),
            delete_reason: m.delete_reason,
            anonymized_at: m.anonymized_at.map(time_of),
            anonymize_at: m.anonymize_at.map(time_of),
            temporarily_disabled_from: m.temporarily_disabled_from.map(time_of),
            temporarily_disabled_until: m.temporarily_disabled_until.map(time_of),
            account_valid_from: m.account_valid_from.map(time_of),
            account_valid_until: m.account_valid_until.map(time_of),
            mfa_grace_period_end_at: m.mfa_grace_period_end_at.map(time_of),
        }
    }
}

/// New standard attributes for `row`: `email`, `phone_number` and `preferred_username`
/// must be among the user's login IDs; the derived `*_verified` flags are kept (the
/// caller's `refresh_derived` recomputes them).
pub(in crate::service) async fn merge_standard(
    txn: &impl sea_orm::ConnectionTrait,
    row: &user::Model,
    mut std: serde_json::Map<String, Value>,
) -> Result<Value> {
    let idents = identity::Entity::find().filter(Expr::col(identity::Column::UserId).eq(row.id)).all(txn).await?;
    for (claim, login_type) in [("email", "email"), ("phone_number", "phone"), ("preferred_username", "username")] {
        if let Some(v) = std.get(claim).and_then(Value::as_str) {
            let owned = idents
                .iter()
                .any(|i| i.login_id_type == login_type && (i.value == v || i.unique_key == v.to_lowercase()));
            if !owned {
                return Err(Error::invalid(
                    reason::INVALID_STANDARD_ATTRIBUTES,
                    format!("standardAttributes.{claim} must be one of the user's {login_type} login IDs"),
                ));
            }
        }
    }
    for flag in ["email_verified", "phone_number_verified"] {
        if let Some(v) = row.standard_attributes.get(flag) {
            std.insert(flag.to_owned(), v.clone());
        }
    }
    Ok(Value::Object(std))
}

/// Records `identity.{email,phone}.{verified,unverified}` after `setVerifiedStatus`
/// changed a claim: the payload is the user and the login ID with that value (null when
/// the value is not one of the user's login IDs).
async fn verified_event(
    tx: &crate::service::unit_of_work::Tx,
    audit: &Audit,
    row: &user::Model,
    claim: &str,
    value: &str,
    verified: bool,
) -> Result<()> {
    let login_type = if claim == "email" { "email" } else { "phone" };
    let verb = if verified { "verified" } else { "unverified" };
    let ident = identity::Entity::find()
        .filter(Expr::col(identity::Column::UserId).eq(row.id))
        .filter(Expr::col(identity::Column::LoginIdType).eq(login_type))
        .filter(Expr::col(identity::Column::Value).eq(value))
        .one(tx.conn())
        .await?
        .map(|i| crate::service::events::user_model::identity_model(&i.into()));
    let payload = json!({"user": snapshot(row), "identity": ident, "claim_name": claim, "claim_value": value});
    tx.event(audit, &format!("identity.{login_type}.{verb}"), Some(row.id), payload).await
}
