//! Verified email addresses and phone numbers, as the user proves them with a code: a
//! code that reaches a login ID marks it verified (`email_verified`,
//! `phone_number_verified`), audited as `identity.email.verified` /
//! `identity.phone.verified`.

use crate::domain::ids::{TypedId, UserId};
use crate::service::Account;
use crate::service::account::otp::Channel;
use crate::service::admin::user_rows::{refresh_derived, snapshot, user_row};
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::Tx;
use crate::service::{Actor, Audit, Result};
use entity::{authenticator, user, verified_claim};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TryInsertResult};
use serde_json::{Value, json};
use uuid::Uuid;

/// The claim a channel verifies and the audit activity it writes.
pub(in crate::service) fn claim_of(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Email => ("email", "identity.email.verified"),
        Channel::Sms => ("phone_number", "identity.phone.verified"),
    }
}

impl Account<'_> {
    /// Marks `target` verified for the user (a code sent there came back). With
    /// `primary_oob`, also gives the user a primary OOB OTP authenticator for it (a
    /// passwordless signup). Writes nothing when both are already so; returns whether
    /// the claim was newly verified.
    pub(in crate::service) async fn mark_verified(
        &self,
        user_id: UserId,
        channel: Channel,
        target: &str,
        primary_oob: bool,
        actor: &Actor,
    ) -> Result<bool> {
        // Nothing to write (and so no audit row for the unit of work) when the claim is
        // verified already and no authenticator is added.
        let (claim, _) = claim_of(channel);
        let verified = verified_claim::Entity::find()
            .filter(Expr::col(verified_claim::Column::UserId).eq(user_id))
            .filter(Expr::col(verified_claim::Column::Name).eq(claim))
            .filter(Expr::col(verified_claim::Column::Value).eq(target))
            .one(&self.db.reader())
            .await?
            .is_some();
        if verified && !primary_oob {
            return Ok(false);
        }
        self.write(async |tx| self.mark_verified_in(tx, user_id, channel, target, primary_oob, actor).await).await
    }

    /// [`Self::mark_verified`] inside the caller's unit of work `tx` (a sign-in by code
    /// marks the address verified in the transaction that opens its session).
    pub(in crate::service) async fn mark_verified_in(
        &self,
        tx: &Tx,
        user_id: UserId,
        channel: Channel,
        target: &str,
        primary_oob: bool,
        actor: &Actor,
    ) -> Result<bool> {
        let (claim, activity) = claim_of(channel);
        let kind = match channel {
            Channel::Email => "oob_otp_email",
            Channel::Sms => "oob_otp_sms",
        };
        let t = micros(now());
        let txn = tx.conn();
        {
            // The claim first: whether it was verified already comes back with the insert.
            let claim_row = verified_claim::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user_id.uuid()),
                name: Set(claim.to_owned()),
                value: Set(target.to_owned()),
                created_at: Set(t),
            };
            let inserted = verified_claim::Entity::insert(claim_row)
                .on_conflict_do_nothing_on([
                    verified_claim::Column::UserId,
                    verified_claim::Column::Name,
                    verified_claim::Column::Value,
                ])
                .exec_without_returning(txn)
                .await?;
            let newly = matches!(inserted, TryInsertResult::Inserted(n) if n > 0);
            if !newly && !primary_oob {
                return Ok(false);
            }
            let row = user_row(txn, user_id.uuid()).await?;
            if primary_oob {
                authenticator::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(user_id.uuid()),
                    kind: Set(kind.to_owned()),
                    factor: Set("primary".to_owned()),
                    is_default: Set(false),
                    password_hash: Set(None),
                    expire_after: Set(None),
                    oob_target: Set(Some(target.to_owned())),
                    display_name: Set(None),
                    totp_secret: Set(None),
                    totp_last_step: Set(None),
                    passkey_credential_id: Set(None),
                    created_at: Set(t),
                    updated_at: Set(t),
                }
                .insert(txn)
                .await?;
            }
            let row = flag_verified(txn, row, claim, target).await?;
            let audit = Audit { actor: actor.clone(), activity: activity.into() };
            tx.record(
                &audit,
                Some(user_id.uuid()),
                json!({"user": snapshot(&row), "claim_name": claim, "claim_value": target}),
            )
            .await?;
            Ok(newly)
        }
    }
}

/// The user's row once `claim` = `target` is verified. When the profile shows that very
/// value, only its `…_verified` flag changes (one update); otherwise the derived claims are
/// worked out again from the identities and verified claims.
async fn flag_verified(txn: &impl ConnectionTrait, row: user::Model, claim: &str, target: &str) -> Result<user::Model> {
    let flag = format!("{claim}_verified");
    let attrs = &row.standard_attributes;
    if attrs.get(claim).and_then(Value::as_str) != Some(target) {
        return refresh_derived(txn, row).await;
    }
    if attrs.get(flag.as_str()).and_then(Value::as_bool) == Some(true) {
        return Ok(row);
    }
    let mut attrs = attrs.clone();
    if let Value::Object(m) = &mut attrs {
        m.insert(flag, Value::Bool(true));
    }
    let mut am = row.into_active_model();
    am.standard_attributes = Set(attrs);
    am.updated_at = Set(micros(now()));
    Ok(am.update(txn).await?)
}

/// Sealed between sending a verification code and checking it.
#[derive(serde::Serialize, serde::Deserialize)]
struct VerificationSent {
    user: Uuid,
    target: String,
    channel: Channel,
    iat: i64,
    /// A second-factor address being added: a right code registers it.
    #[serde(default)]
    enrol: bool,
}

/// What a right verification code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Marked the user's own email address or phone number verified.
    Claim(Channel),
    /// Registered the address or number as a second factor.
    SecondFactor(Channel),
}

/// The purpose a verification state is sealed for.
const VERIFY_PURPOSE: &str = "verify-code";

/// A verification code on its way.
#[derive(Debug, Clone)]
pub struct VerificationChallenge {
    /// The sealed state to send back with the code.
    pub pending: String,
    /// Where the code went, partly hidden.
    pub masked: String,
    /// Email or SMS.
    pub channel: Channel,
    /// Why no new message went out (the last one still works), if so.
    pub not_sent: Option<crate::service::account::otp::NotSent>,
}

impl Account<'_> {
    /// Sends a code to the user's own email address (`Email`) or phone number (`Sms`) to
    /// verify it.
    pub async fn start_verification(
        &self,
        user_id: UserId,
        channel: Channel,
        actor: &Actor,
    ) -> Result<VerificationChallenge> {
        let (claim, _) = claim_of(channel);
        let user = self.users().get(user_id).await?.ok_or_else(|| {
            crate::service::Error::not_found(crate::domain::reason::USER_NOT_FOUND, "the user does not exist")
        })?;
        let Some(target) = user.standard_attributes.get(claim).and_then(serde_json::Value::as_str).map(str::to_owned)
        else {
            let what = if channel == Channel::Email { "an email address" } else { "a phone number" };
            return Err(crate::service::Error::invalid(
                crate::domain::reason::INVALID_CLAIM_NAME,
                format!("your account has no {what} to verify"),
            ));
        };
        self.send_verification(user_id, channel, target, false, actor).await
    }

    /// Adding an email address or phone number as a second factor, step one: sends a
    /// code to it (the right code registers it with [`Self::finish_verification`]).
    pub async fn start_second_factor_enrolment(
        &self,
        user_id: UserId,
        channel: Channel,
        input: &str,
        actor: &Actor,
    ) -> Result<VerificationChallenge> {
        use crate::domain::login_id::{LoginId, normalize_phone};
        let target = match channel {
            Channel::Email => LoginId::lookup_key(&self.config.login_id, "email", input)?,
            Channel::Sms => normalize_phone(input.trim())?,
        };
        let enabled = match channel {
            Channel::Email => self.config.oob_otp.email.channel.secondary,
            Channel::Sms => self.config.oob_otp.sms.secondary,
        };
        if !enabled {
            return Err(crate::service::Error::invalid(
                crate::domain::reason::UNSUPPORTED_AUTHENTICATOR_TYPE,
                "codes by this channel are not enabled as a second factor",
            ));
        }
        if self.has_secondary_oob(user_id, channel, &target).await? {
            return Err(crate::service::Error::conflict(
                crate::domain::reason::DUPLICATED_AUTHENTICATOR,
                "this address is already a second factor of your account",
            ));
        }
        self.send_verification(user_id, channel, target, true, actor).await
    }

    async fn has_secondary_oob(&self, user_id: UserId, channel: Channel, target: &str) -> Result<bool> {
        let kind = if channel == Channel::Email { "oob_otp_email" } else { "oob_otp_sms" };
        Ok(authenticator::Entity::find()
            .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
            .filter(Expr::col(authenticator::Column::Kind).eq(kind))
            .filter(Expr::col(authenticator::Column::Factor).eq("secondary"))
            .all(&self.db.reader())
            .await?
            .iter()
            .any(|a| a.oob_target.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(target))))
    }

    async fn send_verification(
        &self,
        user_id: UserId,
        channel: Channel,
        target: String,
        enrol: bool,
        actor: &Actor,
    ) -> Result<VerificationChallenge> {
        use crate::service::account::otp::{NotSent, OtpPurpose};
        let mut not_sent = None;
        match self.issue_code(OtpPurpose::Verification, channel, &target, false, actor).await? {
            Ok(issued) => self.deliver_code(OtpPurpose::Verification, channel, &target, &issued, None, actor).await?,
            Err(NotSent::RateLimited) => {
                return Err(crate::service::Error::invalid(
                    crate::domain::reason::RATE_LIMITED,
                    "too many messages were sent; wait and try again later",
                ));
            }
            Err(n) => not_sent = Some(n),
        }
        let state = VerificationSent {
            user: user_id.uuid(),
            target: target.clone(),
            channel,
            iat: now().unix_timestamp(),
            enrol,
        };
        Ok(VerificationChallenge {
            pending: self.seal(VERIFY_PURPOSE, &state),
            masked: crate::service::account::code_login::mask(channel, &target),
            channel,
            not_sent,
        })
    }

    /// The page's view of a sealed verification state of this user, if valid.
    pub fn verification_challenge(&self, user_id: UserId, pending: &str) -> Option<VerificationChallenge> {
        let s = self.verification_sent(user_id, pending)?;
        Some(VerificationChallenge {
            pending: pending.to_owned(),
            masked: crate::service::account::code_login::mask(s.channel, &s.target),
            channel: s.channel,
            not_sent: None,
        })
    }

    fn verification_sent(&self, user_id: UserId, pending: &str) -> Option<VerificationSent> {
        let s: VerificationSent = self.unseal(VERIFY_PURPOSE, pending)?;
        let age = now().unix_timestamp() - s.iat;
        (s.user == user_id.uuid() && (0..=self.config.oob_otp.code_lifetime_seconds + 60).contains(&age)).then_some(s)
    }

    /// Checks a verification code; a right one marks the address or number verified
    /// (audited `identity.email.verified` / `identity.phone.verified`), or, for a
    /// second-factor address being added, registers it (audited `authenticator.created`);
    /// the result says which. Wrong codes count
    /// in the per-address limit and revoke the code after `oob_otp.max_failed_attempts`.
    pub async fn finish_verification(
        &self,
        user_id: UserId,
        pending: &str,
        code: &str,
        actor: &Actor,
    ) -> Result<Verified> {
        use crate::service::Error;
        use crate::service::account::otp::{CodeCheck, OtpPurpose};
        use crate::service::account::rate_limit::{Weight, code_failures_bucket};
        let expired =
            || Error::invalid(crate::domain::reason::OTP_CODE_INVALID, "this code has expired; send a new one");
        let s = self.verification_sent(user_id, pending).ok_or_else(expired)?;
        let bucket = code_failures_bucket(actor);
        let limit = self.config.messaging.code_failures_per_ip_per_minute;
        if !self.under_weighted_limit(&bucket, limit, Weight::ONE).await? {
            self.record_blocked(actor, "code", &bucket).await?;
            return Err(Error::invalid(crate::domain::reason::RATE_LIMITED, "too many wrong codes; wait a minute"));
        }
        let checked = self.check_code(OtpPurpose::Verification, &s.target, code).await?;
        if checked != CodeCheck::Accepted {
            self.count_weighted(&bucket, limit, Weight::ONE).await?;
        }
        match checked {
            CodeCheck::Accepted => {
                if s.enrol {
                    use crate::service::admin::authenticators::{Factor, NewAuthenticator};
                    let new = match s.channel {
                        Channel::Email => NewAuthenticator::OobOtpEmail(s.target.clone()),
                        Channel::Sms => NewAuthenticator::OobOtpSms(s.target.clone()),
                    };
                    let audit = Audit { actor: actor.clone(), activity: "authenticator.created".into() };
                    self.authenticators().create(&audit, user_id, Factor::Secondary, new).await?;
                    return Ok(Verified::SecondFactor(s.channel));
                }
                self.mark_verified(user_id, s.channel, &s.target, false, actor).await?;
                Ok(Verified::Claim(s.channel))
            }
            CodeCheck::Wrong(left) => Err(Error::invalid(
                crate::domain::reason::OTP_CODE_INVALID,
                if left == 0 {
                    "too many wrong codes: this one no longer works; send a new one".to_owned()
                } else {
                    format!("the code is incorrect; {left} more tries before it stops working")
                },
            )),
            CodeCheck::Expired => Err(Error::invalid(
                crate::domain::reason::OTP_CODE_INVALID,
                "this code has expired or was already used; send a new one",
            )),
        }
    }
}
