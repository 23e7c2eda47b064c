//! The end of a second factor (an authenticator app's code, a recovery code, a code by
//! email or SMS, a remembered device, an app enrolled during the sign-in): the
//! `authentication.pre_authenticated` hook when it has not run yet, then the session, or
//! one more second factor when a hook's `constraints.amr` asks for methods not proved yet.
//!
//! `constraints.amr` also decides which second factors a step offers: one whose methods,
//! added to those proved so far, would still leave a demanded method out is not offered
//! and is refused (an `x_secondary_totp` demand is met by an authenticator app only).

use time::OffsetDateTime;

use crate::domain::ids::SessionId;
use crate::service::account::code_login::code_amr;
use crate::service::account::device_tokens::AMR_DEVICE_TOKEN;
use crate::service::account::login::{AMR_TOTP, LoginError, LoginOutcome, MFA_PURPOSE, PasswordPassed, combined_amr};
use crate::service::account::otp::Channel;
use crate::service::admin::users::User;
use crate::service::events::sign_in::{AuthStep, SignInSoFar};
use crate::service::store::time::now;
use crate::service::{Account, Actor};

/// A kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::service) enum FactorKind {
    /// A code from an authenticator app.
    Totp,
    /// A code by email or SMS to a registered address.
    Oob(Channel),
    /// A recovery code.
    RecoveryCode,
    /// A remembered device ("Don't ask again on this device").
    DeviceToken,
}

impl FactorKind {
    /// Authgear's name of it in `asserted_authentications`.
    fn authentication(self) -> &'static str {
        match self {
            Self::Totp => "secondary_totp",
            Self::Oob(Channel::Email) => "secondary_oob_otp_email",
            Self::Oob(Channel::Sms) => "secondary_oob_otp_sms",
            Self::RecoveryCode => "recovery_code",
            Self::DeviceToken => "device_token",
        }
    }

    /// The methods of a sign-in that proved `proved` and then this factor, in Authgear's
    /// order (a remembered device adds `x_device_token`, not `mfa`).
    pub(in crate::service) fn amr_after(self, proved: &[String]) -> Vec<String> {
        let second: Vec<String> = match self {
            Self::Totp => AMR_TOTP.iter().map(|m| (*m).to_owned()).collect(),
            Self::Oob(channel) => code_amr(channel, true),
            Self::RecoveryCode => vec!["x_recovery_code".to_owned()],
            Self::DeviceToken => {
                let mut amr = proved.to_vec();
                if !amr.iter().any(|m| m == AMR_DEVICE_TOKEN) {
                    amr.push(AMR_DEVICE_TOKEN.to_owned());
                }
                return amr;
            }
        };
        let second: Vec<&str> = second.iter().map(String::as_str).collect();
        combined_amr(proved, &second)
    }
}

impl PasswordPassed {
    /// Whether `kind` may end this step: with it, nothing the hooks' `constraints.amr`
    /// demands is left unproved.
    pub(in crate::service) fn accepts(&self, kind: FactorKind) -> bool {
        !self.ctl.needs_more(&kind.amr_after(&self.first))
    }
}

impl Account<'_> {
    /// The step that must follow `state` because the hooks' `constraints.amr` asks for
    /// more than it proved: a second factor of the user's that proves it; else the
    /// enrolment of an authenticator app, when one would; else refused, saying what is
    /// missing (the account has no way to prove it).
    pub(in crate::service) async fn next_second_factor(
        &self,
        user: &User,
        state: PasswordPassed,
    ) -> Result<LoginOutcome, LoginError> {
        let factors = self.second_factors_of(user.id, &state).await?;
        if factors.totp || !factors.oob.is_empty() {
            return Ok(LoginOutcome::SecondFactor(self.seal(MFA_PURPOSE, &state)));
        }
        // `factors.totp` is false here: when an app would do, the user has none.
        if state.accepts(FactorKind::Totp) {
            return Ok(LoginOutcome::EnrolmentRequired(Box::new(self.begin_login_enrolment(state).await?)));
        }
        Err(LoginError::MethodUnavailable(
            "this sign-in asks for a second step that this account has not set up (such as a code by text \
             message); ask the administrator of this service"
                .into(),
        ))
    }

    /// After the second factor `kind` passed for `user` in the step `passed`: the
    /// `authentication.pre_authenticated` hook if it has not run, then one more step if
    /// the hooks' `constraints.amr` still asks for more, else the session (the failed
    /// attempts of the lockout are cleared).
    pub(in crate::service) async fn after_second_factor(
        &self,
        mut passed: PasswordPassed,
        user: &User,
        kind: FactorKind,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
    ) -> Result<LoginOutcome, LoginError> {
        let amr = kind.amr_after(&passed.first);
        passed.asserted.push(kind.authentication().to_owned());
        if !passed.pre_authenticated {
            let keys = std::mem::take(&mut passed.keys);
            let mut so_far = SignInSoFar::start(passed.flow_type);
            if let Some(how) = passed.how {
                so_far = SignInSoFar::identified(passed.user, how, &keys).in_flow(passed.flow_type);
            }
            let so_far = so_far.authenticated(&passed.asserted, &amr);
            self.authentication_hook(AuthStep::PreAuthenticated, so_far, actor, &mut passed.ctl).await?;
            passed.keys = keys;
            passed.pre_authenticated = true;
        }
        if passed.ctl.needs_more(&amr) {
            passed.first = amr;
            passed.iat = now().unix_timestamp();
            return self.next_second_factor(user, passed).await;
        }
        let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
        self.clear_lockout(user.id, actor).await?;
        let (sess, token) = self.start_idp_session(user, actor, replaces, t, &amr).await?;
        Ok(LoginOutcome::SignedIn(Box::new(user.clone()), sess, token))
    }
}
