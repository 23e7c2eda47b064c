//! Signing in with a one-time code by email or SMS, or with an email login link: as the
//! first factor (passwordless; also signs up a new address when signup is open) and as
//! a second factor (to an address or number the user registered for it; the list of
//! them is `second_factors.rs`).
//!
//! Between sending and checking, the browser carries a sealed state: where the code
//! went, the authorization flow, and for a second factor the user and the methods of
//! the first. A page never says whether an address has an account: an unknown address
//! with signup closed gets the same page and no message.

use crate::config::{EmailOtpMode, LockoutMethod};
use crate::domain::ids::{AuthenticatorId, SessionId, TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::domain::reason::BLOCKED_BY_FRAUD_PROTECTION;
use crate::service::Account;
use crate::service::account::first_factor::{FirstFactor, VerifiedByCode};
use crate::service::account::login::PasswordPassed;
use crate::service::account::login::{LoginError, LoginOutcome};
use crate::service::account::otp::{Channel, CodeCheck, NotSent, OtpPurpose};
use crate::service::account::rate_limit::{Weight, code_failures_bucket};
use crate::service::account::second_factor_end::FactorKind;
use crate::service::account::sign_in_controls::{RateGroup, SignInControls};
use crate::service::admin::users::{NewUser, User};
use crate::service::events::sign_in::{AuthStep, FlowType, Identification, SignInSoFar};
use crate::service::store::time::now;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error, Result};
use entity::authenticator;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The purpose the "code sent" state is sealed for.
const CODE_PURPOSE: &str = "login-code";

/// A code on its way: what the page shows, and the sealed state to send back with it.
#[derive(Debug, Clone)]
pub struct CodeChallenge {
    /// The sealed state.
    pub pending: String,
    /// Where the code went, partly hidden (`j•••@example.com`, `+1415•••••00`).
    pub masked: String,
    /// Email or SMS.
    pub channel: Channel,
    /// A login link was sent instead of a code: the page waits for it to be opened.
    pub link: bool,
    /// Why no new message went out this time (the last one still works), if so.
    pub not_sent: Option<NotSent>,
    /// The code is a second factor (the page may offer "Don't ask again on this device").
    pub second_factor: bool,
}

/// Sealed between sending a code and checking it.
#[derive(Serialize, Deserialize)]
struct CodeSent {
    target: String,
    channel: Channel,
    flow: String,
    iat: i64,
    link: bool,
    /// A first factor: the sign-in hooks' controls so far.
    #[serde(default)]
    ctl: SignInControls,
    /// A first factor: the user the address named when the code was sent
    /// (`authentication.post_identified` ran for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identified: Option<Uuid>,
    /// A second factor: the step it ends (the user, what passed before, the hooks'
    /// controls and their `authentication.general` weight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mfa: Option<PasswordPassed>,
}

impl CodeSent {
    /// How much a wrong code counts against the failed-code limit: the sign-in hooks'
    /// `authentication.general` weight.
    fn failure_weight(&self) -> Weight {
        match &self.mfa {
            Some(passed) => passed.weight.unwrap_or(Weight::ONE),
            None => self.ctl.weight(RateGroup::General),
        }
    }

    /// A second factor: the user who passed the first.
    fn user(&self) -> Option<Uuid> {
        self.mfa.as_ref().map(|m| m.user)
    }
}

/// `j•••@example.com` / `+1415•••••00`.
pub fn mask(channel: Channel, target: &str) -> String {
    match channel {
        Channel::Email => match target.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}•••@{domain}")
            }
            None => "•••".into(),
        },
        Channel::Sms => {
            let chars: Vec<char> = target.chars().collect();
            if chars.len() < 8 {
                return "•••".into();
            }
            let head: String = chars[..5].iter().collect();
            let tail: String = chars[chars.len() - 2..].iter().collect();
            format!("{head}{}{tail}", "•".repeat(chars.len() - 7))
        }
    }
}

fn kind_of(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "oob_otp_email",
        Channel::Sms => "oob_otp_sms",
    }
}

/// How an address identifies its user, as Authgear's `identification` names it.
fn identification_of(channel: Channel) -> Identification {
    match channel {
        Channel::Email => Identification::Email,
        Channel::Sms => Identification::Phone,
    }
}

/// Authgear's name of a code as the first factor.
fn primary_authentication(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "primary_oob_otp_email",
        Channel::Sms => "primary_oob_otp_sms",
    }
}

/// The authentication methods a code adds, as Authgear names them.
pub(in crate::service) fn code_amr(channel: Channel, secondary: bool) -> Vec<String> {
    let mut amr = vec!["otp".to_owned()];
    if channel == Channel::Sms {
        amr.push("sms".into());
    }
    let step = if secondary { "secondary" } else { "primary" };
    amr.push(format!("x_{step}_{}", kind_of(channel)));
    amr
}

impl Account<'_> {
    /// Where a passwordless code for this login ID goes: the channel and the normalized
    /// target, if that kind of login ID may sign in with a code.
    fn passwordless_target(&self, login_id: &str) -> std::result::Result<(Channel, String), LoginError> {
        let text = login_id.trim();
        let cfg = &self.config.oob_otp;
        let (channel, key) = if text.contains('@') && cfg.email.channel.primary {
            (Channel::Email, "email")
        } else if text.starts_with('+') && cfg.sms.primary {
            (Channel::Sms, "phone")
        } else {
            let what = match (cfg.email.channel.primary, cfg.sms.primary) {
                (true, true) => "an email address or a phone number with its country code (+…)",
                (true, false) => "an email address",
                (false, true) => "a phone number with its country code (+…)",
                (false, false) => return Err(LoginError::CodeUnavailable("sign-in with a code is not enabled".into())),
            };
            return Err(LoginError::CodeUnavailable(format!("to get a code, enter {what}")));
        };
        let target = LoginId::lookup_key(&self.config.login_id, key, text)
            .map_err(|e| LoginError::CodeUnavailable(Error::from(e).describe()))?;
        Ok((channel, target))
    }

    /// Passwordless, step one: sends a code (or a login link) to the email address or
    /// phone number typed as the login ID. An address without an account gets one only
    /// when signup is open (the code then creates the account); either way the answer is
    /// the same page.
    ///
    /// As a password sign-in: `authentication.pre_initialize` runs first, then the
    /// bot-protection check of `bot_token` (when the configuration or the hook asks for
    /// it), and for an address that names a user `authentication.post_identified` (and
    /// the check again if that hook asks for it). A refusal sends nothing. The hooks'
    /// controls go on in the sealed state.
    pub async fn start_code_login(
        &self,
        login_id: &str,
        flow: &str,
        bot_token: Option<&str>,
        actor: &Actor,
    ) -> Result<CodeChallenge, LoginError> {
        let mut ctl = SignInControls::default();
        self.authentication_hook(AuthStep::PreInitialize, SignInSoFar::default(), actor, &mut ctl).await?;
        self.sign_in_bot_check(&mut ctl, bot_token, actor).await?;
        let (channel, target) = self.passwordless_target(login_id)?;
        let key = if channel == Channel::Email { "email" } else { "phone" };
        let known = self.users().by_login_id(key, &target).await?.map(|u| u.id.uuid());
        if let Some(user) = known {
            let keys = [target.clone()];
            let identified = SignInSoFar::identified(user, identification_of(channel), &keys);
            self.authentication_hook(AuthStep::PostIdentified, identified, actor, &mut ctl).await?;
            self.sign_in_bot_check(&mut ctl, bot_token, actor).await?;
        }
        let send = known.is_some() || self.config.ui.signup_enabled;
        let state = CodeSent {
            target,
            channel,
            flow: flow.to_owned(),
            iat: now().unix_timestamp(),
            link: channel == Channel::Email && self.config.oob_otp.email.mode == EmailOtpMode::LoginLink,
            ctl,
            identified: known,
            mfa: None,
        };
        self.send_code(state, send, actor).await
    }

    /// Second factor by code, step one: sends a code to one of the user's registered
    /// addresses or numbers (`authenticator`), after the first factor passed.
    pub async fn start_second_factor_code(
        &self,
        mfa_pending: &str,
        flow: &str,
        authenticator: AuthenticatorId,
        actor: &Actor,
    ) -> Result<CodeChallenge, LoginError> {
        let passed = self.first_factor_passed(mfa_pending, flow)?;
        let row = authenticator::Entity::find_by_id(authenticator)
            .filter(Expr::col(authenticator::Column::UserId).eq(passed.user))
            .filter(Expr::col(authenticator::Column::Factor).eq("secondary"))
            .one(&self.db.reader())
            .await?;
        let Some((channel, target)) = row.and_then(|r| {
            let channel = match r.kind.as_str() {
                "oob_otp_email" => Channel::Email,
                "oob_otp_sms" => Channel::Sms,
                _ => return None,
            };
            Some((channel, r.oob_target?)).filter(|(c, _)| passed.accepts(FactorKind::Oob(*c)))
        }) else {
            return Err(LoginError::CodeUnavailable("choose one of the listed ways to get a code".into()));
        };
        let state = CodeSent {
            target,
            channel,
            flow: flow.to_owned(),
            iat: now().unix_timestamp(),
            link: false,
            ctl: SignInControls::default(),
            identified: None,
            mfa: Some(passed),
        };
        self.send_code(state, true, actor).await
    }

    /// Sends the code again (after the cooldown; before it, the last one still works).
    pub async fn resend_code(&self, pending: &str, flow: &str, actor: &Actor) -> Result<CodeChallenge, LoginError> {
        let mut state = self.code_sent(pending, flow)?;
        state.iat = now().unix_timestamp();
        let send = match state.user() {
            Some(_) => true,
            None => {
                let key = if state.channel == Channel::Email { "email" } else { "phone" };
                self.config.ui.signup_enabled || self.users().by_login_id(key, &state.target).await?.is_some()
            }
        };
        self.send_code(state, send, actor).await
    }

    /// Issues and sends a code for `state` (when `send`), and seals the state.
    async fn send_code(&self, state: CodeSent, send: bool, actor: &Actor) -> Result<CodeChallenge, LoginError> {
        let mut not_sent = None;
        if send {
            match self.issue_code(OtpPurpose::Login, state.channel, &state.target, state.link, actor).await? {
                Ok(issued) => {
                    let lang = self.flow_lang(&state.flow);
                    let (channel, target) = (state.channel, state.target.as_str());
                    match self.deliver_code(OtpPurpose::Login, channel, target, &issued, lang.as_deref(), actor).await {
                        Ok(()) => {}
                        Err(Error::Invalid { reason: BLOCKED_BY_FRAUD_PROTECTION, .. }) => {
                            return Err(LoginError::BlockedByFraudProtection);
                        }
                        Err(e) => {
                            tracing::error!(cause = %e.describe(), "a sign-in code could not be sent");
                            return Err(LoginError::DeliveryFailed);
                        }
                    }
                }
                Err(NotSent::RateLimited) => return Err(LoginError::RateLimited),
                Err(n) => not_sent = Some(n),
            }
        }
        Ok(CodeChallenge {
            masked: mask(state.channel, &state.target),
            channel: state.channel,
            link: state.link,
            not_sent,
            second_factor: state.user().is_some(),
            pending: self.seal(CODE_PURPOSE, &state),
        })
    }

    fn code_sent(&self, pending: &str, flow: &str) -> Result<CodeSent, LoginError> {
        let state: CodeSent = self.unseal(CODE_PURPOSE, pending).ok_or(LoginError::SecondFactorExpired)?;
        let cfg = &self.config.oob_otp;
        let lifetime = if state.link { cfg.link_lifetime_seconds } else { cfg.code_lifetime_seconds };
        let age = now().unix_timestamp() - state.iat;
        if state.flow != flow || !(0..=lifetime + 60).contains(&age) {
            return Err(LoginError::SecondFactorExpired);
        }
        Ok(state)
    }

    /// The page's view of a sealed "code sent" state (to show the form again), if valid.
    pub fn code_challenge(&self, pending: &str, flow: &str) -> Option<CodeChallenge> {
        let state = self.code_sent(pending, flow).ok()?;
        Some(CodeChallenge {
            masked: mask(state.channel, &state.target),
            channel: state.channel,
            link: state.link,
            not_sent: None,
            second_factor: state.user().is_some(),
            pending: pending.to_owned(),
        })
    }

    /// Checks a code against the sealed "code sent" state. A right code signs in (or signs
    /// up a new address, or asks for a second factor); a wrong one is audited as
    /// `authentication.{primary,secondary}.oob_otp_{email,sms}.failed` and counted against
    /// the address, and the code is revoked after `oob_otp.max_failed_attempts`.
    pub async fn login_with_code(
        &self,
        pending: &str,
        flow: &str,
        code: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<LoginOutcome, LoginError> {
        let state = self.code_sent(pending, flow)?;
        let bucket = code_failures_bucket(actor);
        let limit = self.config.messaging.code_failures_per_ip_per_minute;
        let weight = state.failure_weight();
        if !self.under_weighted_limit(&bucket, limit, weight).await? {
            self.record_blocked(actor, "code", &bucket).await?;
            return Err(LoginError::RateLimited);
        }
        // The account lockout counts wrong codes of a known user, and refuses a locked one
        // before the code is looked at.
        let known = match state.user() {
            Some(u) => Some(UserId::from(u)),
            // Looked up only when the lockout counts codes: it costs two statements.
            None if !self.config.authentication_lockout.applies_to(LockoutMethod::OobOtp) => None,
            None => {
                let key = if state.channel == Channel::Email { "email" } else { "phone" };
                self.users().by_login_id(key, &state.target).await?.map(|u| u.id)
            }
        };
        if let Some(u) = known
            && let Some(until) = self.check_lockout(u, LockoutMethod::OobOtp, actor).await?
        {
            self.count_weighted(&bucket, limit, weight).await?;
            return Err(LoginError::Locked { until });
        }
        let checked = self.check_code(OtpPurpose::Login, &state.target, code).await?;
        if checked != CodeCheck::Accepted {
            self.count_weighted(&bucket, limit, weight).await?;
            let step = if state.user().is_some() { "secondary" } else { "primary" };
            let activity = format!("authentication.{step}.{}.failed", kind_of(state.channel));
            let audit = Audit { actor: actor.clone(), activity };
            let user = state.user();
            self.audit_batch
                .record(audit::row(&audit, user, json!({"target": mask(state.channel, &state.target)}), now()))
                .await?;
            if let Some(u) = known
                && let Some(until) = self.record_lockout_failure(u, LockoutMethod::OobOtp, actor).await?
            {
                return Err(LoginError::Locked { until });
            }
            return Err(LoginError::WrongCode(match checked {
                CodeCheck::Wrong(0) => "too many wrong codes: this one no longer works; send a new one".into(),
                CodeCheck::Wrong(1) => "the code is incorrect; one more try before it stops working".into(),
                CodeCheck::Wrong(n) => format!("the code is incorrect; {n} more tries before it stops working"),
                _ => "this code has expired or was already used; send a new one".into(),
            }));
        }
        self.finish_code(state, actor, replaces).await
    }

    /// For the page waiting on a login link: signs in once the link was opened.
    /// `Ok(None)` while it has not been.
    pub async fn login_with_link(
        &self,
        pending: &str,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<Option<LoginOutcome>, LoginError> {
        let state = self.code_sent(pending, flow)?;
        if !state.link {
            return Err(LoginError::SecondFactorExpired);
        }
        match self.take_approved_link(OtpPurpose::Login, &state.target).await? {
            CodeCheck::Accepted => Ok(Some(self.finish_code(state, actor, replaces).await?)),
            CodeCheck::Wrong(_) => Ok(None),
            CodeCheck::Expired => {
                Err(LoginError::WrongCode("this sign-in link has expired or was already used; send a new one".into()))
            }
        }
    }

    /// Whether a login link is live (the page that confirms it shows the address).
    pub async fn login_link_target(&self, token: &str) -> Result<Option<String>> {
        Ok(self.link_target(token).await?.map(|t| mask(Channel::Email, &t)))
    }

    /// Approves a login link, opened on any device: the page that asked continues.
    pub async fn approve_login_link(&self, token: &str, actor: &Actor) -> Result<bool> {
        let Some(target) = self.approve_link(token).await? else { return Ok(false) };
        let audit = Audit { actor: actor.clone(), activity: "authentication.login_link.approved".into() };
        self.audit_batch
            .record(audit::row(&audit, None, json!({"target": mask(Channel::Email, &target)}), now()))
            .await?;
        Ok(true)
    }

    /// After a right code: the second factor's session, or the passwordless user's next
    /// step (signup for a new address, a second factor, or the session).
    async fn finish_code(
        &self,
        state: CodeSent,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<LoginOutcome, LoginError> {
        let t = now();
        if let Some(passed) = state.mfa {
            let user = self.users().get(UserId::from(passed.user)).await?.ok_or(LoginError::SecondFactorExpired)?;
            self.check_may_sign_in(&user)?;
            return self.after_second_factor(passed, &user, FactorKind::Oob(state.channel), actor, replaces, t).await;
        }
        let key = if state.channel == Channel::Email { "email" } else { "phone" };
        let amr = code_amr(state.channel, false);
        let mut ctl = state.ctl.clone();
        let mut first = FirstFactor::new(
            amr,
            Some(primary_authentication(state.channel)),
            identification_of(state.channel),
            vec![state.target.clone()],
        );
        let (user, created) = match self.users().by_login_id(key, &state.target).await? {
            Some(u) => (u, false),
            None if self.config.ui.signup_enabled => {
                // A sign-up: its `pre_authenticated` runs before the account exists, so
                // that a refusal creates nothing.
                first.flow = FlowType::Signup;
                let asserted = [primary_authentication(state.channel).to_owned()];
                let so_far =
                    SignInSoFar::start(FlowType::Signup).identifying(first.how).authenticated(&asserted, &first.amr);
                self.authentication_hook(AuthStep::PreAuthenticated, so_far, actor, &mut ctl).await?;
                first.pre_authenticated = true;
                (self.signup_by_code(key, &state.target, actor).await?, true)
            }
            None => return Err(LoginError::Invalid),
        };
        self.check_may_sign_in(&user)?;
        if !created && state.identified != Some(user.id.uuid()) {
            // The address named no user when the code was sent; it does now. A refusal
            // changes nothing: the address is not marked verified either.
            let identified = SignInSoFar::identified(user.id.uuid(), first.how, &first.keys);
            self.authentication_hook(AuthStep::PostIdentified, identified, actor, &mut ctl).await?;
        }
        // The claim as the user's profile spells it (an address's case may differ).
        let (claim, _) = crate::service::account::verification::claim_of(state.channel);
        let value = user
            .standard_attributes
            .get(claim)
            .and_then(serde_json::Value::as_str)
            .filter(|v| v.eq_ignore_ascii_case(&state.target))
            .unwrap_or(&state.target)
            .to_owned();
        // The profile's derived `…_verified` flag says whether it is verified already, so a
        // returning user costs no look-up.
        let flag = format!("{claim}_verified");
        let already = user.standard_attributes.get(flag.as_str()).and_then(serde_json::Value::as_bool) == Some(true)
            && user.standard_attributes.get(claim).and_then(serde_json::Value::as_str) == Some(value.as_str());
        // Once the sign-in went on (its hooks did not refuse it): the code proved the
        // address, whatever step follows; with the session when it starts now.
        let verifies =
            (created || !already).then_some(VerifiedByCode { channel: state.channel, value, primary_oob: created });
        first.verifies = verifies.clone();
        let next = self.after_first_factor(&user, first, &state.flow, actor, replaces, t, ctl).await?;
        let signed_in = matches!(next, LoginOutcome::SignedIn(..) | LoginOutcome::SignedInWithoutSecondFactor(..));
        if let Some(v) = verifies.filter(|_| !signed_in) {
            self.mark_verified(user.id, v.channel, &v.value, v.primary_oob, actor).await?;
        }
        Ok(next)
    }

    async fn signup_by_code(&self, key: &str, target: &str, actor: &Actor) -> Result<User, LoginError> {
        let ip = actor.ip.as_deref().unwrap_or("-");
        if !self.allow_per_ip(crate::service::account::rate_limit::PerIp::Signup, ip, actor).await? {
            return Err(LoginError::RateLimited);
        }
        let audit = Audit { actor: actor.clone(), activity: "user.created".into() };
        let input = NewUser {
            login_id_key: key.to_owned(),
            login_id_value: target.to_owned(),
            password: None,
            send_password: false,
            set_password_expired: false,
            account_valid_from: None,
            account_valid_until: None,
        };
        match self.users().create(&audit, input).await {
            Ok(u) => Ok(u),
            // Two codes for one new address at once: the other request created it.
            Err(Error::Conflict { .. }) => self.users().by_login_id(key, target).await?.ok_or(LoginError::Invalid),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses_and_numbers() {
        assert_eq!(mask(Channel::Email, "jane@example.com"), "j•••@example.com");
        assert_eq!(mask(Channel::Sms, "+14155550100"), "+1415•••••00");
        assert_eq!(mask(Channel::Sms, "+1234"), "•••");
    }

    #[test]
    fn amr_as_authgear() {
        assert_eq!(code_amr(Channel::Email, false), ["otp", "x_primary_oob_otp_email"]);
        assert_eq!(code_amr(Channel::Sms, true), ["otp", "sms", "x_secondary_oob_otp_sms"]);
    }
}
