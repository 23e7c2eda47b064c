//! What follows a first factor (a password, a one-time code or login link, a provider
//! account): the second factor when `mfa.mode` or a sign-in hook's `constraints.amr`
//! asks for one, the enrolment of one when the user has none and must, or the session.
//! Every sign-in method ends its first factor here, so the hooks' controls apply alike.
//!
//! `authentication.pre_authenticated` runs right before the sign-in finishes: here when
//! no second factor follows, else once the last one passed (`second_factor_end.rs`).
//! When its `constraints.amr` asks for more than was proved, the sign-in goes on to a
//! second factor that proves it.

use time::OffsetDateTime;

use crate::config::MfaMode;
use crate::domain::ids::{SessionId, TypedId};
use crate::service::account::login::{LoginError, LoginOutcome, MFA_PURPOSE, PasswordPassed};
use crate::service::account::otp::Channel;
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::users::User;
use crate::service::events::sign_in::{AuthStep, FlowType, Identification, SignInSoFar};
use crate::service::{Account, Actor};

/// A first factor that passed, as the sign-in hooks see it.
#[derive(Debug, Clone)]
pub(in crate::service) struct FirstFactor {
    /// The methods it proved (`pwd`; `otp x_primary_oob_otp_email`; none for a provider
    /// account).
    pub(in crate::service) amr: Vec<String>,
    /// Authgear's name of it (`primary_password`, ...); none for a provider account.
    pub(in crate::service) authentication: Option<&'static str>,
    /// How the user was identified.
    pub(in crate::service) how: Identification,
    /// The unique keys the identity may have (to show it in the hooks' payloads).
    pub(in crate::service) keys: Vec<String>,
    /// The kind of flow (a code that signs up a new address is a sign-up).
    pub(in crate::service) flow: FlowType,
    /// `authentication.pre_authenticated` ran already (a sign-up runs it before the
    /// account is created, so that a refusal creates nothing).
    pub(in crate::service) pre_authenticated: bool,
    /// A code proved this address: it is marked verified in the transaction that opens
    /// the session (when another step follows instead, the caller marks it).
    pub(in crate::service) verifies: Option<VerifiedByCode>,
    /// Whether the user has a second factor to ask for, when the first factor's step read
    /// it already with the user's other authenticators; `None`: read it when it matters.
    pub(in crate::service) has_second_factor: Option<bool>,
}

/// An address a one-time code proved, to mark verified with the session.
#[derive(Debug, Clone)]
pub(in crate::service) struct VerifiedByCode {
    /// Email or SMS.
    pub(in crate::service) channel: Channel,
    /// The address as the profile spells it.
    pub(in crate::service) value: String,
    /// A sign-up by code: the user also gets a primary OOB OTP authenticator for it.
    pub(in crate::service) primary_oob: bool,
}

impl FirstFactor {
    /// A first factor of a sign-in: `amr` proved by `authentication`, the user identified
    /// `how` by an identity with one of `keys`.
    pub(in crate::service) fn new(
        amr: Vec<String>,
        authentication: Option<&'static str>,
        how: Identification,
        keys: Vec<String>,
    ) -> Self {
        Self {
            amr,
            authentication,
            how,
            keys,
            flow: FlowType::Login,
            pre_authenticated: false,
            verifies: None,
            has_second_factor: None,
        }
    }

    /// A password that passed for a user identified by a typed login ID with `keys`.
    pub(in crate::service) fn password(how: Identification, keys: Vec<String>) -> Self {
        Self::new(vec!["pwd".to_owned()], Some("primary_password"), how, keys)
    }
}

/// What `mfa.mode` asks of a user after the first factor.
enum MfaAsks {
    /// Nothing: the session starts.
    Nothing,
    /// The second factor the user has.
    SecondFactor,
    /// The enrolment of one (`required`, no second factor, no grace period).
    Enrolment,
}

impl Account<'_> {
    /// After `first` passed for `user` (the hooks' controls so far in `ctl`): the second
    /// factor (or its enrolment) that `mfa.mode` or a hook's `constraints.amr` asks for,
    /// else `authentication.pre_authenticated` and the session, or the second factor its
    /// `constraints.amr` asks for. The hooks' `authentication.general` weight goes on
    /// (sealed) to the second factor's step.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::service) async fn after_first_factor(
        &self,
        user: &User,
        first: FirstFactor,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
        mut ctl: SignInControls,
    ) -> Result<LoginOutcome, LoginError> {
        if ctl.needs_more(&first.amr) {
            let state = PasswordPassed::new(user, flow, t, &first, ctl, first.pre_authenticated);
            return self.next_second_factor(user, state).await;
        }
        match self.mfa_asks(user, t, first.has_second_factor).await? {
            MfaAsks::SecondFactor => {
                let state = PasswordPassed::new(user, flow, t, &first, ctl, first.pre_authenticated);
                return Ok(LoginOutcome::SecondFactor(self.seal(MFA_PURPOSE, &state)));
            }
            MfaAsks::Enrolment => {
                let state = PasswordPassed::new(user, flow, t, &first, ctl, first.pre_authenticated);
                return Ok(LoginOutcome::EnrolmentRequired(Box::new(self.begin_login_enrolment(state).await?)));
            }
            MfaAsks::Nothing => {}
        }
        if !first.pre_authenticated {
            let asserted: Vec<String> = first.authentication.iter().map(|a| (*a).to_owned()).collect();
            let so_far = SignInSoFar::identified(user.id.uuid(), first.how, &first.keys)
                .in_flow(first.flow)
                .authenticated(&asserted, &first.amr);
            self.authentication_hook(AuthStep::PreAuthenticated, so_far, actor, &mut ctl).await?;
            if ctl.needs_more(&first.amr) {
                let state = PasswordPassed::new(user, flow, t, &first, ctl, true);
                return self.next_second_factor(user, state).await;
            }
        }
        let amr: Vec<&str> = first.amr.iter().map(String::as_str).collect();
        self.clear_lockout(user.id, actor).await?;
        let (sess, token) = self
            .write(async |tx| {
                let (sess, token) = self.open_checked_session(tx, user, actor, replaces, t, &amr).await?;
                if let Some(v) = &first.verifies {
                    self.mark_verified_in(tx, user.id, v.channel, &v.value, v.primary_oob, actor).await?;
                }
                Ok::<_, LoginError>((sess, token))
            })
            .await?;
        if self.config.mfa.mode == MfaMode::Required {
            return Ok(LoginOutcome::SignedInWithoutSecondFactor(Box::new(user.clone()), sess, token));
        }
        Ok(LoginOutcome::SignedIn(Box::new(user.clone()), sess, token))
    }

    /// What `mfa.mode` and the user's second factors ask for after a first factor at `t`;
    /// `known` is whether the user has a second factor, if the caller read it already.
    async fn mfa_asks(&self, user: &User, t: OffsetDateTime, known: Option<bool>) -> Result<MfaAsks, LoginError> {
        let mode = self.config.mfa.mode;
        if mode == MfaMode::Disabled {
            return Ok(MfaAsks::Nothing);
        }
        let has_second_factor = match known {
            Some(known) => known,
            None => self.has_second_factor(user.id).await?,
        };
        if has_second_factor {
            return Ok(MfaAsks::SecondFactor);
        }
        if mode == MfaMode::Required && !self.in_mfa_grace_period(user, t) {
            return Ok(MfaAsks::Enrolment);
        }
        Ok(MfaAsks::Nothing)
    }
}
