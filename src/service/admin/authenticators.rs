//! Authenticators of a user as the Admin API manages them (passwords, email and SMS
//! one-time codes; TOTP is listed and removed here but enrolled by the user), and the
//! user's MFA grace period.

use crate::domain::ids::{AuthenticatorId, TypedId, UserId};
use crate::domain::login_id::{normalize_email, normalize_phone};
use crate::domain::password::check_policy;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::Authenticators;
use crate::service::admin::user_rows::{admin_user_row, snapshot};
use crate::service::admin::users::User;
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Audit, Error, Result, conflict_on_unique};
use entity::authenticator;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// Authgear's claim keys of authenticators.
pub mod claim {
    /// The authenticator's type (`password`, `oob_otp_email`, ...).
    pub const TYPE: &str = "https://authgear.com/claims/authenticator/type";
    /// The email address of an OOB OTP email authenticator.
    pub const OOB_OTP_EMAIL: &str = "https://authgear.com/claims/oob_otp/email";
    /// The phone number of an OOB OTP SMS authenticator.
    pub const OOB_OTP_PHONE: &str = "https://authgear.com/claims/oob_otp/phone";
    /// The display name of a TOTP authenticator.
    pub const TOTP_DISPLAY_NAME: &str = "https://authgear.com/claims/totp/display_name";
    /// The credential ID of a passkey authenticator.
    pub const PASSKEY_CREDENTIAL_ID: &str = "https://authgear.com/claims/passkey/credential_id";
}

/// Primary (a first factor) or secondary (a second factor); Authgear's authenticator
/// "kind", stored in the `factor` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A first factor.
    Primary,
    /// A second factor.
    Secondary,
}

impl Factor {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
        }
    }
}

/// An authenticator an admin adds (`createAuthenticator`).
#[derive(Clone)]
pub enum NewAuthenticator {
    /// A password, checked against the password policy and hashed.
    Password(String),
    /// One-time codes sent to this email address.
    OobOtpEmail(String),
    /// One-time codes sent to this phone number (E.164).
    OobOtpSms(String),
}

impl std::fmt::Debug for NewAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(***)"),
            Self::OobOtpEmail(e) => f.debug_tuple("OobOtpEmail").field(e).finish(),
            Self::OobOtpSms(p) => f.debug_tuple("OobOtpSms").field(p).finish(),
        }
    }
}

/// A checked `NewAuthenticator`: the hash of a password, or a normalized target.
enum Checked {
    Password(String),
    Oob { kind: &'static str, target: String },
}

/// A user's authenticators as stored, oldest first.
async fn rows_of(conn: &impl ConnectionTrait, user_id: UserId) -> Result<Vec<authenticator::Model>> {
    Ok(authenticator::Entity::find()
        .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
        .order_by_asc(authenticator::Column::Id)
        .all(conn)
        .await?)
}

fn duplicated_password(factor: Factor) -> Error {
    Error::conflict(reason::DUPLICATED_AUTHENTICATOR, format!("the user already has a {} password", factor.as_str()))
}

fn duplicated_target(factor: Factor, kind: &str, target: &str) -> Error {
    let what = if kind == "oob_otp_email" { "email" } else { "SMS" };
    Error::conflict(
        reason::DUPLICATED_AUTHENTICATOR,
        format!("the user already has a {} {what} code authenticator for {}", factor.as_str(), quoted(target)),
    )
}

/// Refuses a second password of the same kind.
fn check_password_free(rows: &[authenticator::Model], factor: Factor) -> Result<()> {
    if rows.iter().any(|a| a.kind == "password" && a.factor == factor.as_str()) {
        return Err(duplicated_password(factor));
    }
    Ok(())
}

impl Authenticators<'_> {
    /// Adds an authenticator to a user: at most one primary and one secondary password, and
    /// one OOB authenticator per type, kind and target.
    pub async fn create(
        &self,
        audit: &Audit,
        user_id: UserId,
        factor: Factor,
        new: NewAuthenticator,
    ) -> Result<Authenticator> {
        let checked = match new {
            NewAuthenticator::Password(p) => {
                check_policy(&self.config.password_policy, &p)?;
                // Fail fast on an unknown user or a password already there, before paying
                // for a hash; the transaction checks again.
                entity::user::Entity::find_by_id(user_id).one(&self.db.reader()).await?.ok_or_else(|| {
                    Error::not_found(reason::USER_NOT_FOUND, format!("user {user_id} does not exist"))
                })?;
                check_password_free(&rows_of(&self.db.reader(), user_id).await?, factor)?;
                Checked::Password(self.hasher.hash(p).await?)
            }
            NewAuthenticator::OobOtpEmail(e) => {
                Checked::Oob { kind: "oob_otp_email", target: normalize_email(e.trim())? }
            }
            NewAuthenticator::OobOtpSms(p) => Checked::Oob { kind: "oob_otp_sms", target: normalize_phone(p.trim())? },
        };
        let t = now();
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let existing = rows_of(txn, user_id).await?;
            let is_default = !existing.iter().any(|a| a.factor == factor.as_str() && a.is_default);
            let mut am = authenticator::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user_id.uuid()),
                kind: Set(String::new()),
                factor: Set(factor.as_str().to_owned()),
                is_default: Set(is_default),
                password_hash: Set(None),
                expire_after: Set(None),
                oob_target: Set(None),
                display_name: Set(None),
                totp_secret: Set(None),
                totp_last_step: Set(None),
                passkey_credential_id: Set(None),
                created_at: Set(micros(t)),
                updated_at: Set(micros(t)),
            };
            let duplicate = match &checked {
                Checked::Password(hash) => {
                    check_password_free(&existing, factor)?;
                    am.kind = Set("password".into());
                    am.password_hash = Set(Some(hash.clone()));
                    duplicated_password(factor)
                }
                Checked::Oob { kind, target } => {
                    let folded = target.to_lowercase();
                    let taken = existing.iter().any(|a| {
                        a.kind == *kind
                            && a.factor == factor.as_str()
                            && a.oob_target.as_deref().is_some_and(|t| t.to_lowercase() == folded)
                    });
                    if taken {
                        return Err(duplicated_target(factor, kind, target));
                    }
                    am.kind = Set((*kind).to_owned());
                    am.oob_target = Set(Some(target.clone()));
                    duplicated_target(factor, kind, target)
                }
            };
            // The unique indexes back the checks above against a concurrent writer.
            let a = am
                .insert(txn)
                .await
                .map_err(|e| conflict_on_unique(e, reason::DUPLICATED_AUTHENTICATOR, duplicate.describe()))?;
            if let (Checked::Password(hash), Factor::Primary) = (&checked, factor) {
                let keep = self.config.password_policy.history_kept();
                crate::service::admin::user_rows::record_password_history(txn, user_id.uuid(), hash, t, keep).await?;
            }
            let a = Authenticator::from(a);
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row), "authenticator": a.audit_view()})).await?;
            Ok(a)
        })
        .await
    }

    /// Removes an authenticator. If it was the default of its kind, the oldest remaining
    /// one of that kind becomes the default.
    pub async fn delete(&self, audit: &Audit, authenticator_id: AuthenticatorId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let a = authenticator::Entity::find_by_id(authenticator_id).one(txn).await?.ok_or_else(|| {
                Error::not_found(
                    reason::AUTHENTICATOR_NOT_FOUND,
                    format!("authenticator {authenticator_id} does not exist"),
                )
            })?;
            if a.kind == "passkey" {
                return Err(Error::invalid(
                    reason::UNSUPPORTED_AUTHENTICATOR_TYPE,
                    "a passkey authenticator goes with its passkey identity: delete the identity (deleteIdentity)",
                ));
            }
            let row = admin_user_row(txn, a.user_id).await?;
            authenticator::Entity::delete_by_id(authenticator_id).exec(txn).await?;
            if a.is_default
                && let Some(next) = rows_of(txn, a.user_id.into()).await?.into_iter().find(|r| r.factor == a.factor)
            {
                let mut am = next.into_active_model();
                am.is_default = Set(true);
                am.update(txn).await?;
            }
            let a = Authenticator::from(a);
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row), "authenticator": a.audit_view()})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Lets the user sign in without a second factor until `end_at` (in the future), even
    /// when MFA is required; they are led to enrol one.
    pub async fn set_mfa_grace_period(&self, audit: &Audit, user_id: UserId, end_at: OffsetDateTime) -> Result<User> {
        if end_at <= now() {
            return Err(Error::invalid(reason::INVALID_MFA_GRACE_PERIOD, "endAt must be in the future"));
        }
        self.grace_period(audit, user_id, Some(end_at)).await
    }

    /// Ends the user's MFA grace period (if any).
    pub async fn remove_mfa_grace_period(&self, audit: &Audit, user_id: UserId) -> Result<User> {
        self.grace_period(audit, user_id, None).await
    }

    async fn grace_period(&self, audit: &Audit, user_id: UserId, end_at: Option<OffsetDateTime>) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let mut am = row.into_active_model();
            am.mfa_grace_period_end_at = Set(end_at.map(micros));
            am.updated_at = Set(micros(now()));
            let row = am.update(txn).await?;
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row)})).await?;
            Ok(row.into())
        })
        .await
    }
}

/// An authenticator. Secrets (password hash, TOTP seed) never leave the service layer.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// ID.
    pub id: AuthenticatorId,
    /// Owner.
    pub user_id: UserId,
    /// `password`, `oob_otp_email`, `oob_otp_sms`, `totp` or `passkey`.
    pub kind: String,
    /// `primary` or `secondary`.
    pub factor: String,
    /// Default of its kind.
    pub is_default: bool,
    /// When the password expires (set by `setPasswordExpired`).
    pub expire_after: Option<OffsetDateTime>,
    /// The email address or phone number of an OOB OTP authenticator.
    pub oob_target: Option<String>,
    /// The display name of a TOTP or passkey authenticator.
    pub display_name: Option<String>,
    /// The credential ID (base64url) of a passkey authenticator.
    pub passkey_credential_id: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl Authenticator {
    /// Whether this is an authenticator of type `kind` (`password`, ...) and `factor`.
    pub fn is(&self, kind: &str, factor: Factor) -> bool {
        self.kind == kind && self.factor == factor.as_str()
    }

    /// The non-secret claims, with Authgear's keys.
    pub fn claims(&self) -> Value {
        let mut c = json!({ claim::TYPE: self.kind });
        let extra = match self.kind.as_str() {
            "oob_otp_email" => Some((claim::OOB_OTP_EMAIL, &self.oob_target)),
            "oob_otp_sms" => Some((claim::OOB_OTP_PHONE, &self.oob_target)),
            "totp" => Some((claim::TOTP_DISPLAY_NAME, &self.display_name)),
            "passkey" => Some((claim::PASSKEY_CREDENTIAL_ID, &self.passkey_credential_id)),
            _ => None,
        };
        if let Some((key, Some(v))) = extra {
            c[key] = Value::String(v.clone());
        }
        c
    }

    /// What an audit row records of it.
    pub(in crate::service) fn audit_view(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "kind": self.factor,
            "is_default": self.is_default,
            "claims": self.claims(),
        })
    }
}

impl From<authenticator::Model> for Authenticator {
    fn from(m: authenticator::Model) -> Self {
        Self {
            id: m.id.into(),
            user_id: m.user_id.into(),
            kind: m.kind,
            factor: m.factor,
            is_default: m.is_default,
            expire_after: m.expire_after.map(time_of),
            oob_target: m.oob_target,
            display_name: m.display_name,
            passkey_credential_id: m.passkey_credential_id,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}
