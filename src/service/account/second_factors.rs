//! The second factors a user can be asked for at sign-in: an authenticator app, and the
//! email addresses and phone numbers registered as second factors (a code by email or
//! SMS, `code_login.rs`), and removing one of those addresses in settings.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter, QueryOrder};

use crate::domain::ids::{AuthenticatorId, UserId};
use crate::service::account::code_login::mask;
use crate::service::account::login::{LoginError, PasswordPassed};
use crate::service::account::otp::Channel;
use crate::service::account::second_factor_end::FactorKind;
use crate::service::{Account, Actor, Audit, Error, Result};
use entity::authenticator;

/// The second factors a user can choose from on the second-factor page.
#[derive(Debug, Clone, Default)]
pub struct SecondFactors {
    /// Has an authenticator app.
    pub totp: bool,
    /// Email addresses and phone numbers registered as second factors.
    pub oob: Vec<OobFactor>,
    /// A recovery code may be used instead.
    pub recovery_code: bool,
}

/// One registered second-factor address or number.
#[derive(Debug, Clone)]
pub struct OobFactor {
    /// The authenticator.
    pub id: AuthenticatorId,
    /// Email or SMS.
    pub channel: Channel,
    /// The address or number, partly hidden.
    pub masked: String,
}

impl Account<'_> {
    /// The second factors of the user a sealed "first factor passed" state names, those
    /// the sign-in hooks' `constraints.amr` accepts.
    pub async fn second_factors(&self, mfa_pending: &str, flow: &str) -> Result<SecondFactors, LoginError> {
        let passed = self.first_factor_passed(mfa_pending, flow)?;
        self.second_factors_of(UserId::from(passed.user), &passed).await
    }

    /// The second factors of `user_id` that may end the step `passed`.
    pub(in crate::service) async fn second_factors_of(
        &self,
        user_id: UserId,
        passed: &PasswordPassed,
    ) -> Result<SecondFactors, LoginError> {
        let totp = passed.accepts(FactorKind::Totp) && !self.totp_authenticators(user_id).await?.is_empty();
        let mut oob = self.secondary_oob(user_id).await?;
        oob.retain(|f| passed.accepts(FactorKind::Oob(f.channel)));
        Ok(SecondFactors { totp, oob, recovery_code: passed.accepts(FactorKind::RecoveryCode) })
    }

    /// Whether the user has a second factor to ask for: an authenticator app, or an email
    /// address or phone number of an enabled channel. One query.
    pub(in crate::service) async fn has_second_factor(&self, user_id: UserId) -> Result<bool> {
        Ok(authenticator::Entity::find()
            .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
            .filter(Expr::col(authenticator::Column::Factor).eq("secondary"))
            .filter(Expr::col(authenticator::Column::Kind).is_in(self.second_factor_kinds()))
            .one(&self.db.reader())
            .await?
            .is_some())
    }

    /// Whether `a` is a second factor to ask for (see [`Self::has_second_factor`]).
    pub(in crate::service) fn asks_as_second_factor(&self, a: &authenticator::Model) -> bool {
        a.factor == "secondary" && self.second_factor_kinds().contains(&a.kind.as_str())
    }

    /// The kinds of secondary authenticators that are asked for: authenticator apps, and
    /// the OOB OTP channels enabled as second factors.
    fn second_factor_kinds(&self) -> Vec<&'static str> {
        let cfg = &self.config.oob_otp;
        let mut kinds = vec!["totp"];
        if cfg.email.channel.secondary {
            kinds.push("oob_otp_email");
        }
        if cfg.sms.secondary {
            kinds.push("oob_otp_sms");
        }
        kinds
    }

    /// The user's second-factor email addresses and phone numbers, enabled channels only.
    pub async fn secondary_oob(&self, user_id: UserId) -> Result<Vec<OobFactor>> {
        let cfg = &self.config.oob_otp;
        let rows = authenticator::Entity::find()
            .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
            .filter(Expr::col(authenticator::Column::Factor).eq("secondary"))
            .filter(Expr::col(authenticator::Column::Kind).is_in(["oob_otp_email", "oob_otp_sms"]))
            .order_by_asc(authenticator::Column::CreatedAt)
            .all(&self.db.reader())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let channel = if r.kind == "oob_otp_email" { Channel::Email } else { Channel::Sms };
                let enabled = match channel {
                    Channel::Email => cfg.email.channel.secondary,
                    Channel::Sms => cfg.sms.secondary,
                };
                let target = r.oob_target?;
                enabled.then(|| OobFactor { id: r.id.into(), channel, masked: mask(channel, &target) })
            })
            .collect())
    }

    /// Removes one of the user's second-factor addresses (audited `authenticator.deleted`).
    pub async fn delete_own_secondary_oob(&self, user_id: UserId, id: AuthenticatorId, actor: &Actor) -> Result<()> {
        if !self.secondary_oob(user_id).await?.iter().any(|f| f.id == id) {
            return Err(Error::not_found(
                crate::domain::reason::AUTHENTICATOR_NOT_FOUND,
                "this address has already been removed",
            ));
        }
        let audit = Audit { actor: actor.clone(), activity: "authenticator.deleted".into() };
        self.authenticators().delete(&audit, id).await.map(|_| ())
    }
}
