//! What follows a first factor (a password, a one-time code or login link, a provider
//! account): the second factor when `mfa.mode` or a sign-in hook's `constraints.amr`
//! asks for one, the enrolment of one when the user has none and must, or the session.
//! Every sign-in method ends its first factor here, so the hooks' controls apply alike.

use time::OffsetDateTime;

use crate::config::MfaMode;
use crate::domain::ids::SessionId;
use crate::service::account::login::{LoginError, LoginOutcome, MFA_PURPOSE, PasswordPassed};
use crate::service::account::rate_limit::Weight;
use crate::service::account::sign_in_controls::{RateGroup, SignInControls};
use crate::service::admin::users::User;
use crate::service::{Account, Actor};

impl Account<'_> {
    /// After a first factor that proved `first`, once the sign-in's
    /// `authentication.pre_authenticated` hook ran: a hook's `constraints.amr` asking for
    /// more than `first` leads to the second factor (or its enrolment) whatever `mfa.mode`
    /// says; otherwise as `mfa.mode` and the user's second factors decide. The hooks'
    /// `authentication.general` weight goes on (sealed) to the second factor's step.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::service) async fn after_first_factor(
        &self,
        user: &User,
        first: Vec<String>,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
        ctl: &SignInControls,
    ) -> Result<LoginOutcome, LoginError> {
        let weight = ctl.weight(RateGroup::General);
        if ctl.needs_more(&first) {
            return self.required_second_factor(user, first, flow, t, weight).await;
        }
        self.second_factor_or_session(user, first, flow, actor, replaces, t, weight).await
    }

    /// A hook's `constraints.amr` asked for a second factor: the second step when the
    /// user has one (whatever `mfa.mode` says), else the enrolment the sign-in must go
    /// through.
    pub(in crate::service) async fn required_second_factor(
        &self,
        user: &User,
        first: Vec<String>,
        flow: &str,
        t: OffsetDateTime,
        weight: Weight,
    ) -> Result<LoginOutcome, LoginError> {
        let state = PasswordPassed::new(user, flow, t, first, weight);
        if self.has_second_factor(user.id).await? {
            return Ok(LoginOutcome::SecondFactor(self.seal(MFA_PURPOSE, &state)));
        }
        Ok(LoginOutcome::EnrolmentRequired(Box::new(self.begin_login_enrolment(state).await?)))
    }

    /// After a first factor with methods `first`: the sealed state for a second factor
    /// when `mfa.mode` asks for one and the user has one; when MFA is required and the user
    /// has none, the session and a nudge to set one up during a grace period, else an
    /// enrolment the sign-in must go through; otherwise the session. A second-factor
    /// attempt counts `weight` against the failed-sign-in limits.
    #[allow(clippy::too_many_arguments)]
    async fn second_factor_or_session(
        &self,
        user: &User,
        first: Vec<String>,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
        weight: Weight,
    ) -> Result<LoginOutcome, LoginError> {
        let mode = self.config.mfa.mode;
        if mode != MfaMode::Disabled {
            if self.has_second_factor(user.id).await? {
                let state = PasswordPassed::new(user, flow, t, first, weight);
                return Ok(LoginOutcome::SecondFactor(self.seal(MFA_PURPOSE, &state)));
            }
            if mode == MfaMode::Required && !self.in_mfa_grace_period(user, t) {
                let state = PasswordPassed::new(user, flow, t, first, weight);
                return Ok(LoginOutcome::EnrolmentRequired(Box::new(self.begin_login_enrolment(state).await?)));
            }
        }
        let amr: Vec<&str> = first.iter().map(String::as_str).collect();
        self.clear_lockout(user.id, actor).await?;
        let (sess, token) = self.start_idp_session(user, actor, replaces, t, &amr).await?;
        if mode == MfaMode::Required {
            return Ok(LoginOutcome::SignedInWithoutSecondFactor(Box::new(user.clone()), sess, token));
        }
        Ok(LoginOutcome::SignedIn(Box::new(user.clone()), sess, token))
    }
}
