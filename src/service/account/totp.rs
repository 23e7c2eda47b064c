//! TOTP second factors a user enrols on the settings page: enrolment (nothing is stored
//! until a first code confirms it), verification (each time step is accepted once) and
//! removal.

use crate::crypto::{b64, b64_decode, totp};
use crate::domain::ids::{AuthenticatorId, TypedId, UserId};
use crate::domain::reason;
use crate::domain::text::check_text;
use crate::service::Account;
use crate::service::admin::authenticators::{Authenticator, Factor};
use crate::service::admin::user_rows::{snapshot, user_row};
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error, Result};
use entity::authenticator;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// How long an enrolment may wait for its first code.
pub const ENROLMENT_LIFETIME_SECS: i64 = 30 * 60;

/// The longest display name of an authenticator, in characters.
pub const MAX_DISPLAY_NAME: usize = 100;

/// The audit activity of an added authenticator.
pub const CREATED: &str = "authenticator.created";
/// The audit activity of a removed authenticator.
pub const DELETED: &str = "authenticator.deleted";

/// The purpose a pending enrolment is sealed for.
const PURPOSE: &str = "totp-enrolment";

/// What the browser carries between the QR code and the first code: the user, the new
/// secret (encrypted with the master key) and when it was made; sealed with a MAC.
#[derive(Serialize, Deserialize)]
struct Pending {
    user: Uuid,
    secret: String,
    iat: i64,
}

/// An enrolment waiting for its first code.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The `otpauth://` Key URI.
    pub uri: String,
    /// The secret as base32, for typing it in by hand.
    pub secret_base32: String,
    /// The URI as a QR code, an inline `<svg>` element.
    pub qr_svg: String,
    /// The sealed pending value the confirmation form sends back.
    pub pending: String,
}

fn expired() -> Error {
    Error::invalid(
        reason::TOTP_ENROLMENT_INVALID,
        "this enrolment has expired or is not valid; scan the new QR code and enter a new code",
    )
}

fn wrong_code() -> Error {
    Error::invalid(reason::INVALID_CREDENTIALS, "the code is not correct; enter the current 6-digit code from the app")
}

fn unix_now() -> u64 {
    u64::try_from(now().unix_timestamp()).unwrap_or(0)
}

impl Account<'_> {
    fn enrolment(&self, user_id: UserId, account: &str, secret: &[u8], pending: String) -> Result<TotpEnrolment> {
        let uri = totp::otpauth_uri(&self.config.ui.app_name, account, secret);
        let qr_svg =
            totp::qr_svg(&uri).ok_or_else(|| Error::internal(format!("QR code of the TOTP URI of user {user_id}")))?;
        Ok(TotpEnrolment { uri, secret_base32: totp::base32(secret), qr_svg, pending })
    }

    async fn account_label(&self, user_id: UserId) -> Result<String> {
        let user = self
            .users()
            .get(user_id)
            .await?
            .ok_or_else(|| Error::not_found(reason::USER_NOT_FOUND, format!("user {user_id} does not exist")))?;
        Ok(user.end_user_account_id().unwrap_or_else(|| user.id.to_string()))
    }

    /// Starts enrolling a TOTP authenticator: a new random secret, its URI and QR code,
    /// and the sealed pending value. Nothing is stored.
    pub async fn begin_totp_enrolment(&self, user_id: UserId) -> Result<TotpEnrolment> {
        let account = self.account_label(user_id).await?;
        let secret = totp::new_secret();
        let pending =
            Pending { user: user_id.uuid(), secret: b64(self.master_key.encrypt(&secret)), iat: micros(now()) };
        let sealed = self.seal(PURPOSE, &pending);
        self.enrolment(user_id, &account, &secret, sealed)
    }

    /// The secret of a pending enrolment of this user, if it is intact and not expired.
    fn open_pending(&self, user_id: UserId, sealed: &str) -> Result<Vec<u8>> {
        let p: Pending = self.unseal(PURPOSE, sealed).ok_or_else(expired)?;
        let age = micros(now()) - p.iat;
        if p.user != user_id.uuid() || !(0..ENROLMENT_LIFETIME_SECS * 1_000_000).contains(&age) {
            return Err(expired());
        }
        let enc = b64_decode(&p.secret).ok_or_else(expired)?;
        let secret = self.master_key.decrypt(&enc).map_err(|_| expired())?;
        if secret.len() != totp::SECRET_LEN {
            return Err(expired());
        }
        Ok(secret)
    }

    /// The same pending enrolment again (to show the form again after a wrong code).
    pub async fn reopen_totp_enrolment(&self, user_id: UserId, sealed: &str) -> Result<TotpEnrolment> {
        let secret = self.open_pending(user_id, sealed)?;
        let account = self.account_label(user_id).await?;
        self.enrolment(user_id, &account, &secret, sealed.to_owned())
    }

    /// Finishes an enrolment: checks the code against the pending secret and stores a
    /// secondary TOTP authenticator named `display_name`, its secret encrypted with the
    /// master key and the accepted step as used.
    pub async fn confirm_totp_enrolment(
        &self,
        user_id: UserId,
        sealed: &str,
        display_name: &str,
        code: &str,
        actor: &Actor,
    ) -> Result<Authenticator> {
        let secret = self.open_pending(user_id, sealed)?;
        let name = display_name.trim();
        if name.is_empty() {
            return Err(Error::invalid(reason::INVALID_TEXT, "enter a name for this authenticator"));
        }
        check_text("the name", name)?;
        if name.chars().count() > MAX_DISPLAY_NAME {
            return Err(Error::invalid(
                reason::INVALID_TEXT,
                format!("the name must be at most {MAX_DISPLAY_NAME} characters"),
            ));
        }
        let step = totp::check(&secret, code, unix_now()).ok_or_else(wrong_code)?;
        let step = i64::try_from(step).map_err(|_| wrong_code())?;
        let encrypted = self.master_key.encrypt(&secret);
        let t = micros(now());
        let audit = Audit { actor: actor.clone(), activity: CREATED.into() };
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            let has_default = authenticator::Entity::find()
                .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
                .filter(Expr::col(authenticator::Column::Factor).eq(Factor::Secondary.as_str()))
                .filter(Expr::col(authenticator::Column::IsDefault).eq(true))
                .one(txn)
                .await?
                .is_some();
            let am = authenticator::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user_id.uuid()),
                kind: Set("totp".into()),
                factor: Set(Factor::Secondary.as_str().into()),
                is_default: Set(!has_default),
                password_hash: Set(None),
                expire_after: Set(None),
                oob_target: Set(None),
                display_name: Set(Some(name.to_owned())),
                totp_secret: Set(Some(encrypted.clone())),
                totp_last_step: Set(Some(step)),
                passkey_credential_id: Set(None),
                created_at: Set(t),
                updated_at: Set(t),
            };
            let a = Authenticator::from(am.insert(txn).await?);
            tx.record(&audit, Some(row.id), json!({"user": snapshot(&row), "authenticator": a.audit_view()})).await?;
            Ok(a)
        })
        .await
    }

    /// The user's TOTP authenticators, oldest first.
    pub async fn totp_authenticators(&self, user_id: UserId) -> Result<Vec<Authenticator>> {
        Ok(totp_rows(self, user_id).await?.into_iter().map(Authenticator::from).collect())
    }

    /// Checks a code from one of the user's TOTP authenticators. A time step is accepted
    /// once per authenticator: the step is claimed with one conditional UPDATE, so of two
    /// concurrent submissions of the same code exactly one succeeds. Returns the
    /// authenticator that matched.
    pub async fn verify_totp(&self, user_id: UserId, code: &str) -> Result<AuthenticatorId> {
        let at = unix_now();
        let mut reused = false;
        for row in totp_rows(self, user_id).await? {
            let Some(enc) = row.totp_secret.as_deref() else { continue };
            // A secret that does not decrypt (another master key, a damaged row) is
            // logged and skipped, so that it does not lock out the user's other apps.
            let secret = match self.master_key.decrypt(enc) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(authenticator = %row.id, cause = %e, "a TOTP secret does not decrypt");
                    continue;
                }
            };
            let Some(step) = totp::check(&secret, code, at).and_then(|s| i64::try_from(s).ok()) else { continue };
            let claimed = authenticator::Entity::update_many()
                .col_expr(authenticator::Column::TotpLastStep, Expr::value(step))
                .filter(Expr::col(authenticator::Column::Id).eq(row.id))
                .filter(
                    Condition::any()
                        .add(Expr::col(authenticator::Column::TotpLastStep).is_null())
                        .add(Expr::col(authenticator::Column::TotpLastStep).lt(step)),
                )
                .exec(&self.db.writer().await?)
                .await?;
            if claimed.rows_affected == 1 {
                return Ok(row.id.into());
            }
            reused = true;
        }
        if reused {
            return Err(Error::invalid(
                reason::INVALID_CREDENTIALS,
                "this code has already been used; wait for the next code from the app",
            ));
        }
        Err(wrong_code())
    }

    /// Removes one of the user's own TOTP authenticators (the ID of any other
    /// authenticator is not found).
    pub async fn delete_own_totp(&self, user_id: UserId, id: AuthenticatorId, actor: &Actor) -> Result<()> {
        let owned = totp_rows(self, user_id).await?.iter().any(|r| r.id == id.uuid());
        if !owned {
            return Err(Error::not_found(
                reason::AUTHENTICATOR_NOT_FOUND,
                "this authenticator app has already been removed",
            ));
        }
        let audit = Audit { actor: actor.clone(), activity: DELETED.into() };
        self.authenticators().delete(&audit, id).await.map(|_| ())
    }
}

async fn totp_rows(account: &Account<'_>, user_id: UserId) -> Result<Vec<authenticator::Model>> {
    Ok(authenticator::Entity::find()
        .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
        .filter(Expr::col(authenticator::Column::Kind).eq("totp"))
        .filter(Expr::col(authenticator::Column::Factor).eq(Factor::Secondary.as_str()))
        .order_by_asc(authenticator::Column::Id)
        .all(&account.db.reader())
        .await?)
}
