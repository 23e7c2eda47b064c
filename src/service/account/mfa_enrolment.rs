//! Enrolling an authenticator app during sign-in, when `mfa.mode` is `required`, the user
//! has no second factor and no grace period lasts: the enrolment is bound to the sealed
//! "first factor passed" state, and no session starts until a first code confirms the app.

use crate::domain::ids::SessionId;
use crate::domain::ids::UserId;
use crate::domain::reason;
use crate::service::account::login::{LoginError, LoginOutcome, PasswordPassed};
use crate::service::account::second_factor_end::FactorKind;
use crate::service::account::totp::TotpEnrolment;
use crate::service::admin::users::User;
use crate::service::store::time::now;
use crate::service::{Account, Actor, Error};
use serde::{Deserialize, Serialize};

/// The purpose the sign-in enrolment state is sealed for.
const PURPOSE: &str = "login-mfa-enrolment";

/// How long after the first factor the enrolment may be confirmed, in seconds.
pub const LOGIN_ENROLMENT_LIFETIME_SECS: i64 = 15 * 60;

/// The first factor that passed, and the pending enrolment (itself sealed by `totp.rs`).
#[derive(Serialize, Deserialize)]
struct EnrolPending {
    passed: PasswordPassed,
    totp: String,
}

/// A finished sign-in enrolment.
#[derive(Debug)]
pub struct EnrolledSignIn {
    /// Where the sign-in goes: the session, unless the sign-in hooks ask for one more step.
    pub next: LoginOutcome,
    /// The new recovery codes, to be shown this once.
    pub recovery_codes: Vec<String>,
}

impl Account<'_> {
    /// A new enrolment bound to the first factor that passed; nothing is stored.
    pub(in crate::service) async fn begin_login_enrolment(
        &self,
        passed: PasswordPassed,
    ) -> Result<TotpEnrolment, LoginError> {
        let mut enrolment = self.begin_totp_enrolment(UserId::from(passed.user)).await?;
        let state = EnrolPending { passed, totp: std::mem::take(&mut enrolment.pending) };
        enrolment.pending = self.seal(PURPOSE, &state);
        Ok(enrolment)
    }

    /// The sealed state, if it is genuine, for `flow` and recent enough.
    fn open_login_enrolment(&self, pending: &str, flow: &str) -> Result<EnrolPending, LoginError> {
        let state: EnrolPending = self.unseal(PURPOSE, pending).ok_or(LoginError::SecondFactorExpired)?;
        let age = now().unix_timestamp() - state.passed.iat;
        if state.passed.flow != flow || !(0..=LOGIN_ENROLMENT_LIFETIME_SECS).contains(&age) {
            return Err(LoginError::SecondFactorExpired);
        }
        Ok(state)
    }

    /// The same sign-in enrolment again (to show the form again after a wrong code).
    pub async fn reopen_login_enrolment(&self, pending: &str, flow: &str) -> Result<TotpEnrolment, LoginError> {
        let state = self.open_login_enrolment(pending, flow)?;
        let mut enrolment = match self.reopen_totp_enrolment(UserId::from(state.passed.user), &state.totp).await {
            Ok(e) => e,
            Err(Error::Invalid { .. } | Error::NotFound { .. }) => return Err(LoginError::SecondFactorExpired),
            Err(e) => return Err(e.into()),
        };
        enrolment.pending = pending.to_owned();
        Ok(enrolment)
    }

    /// Finishes a sign-in that had to enrol an authenticator app: a right first code
    /// stores the app (`authenticator.created`), makes a set of recovery codes
    /// (`recovery_codes.generated`) and starts the session with `amr`
    /// `pwd otp mfa x_secondary_totp`. A wrong code is `WrongCode` (nothing stored); a
    /// tampered, foreign or expired state is `SecondFactorExpired`.
    pub async fn login_with_enrolment(
        &self,
        pending: &str,
        flow: &str,
        display_name: &str,
        code: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<EnrolledSignIn, LoginError> {
        let t = now();
        let state = self.open_login_enrolment(pending, flow)?;
        let user_id = UserId::from(state.passed.user);
        let Some(user) = self.users().get(user_id).await? else { return Err(LoginError::SecondFactorExpired) };
        self.check_may_sign_in(&user)?;
        match self.confirm_totp_enrolment(user_id, &state.totp, display_name, code.trim(), actor).await {
            Ok(_) => {}
            Err(Error::Invalid { reason: reason::TOTP_ENROLMENT_INVALID, .. }) => {
                return Err(LoginError::SecondFactorExpired);
            }
            Err(Error::Invalid { message, .. }) => return Err(LoginError::WrongCode(message)),
            Err(e) => return Err(e.into()),
        }
        let recovery_codes = self.generate_recovery_codes(user_id, actor).await?;
        let next = self.after_second_factor(state.passed, &user, FactorKind::Totp, actor, replaces, t).await?;
        Ok(EnrolledSignIn { next, recovery_codes })
    }

    /// Whether a user without a second factor may still sign in without one at `t`: their
    /// own grace period (`setMFAGracePeriod`) or the global `mfa.grace_period` lasts.
    pub(in crate::service) fn in_mfa_grace_period(&self, user: &User, t: time::OffsetDateTime) -> bool {
        user.mfa_grace_period_end_at.is_some_and(|end| t < end) || self.config.mfa.grace_period.lasts_at(t)
    }
}
