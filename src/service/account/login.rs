//! End-user authentication with a login ID and password, and browser (IdP) sessions:
//! the cookie's SHA-256 is all the database keeps.

use crate::config::{LockoutMethod, LoginIdType};
use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::ids::{SessionId, TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::domain::reason;
use crate::service::Account;
use crate::service::account::first_factor::FirstFactor;
use crate::service::account::rate_limit::{Reservation, Weight};
use crate::service::account::recovery_codes::FAILED as RECOVERY_CODE_FAILED;
use crate::service::account::second_factor_end::FactorKind;
use crate::service::account::sign_in_controls::{RateGroup, SignInControls};
use crate::service::admin::user_rows::user_row;
use crate::service::admin::users::User;
use crate::service::events::sign_in::{FlowType, Identification};
use crate::service::events::user_model::session_model;
use crate::service::store::connections::TxConn;
use crate::service::store::session_end;
use crate::service::store::session_end::end_sessions;
use crate::service::store::session_row::NewSession;
use crate::service::store::time::{micros, now, strings};
use crate::service::unit_of_work::Tx;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error, Result, Services};
use entity::{authenticator, session, user};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A live browser session.
#[derive(Debug, Clone)]
pub struct IdpSession {
    /// Session ID (the `sid` claim).
    pub id: SessionId,
    /// Who is logged in.
    pub user_id: UserId,
    /// When the user last authenticated (UTC micros).
    pub auth_time: i64,
    /// Authentication methods (`pwd`).
    pub amr: Vec<String>,
    /// The user as read with a cookie's session (one statement for both), if it was.
    pub user: Option<Box<User>>,
}

/// Why a login attempt failed. `Invalid` is deliberately one case for an unknown login
/// ID and a wrong password.
#[derive(Debug)]
pub enum LoginError {
    /// Unknown login ID or wrong password.
    Invalid,
    /// The account is disabled; the admin's reason, if any.
    Disabled(Option<String>),
    /// The password was right but must be changed before the sign-in finishes (expired by
    /// an administrator, too old, or against the policy): the sealed state for
    /// [`Account::change_password_at_login`] and why.
    PasswordChangeRequired {
        /// The sealed "password must change" state.
        pending: String,
        /// Why the password must change.
        why: crate::service::account::password_change::ChangeReason,
    },
    /// The new password chosen at sign-in was refused; the message says why.
    PasswordRejected(String),
    /// An administrator scheduled the account's deletion.
    DeletionScheduled,
    /// Too many failed attempts from this IP address or for this login ID; try later.
    RateLimited,
    /// The second-factor code is wrong or was used already; the message says which.
    WrongCode(String),
    /// The "password passed" state is tampered with, for another flow, or expired.
    SecondFactorExpired,
    /// A code cannot be sent for this input; the message says what to enter instead.
    CodeUnavailable(String),
    /// The email or SMS provider failed to take the message; try again later.
    DeliveryFailed,
    /// The SMS fraud protection blocked the text message (`deny_if_any_warning`).
    BlockedByFraudProtection,
    /// Too many failed attempts locked the account (`authentication_lockout`) until then.
    Locked {
        /// When the user may try again.
        until: OffsetDateTime,
    },
    /// A passkey sign-in was refused; the message says why and what to do.
    PasskeyRefused(String),
    /// A sign-in hook's `constraints.amr` asks for a way to sign in that the account
    /// does not have (or the chosen one does not prove); the message says what.
    MethodUnavailable(String),
    /// The bot-protection check (asked for by the configuration or a sign-in hook) was
    /// missing, failed, or could not be done.
    BotProtection(crate::service::account::bot_protection::BotRefusal),
    /// The server failed.
    Server(Error),
}

/// What a correct password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in: the user, the session and the cookie value.
    SignedIn(Box<User>, IdpSession, String),
    /// The user must enter a code from an authenticator app; the sealed "password passed"
    /// state to send back with it.
    SecondFactor(String),
    /// Signed in during an MFA grace period (`required` mode, no second factor yet): as
    /// `SignedIn`, and the user should now be led to set one up.
    SignedInWithoutSecondFactor(Box<User>, IdpSession, String),
    /// `required` mode, no second factor and no grace period: the sign-in completes only
    /// once an authenticator app is enrolled with this enrolment (bound to the first factor).
    EnrolmentRequired(Box<crate::service::account::totp::TotpEnrolment>),
}

/// The purpose the "password passed" state is sealed for.
pub(in crate::service) const MFA_PURPOSE: &str = "login-mfa";

/// How long the "password passed" state is good for, in seconds.
pub const MFA_STATE_LIFETIME_SECS: i64 = 5 * 60;

/// The authentication methods an authenticator app adds as a second factor.
pub(in crate::service) const AMR_TOTP: [&str; 2] = ["otp", "x_secondary_totp"];

/// Between a first factor (a password, a code, a provider account) and the second
/// factor: the user, the authorization flow, when the step began (Unix seconds), the
/// methods proved so far (`pwd` when absent, as states sealed before the field; empty
/// for a provider account) and how much a second-factor attempt counts against the
/// failed-sign-in limits (a sign-in hook's `authentication.general` weight; 1 when
/// absent); for the `authentication.pre_authenticated` hook that runs once the last
/// factor passed, how the user was identified, the factors asserted so far, the hooks'
/// controls and whether that hook ran already. Sealed with a MAC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(in crate::service) struct PasswordPassed {
    pub(in crate::service) user: Uuid,
    pub(in crate::service) flow: String,
    pub(in crate::service) iat: i64,
    #[serde(default = "password_only")]
    pub(in crate::service) first: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(in crate::service) weight: Option<Weight>,
    /// Authgear's names of the factors that passed (`primary_password`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(in crate::service) asserted: Vec<String>,
    /// How the user was identified, and the unique keys the identity may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(in crate::service) how: Option<Identification>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(in crate::service) keys: Vec<String>,
    /// The kind of flow (a sign-in, or a sign-up a hook asked a second factor of).
    #[serde(default)]
    pub(in crate::service) flow_type: FlowType,
    /// The sign-in hooks' controls so far.
    #[serde(default)]
    pub(in crate::service) ctl: SignInControls,
    /// Whether `authentication.pre_authenticated` ran already (its `constraints.amr`
    /// asked for this step).
    #[serde(default)]
    pub(in crate::service) pre_authenticated: bool,
}

impl PasswordPassed {
    /// The state after `first` passed at `t` for `user`, with the hooks' controls `ctl`.
    pub(in crate::service) fn new(
        user: &User,
        flow: &str,
        t: OffsetDateTime,
        first: &FirstFactor,
        ctl: SignInControls,
        pre_authenticated: bool,
    ) -> Self {
        let weight = ctl.weight(RateGroup::General);
        let weight = (weight != Weight::ONE).then_some(weight);
        Self {
            user: user.id.uuid(),
            flow: flow.to_owned(),
            iat: t.unix_timestamp(),
            first: first.amr.clone(),
            weight,
            asserted: first.authentication.iter().map(|a| (*a).to_owned()).collect(),
            how: Some(first.how),
            keys: first.keys.clone(),
            flow_type: first.flow,
            ctl,
            pre_authenticated,
        }
    }
}

/// The first factor of a state sealed before its methods were: a password.
fn password_only() -> Vec<String> {
    vec!["pwd".to_owned()]
}

/// The methods of a two-factor sign-in, each once, in Authgear's order: the first
/// factor's, the second's plain methods (`otp`, `sms`), `mfa`, then the second's `x_…`.
pub(in crate::service) fn combined_amr(first: &[String], second: &[&str]) -> Vec<String> {
    let (named, plain): (Vec<&str>, Vec<&str>) = second.iter().partition(|m| m.starts_with("x_"));
    let mut amr = first.to_vec();
    for m in plain.into_iter().chain(["mfa"]).chain(named) {
        if !amr.iter().any(|a| a == m) {
            amr.push(m.to_owned());
        }
    }
    amr
}

impl From<Error> for LoginError {
    fn from(e: Error) -> Self {
        Self::Server(e)
    }
}

impl From<sea_orm::DbErr> for LoginError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Server(e.into())
    }
}

/// The unique keys `input` could stand for, one per enabled login ID type it parses as.
fn candidate_keys(services: &Services, input: &str) -> Vec<String> {
    let cfg = &services.config.login_id;
    let mut keys = Vec::new();
    for kind in &cfg.types {
        let key = kind.as_str();
        let plausible = match kind {
            LoginIdType::Email => input.contains('@'),
            LoginIdType::Phone => input.trim_start().starts_with('+'),
            LoginIdType::Username => !input.contains('@'),
        };
        if plausible && let Ok(k) = LoginId::lookup_key(cfg, key, input) {
            keys.push(k);
        }
    }
    keys
}

impl Account<'_> {
    /// Checks a login ID and password. Unknown login IDs are checked against a dummy hash
    /// so that they take as long as wrong passwords. On success, creates a browser
    /// session, updates `lastLoginAt` and writes `user.authenticated`; returns the user,
    /// the session and the cookie value. `replaces` is a session of this browser to end.
    ///
    /// When the user has an authenticator app and `mfa.mode` is not `disabled`, no
    /// session starts yet: the outcome is the sealed state for [`Self::login_with_totp`],
    /// bound to the user and to `flow` (the sealed authorization request, or empty).
    ///
    /// `bot_token` is what the form carried in the bot-protection provider's field: it is
    /// verified when the configuration or an `authentication.*` hook asks for the
    /// challenge, before any hash (see [`SignInControls`]). The hooks' `rate_limits`
    /// weigh the attempt against the failed-sign-in limits and, for a login ID that names
    /// no account, the account-enumeration limit.
    pub async fn login_with_password(
        &self,
        login_id: &str,
        password: String,
        bot_token: Option<&str>,
        actor: &Actor,
        replaces: Option<SessionId>,
        flow: &str,
    ) -> Result<LoginOutcome, LoginError> {
        use crate::service::account::rate_limit::PerIp;
        use crate::service::events::sign_in::{AuthStep, SignInSoFar};
        let mut ctl = SignInControls::default();
        self.authentication_hook(AuthStep::PreInitialize, SignInSoFar::default(), actor, &mut ctl).await?;
        self.sign_in_bot_check(&mut ctl, bot_token, actor).await?;
        let rl = &self.config.rate_limits;
        let raw_ip = actor.ip.as_deref().unwrap_or("-");
        let ip = crate::service::account::rate_limit::network_key(raw_ip);
        let ip_bucket = format!("login:ip:{ip}");
        let id_bucket =
            format!("login:id:{ip}:{}", login_id.trim().to_lowercase().chars().take(200).collect::<String>());
        let limits = [
            (ip_bucket.as_str(), rl.login_failures_per_ip_per_minute),
            (id_bucket.as_str(), rl.login_failures_per_account_per_minute),
        ];
        // Login IDs that name no account count against the account-enumeration limit. It
        // is checked before the lookup, whatever the login ID names, so that a refusal
        // tells nothing about which accounts exist.
        let (_, enum_bucket, enum_limit) = self.per_ip_bucket(PerIp::AccountEnumeration, raw_ip);
        let enum_weight = ctl.weight(RateGroup::AccountEnumeration);
        if !self.under_weighted_limit(&enum_bucket, enum_limit, enum_weight).await? {
            self.record_blocked(actor, "account_enumeration", &enum_bucket).await?;
            return Err(LoginError::RateLimited);
        }
        // The failed-sign-in limits are counted before the lookup, unless a
        // `post_identified` hook may still weigh the attempt: then once it has.
        let weighed_later = self.will_deliver("authentication.post_identified");
        let early = if weighed_later {
            None
        } else {
            // Refused before any hash is computed: guessing costs the server nothing more.
            Some(self.reserve_sign_in(&limits, ctl.weight(RateGroup::General), &id_bucket, actor).await?)
        };
        let keys = candidate_keys(self, login_id);
        // The owner with its row: the checks after the hash read this copy, and the session's
        // transaction checks the row again as it changes it (`open_idp_session`).
        let mut owners = self.users().users_by_unique_keys(&keys).await?;
        let Some(user) = owners.pop().filter(|_| owners.is_empty()) else {
            self.count_weighted(&enum_bucket, enum_limit, enum_weight).await?;
            let reservation = match early {
                Some(r) => r,
                None => self.reserve_sign_in(&limits, ctl.weight(RateGroup::General), &id_bucket, actor).await?,
            };
            self.hasher.verify(password, None).await.map_err(Error::from)?;
            reservation.keep();
            let audit = Audit { actor: actor.clone(), activity: "authentication.identity.login_id.failed".into() };
            self.audit_batch.record(audit::row(&audit, None, json!({"login_id": login_id}), now())).await?;
            return Err(LoginError::Invalid);
        };
        let user_id = user.id;
        if let Some(until) = self.check_lockout(user_id, LockoutMethod::Password, actor).await? {
            // Refused before the hash: a locked account costs no Argon2.
            if let Some(r) = early {
                r.keep();
            }
            return Err(LoginError::Locked { until });
        }
        let identified = SignInSoFar::identified(user_id.uuid(), Identification::of_login_id(login_id), &keys);
        self.authentication_hook(AuthStep::PostIdentified, identified, actor, &mut ctl).await?;
        if let Err(refused) = self.sign_in_bot_check(&mut ctl, bot_token, actor).await {
            // Refused before the hash, as a check before the lookup would have been.
            if let Some(r) = early {
                self.release_attempt(r).await?;
            }
            return Err(refused);
        }
        let reservation = match early {
            Some(r) => r,
            None => self.reserve_sign_in(&limits, ctl.weight(RateGroup::General), &id_bucket, actor).await?,
        };
        // The user's authenticators in one read: the password, and whether a second factor
        // follows it (as of this read, the hash's time before the session).
        let backend = self.db.reader().get_database_backend();
        let by_user = authenticators_of_user(backend, user_id);
        let authenticators =
            self.db.select_typed(by_user, crate::service::store::direct_rows::authenticators_of).await?;
        let has_second_factor = authenticators.iter().any(|a| self.asks_as_second_factor(a));
        let pw = authenticators.into_iter().find(|a| a.kind == "password" && a.factor == "primary");
        // Kept only to check the password against the policy once it proved right.
        let plain = self.config.password_policy.force_change.then(|| password.clone());
        let stored = pw.as_ref().and_then(|p| p.password_hash.clone());
        // An imported (foreign) or outdated hash is replaced once the password proves right.
        let rehash = stored.as_deref().filter(|h| self.hasher.needs_rehash(h)).map(|_| password.clone());
        let ok = self.hasher.verify(password, stored).await.map_err(Error::from)?;
        if !ok {
            reservation.keep();
            let audit = Audit { actor: actor.clone(), activity: "authentication.primary.password.failed".into() };
            self.audit_batch
                .record(audit::row(&audit, Some(user_id.uuid()), json!({"user_id": user_id}), now()))
                .await?;
            if let Some(until) = self.record_lockout_failure(user_id, LockoutMethod::Password, actor).await? {
                return Err(LoginError::Locked { until });
            }
            return Err(LoginError::Invalid);
        }
        // The password was right: the attempt is not a failure.
        self.release_attempt(reservation).await?;
        if let (Some(pw), Some(password)) = (&pw, rehash) {
            self.upgrade_password_hash(pw, password).await;
        }
        // The account as it was read before the hash; one disabled during the hash gets no
        // session either: the session's transaction checks the row it updates.
        let t = now();
        self.check_may_sign_in(&user)?;
        let mut first = FirstFactor::password(Identification::of_login_id(login_id), keys);
        first.has_second_factor = Some(has_second_factor);
        // A password that must change first: the hooks' controls go on with its state.
        if let Some(pw) = &pw
            && let Some(why) = self.password_change_reason(pw, plain.as_deref(), t)
        {
            let pending = self.password_change_state(user_id, pw, flow, t, why, ctl, &first);
            return Err(LoginError::PasswordChangeRequired { pending, why });
        }
        self.after_first_factor(&user, first, flow, actor, replaces, t, ctl).await
    }

    /// Counts a sign-in attempt of `weight` in the failed-sign-in `limits`; refused (and
    /// audited once a minute) when over one of them.
    async fn reserve_sign_in(
        &self,
        limits: &[(&str, i64)],
        weight: Weight,
        id_bucket: &str,
        actor: &Actor,
    ) -> Result<Reservation, LoginError> {
        match self.reserve_weighted(limits, weight).await? {
            Some(r) => Ok(r),
            None => {
                self.record_blocked(actor, "login", id_bucket).await?;
                Err(LoginError::RateLimited)
            }
        }
    }

    /// Replaces the foreign or outdated hash of `pw`, which `password` just matched, by the
    /// server's Argon2id. Only the hash changes: `updated_at` dates the password itself (its
    /// age for `password_policy.expiry`), and the password is the same. The row is left
    /// alone if its hash changed meanwhile (a password change racing this sign-in). Not an
    /// audited change (the server rewrites its own storage; no one changed anything), and
    /// best effort: a failure is logged and the sign-in goes on, to try again next time.
    async fn upgrade_password_hash(&self, pw: &authenticator::Model, password: String) {
        let Some(old) = pw.password_hash.clone() else { return };
        let new = match self.hasher.hash(password).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(error = %e, "could not rehash an imported password");
                return;
            }
        };
        let id = pw.id;
        let result = self
            .write_unaudited(async |tx| {
                let done = authenticator::Entity::update_many()
                    .col_expr(authenticator::Column::PasswordHash, Expr::value(new.clone()))
                    .filter(Expr::col(authenticator::Column::Id).eq(id))
                    .filter(Expr::col(authenticator::Column::PasswordHash).eq(old.clone()))
                    .exec(tx.conn())
                    .await?;
                Ok::<_, Error>(done.rows_affected)
            })
            .await;
        match result {
            Ok(n) => tracing::info!(authenticator = %id, upgraded = n == 1, "password hash upgraded to Argon2id"),
            Err(e) => tracing::warn!(authenticator = %id, error = ?e, "could not store the upgraded password hash"),
        }
    }

    /// Refuses an anonymized or disabled user, and one whose deletion an administrator
    /// scheduled. A user who asked for their own deletion (deactivated) may sign in: the
    /// session that starts cancels the request (as Authgear reactivates them).
    pub(in crate::service) fn check_may_sign_in(&self, user: &User) -> Result<(), LoginError> {
        if user.is_anonymized {
            return Err(LoginError::Disabled(None));
        }
        if user.delete_at.is_some() && !user.is_deactivated {
            return Err(LoginError::DeletionScheduled);
        }
        if user.is_disabled_at(now()) || (user.is_deactivated && user.delete_at.is_none()) {
            return Err(LoginError::Disabled(user.disable_reason.clone()));
        }
        Ok(())
    }

    /// The sealed "first factor passed" state, if it is genuine, for `flow` and recent.
    pub(in crate::service) fn first_factor_passed(
        &self,
        state: &str,
        flow: &str,
    ) -> Result<PasswordPassed, LoginError> {
        let Some(passed) = self.unseal::<PasswordPassed>(MFA_PURPOSE, state) else {
            return Err(LoginError::SecondFactorExpired);
        };
        let age = now().unix_timestamp() - passed.iat;
        if passed.flow != flow || !(0..=MFA_STATE_LIFETIME_SECS).contains(&age) {
            return Err(LoginError::SecondFactorExpired);
        }
        Ok(passed)
    }

    /// The second step of a sign-in: a code from one of the user's authenticator apps,
    /// with the sealed state a correct password gave for this `flow`. A right code starts
    /// the session with `amr` `pwd otp mfa x_secondary_totp` (after the
    /// `authentication.pre_authenticated` hook, which may ask for one more step); a wrong or reused one is
    /// audited as `authentication.secondary.totp.failed` and counted in the failed-login
    /// limits (per IP address, and per user from that address).
    pub async fn login_with_totp(
        &self,
        state: &str,
        flow: &str,
        code: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<LoginOutcome, LoginError> {
        self.second_step(state, flow, code, false, actor, replaces).await
    }

    /// The second step with one of the user's recovery codes instead of an app's code:
    /// a right, unused code is used up and starts the session with `amr`
    /// `pwd mfa x_recovery_code`; a wrong or used one is audited as
    /// `authentication.secondary.recovery_code.failed` and counted in the same limits.
    pub async fn login_with_recovery_code(
        &self,
        state: &str,
        flow: &str,
        code: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<LoginOutcome, LoginError> {
        self.second_step(state, flow, code, true, actor, replaces).await
    }

    async fn second_step(
        &self,
        state: &str,
        flow: &str,
        code: &str,
        recovery: bool,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<LoginOutcome, LoginError> {
        let t = now();
        let passed = self.first_factor_passed(state, flow)?;
        let kind = if recovery { FactorKind::RecoveryCode } else { FactorKind::Totp };
        if !passed.accepts(kind) {
            // Checked before the code, so that a recovery code is not used up in vain.
            return Err(LoginError::MethodUnavailable(format!(
                "this sign-in asks for another second step than {}; choose one of those offered",
                if recovery { "a recovery code" } else { "an authenticator app" }
            )));
        }
        let user_id = UserId::from(passed.user);
        let rl = &self.config.rate_limits;
        let ip = crate::service::account::rate_limit::network_key(actor.ip.as_deref().unwrap_or("-"));
        let ip_bucket = format!("login:ip:{ip}");
        let user_bucket = format!("login:totp:{ip}:{}", passed.user);
        let limits = [
            (ip_bucket.as_str(), rl.login_failures_per_ip_per_minute),
            (user_bucket.as_str(), rl.login_failures_per_account_per_minute),
        ];
        let Some(reservation) = self.reserve_weighted(&limits, passed.weight.unwrap_or(Weight::ONE)).await? else {
            self.record_blocked(actor, "login", &user_bucket).await?;
            return Err(LoginError::RateLimited);
        };
        let method = if recovery { LockoutMethod::RecoveryCode } else { LockoutMethod::Totp };
        if let Some(until) = self.check_lockout(user_id, method, actor).await? {
            reservation.keep();
            return Err(LoginError::Locked { until });
        }
        let checked = if recovery {
            self.use_recovery_code(user_id, code).await
        } else {
            self.verify_totp(user_id, code.trim()).await.map(|_| ())
        };
        match checked {
            Ok(()) => self.release_attempt(reservation).await?,
            Err(Error::Invalid { message, .. }) => {
                reservation.keep();
                let activity = if recovery { RECOVERY_CODE_FAILED } else { "authentication.secondary.totp.failed" };
                let audit = Audit { actor: actor.clone(), activity: activity.into() };
                self.audit_batch
                    .record(audit::row(&audit, Some(user_id.uuid()), json!({"user_id": user_id}), now()))
                    .await?;
                if let Some(until) = self.record_lockout_failure(user_id, method, actor).await? {
                    return Err(LoginError::Locked { until });
                }
                return Err(LoginError::WrongCode(message));
            }
            Err(e) => return Err(e.into()),
        }
        let Some(user) = self.users().get(user_id).await? else { return Err(LoginError::SecondFactorExpired) };
        self.check_may_sign_in(&user)?;
        self.after_second_factor(passed, &user, kind, actor, replaces, t).await
    }

    /// Creates a browser session for a user who just proved who they are, if the account
    /// may still sign in as the session's transaction sees it ([`Self::open_checked_session`]).
    pub(in crate::service) async fn start_idp_session(
        &self,
        user: &User,
        actor: &Actor,
        replaces: Option<SessionId>,
        at: OffsetDateTime,
        amr: &[&str],
    ) -> Result<(IdpSession, String), LoginError> {
        self.write(async |tx| self.open_checked_session(tx, user, actor, replaces, at, amr).await).await
    }

    /// [`Self::open_idp_session`], then the account as the transaction sees it: one deleted
    /// (`Invalid`), disabled, deactivated or scheduled for deletion since the caller read it
    /// gets no session, and the caller's transaction rolls back on the error. This closes
    /// the window of the `authentication.pre_authenticated` hook, which runs between the
    /// caller's read and the session.
    pub(in crate::service) async fn open_checked_session(
        &self,
        tx: &Tx,
        user: &User,
        actor: &Actor,
        replaces: Option<SessionId>,
        at: OffsetDateTime,
        amr: &[&str],
    ) -> Result<(IdpSession, String), LoginError> {
        let (sess, token, current) = match self.open_idp_session(tx, user, actor, replaces, at, amr).await {
            Err(Error::NotFound { .. }) => return Err(LoginError::Invalid),
            other => other?,
        };
        self.check_may_sign_in(&current)?;
        if current.is_deactivated {
            // Deactivated since the caller read it (a session reactivates only an account
            // the caller saw deactivated).
            return Err(LoginError::Disabled(current.disable_reason.clone()));
        }
        Ok((sess, token))
    }

    /// [`Self::start_idp_session`] inside the caller's unit of work `tx`: the session row,
    /// the end of the browser's previous session, the last login and `user.authenticated`.
    /// Also returns the user's row as the last login's update left it, for a caller that
    /// checks the account inside the transaction.
    pub(in crate::service) async fn open_idp_session(
        &self,
        tx: &Tx,
        user: &User,
        actor: &Actor,
        replaces: Option<SessionId>,
        at: OffsetDateTime,
        amr: &[&str],
    ) -> Result<(IdpSession, String, User)> {
        let t = micros(at);
        let token = b64(random_bytes::<32>());
        let amr: Vec<String> = amr.iter().map(|m| (*m).to_owned()).collect();
        if user.is_deactivated {
            self.reactivate_on_sign_in(tx, user.id, actor).await?;
        }
        let txn = tx.conn();
        // The user's row first (a user deleted meanwhile is not found, before the session's
        // row would fail on it), as it is now, for the audit row's snapshot and the caller.
        let row_now = last_login_now(txn, user.id, t)
            .await?
            .ok_or_else(|| Error::not_found(reason::USER_NOT_FOUND, format!("user {} does not exist", user.id)))?;
        let row = NewSession {
            kind: "idp",
            user_id: user.id.uuid(),
            client_id: None,
            idp_session_id: None,
            scopes: &[],
            amr: &amr,
            auth_time: t,
            lifetime_seconds: self.config.session.lifetime_seconds,
            token_hash: Some(sha256(token.as_bytes()).to_vec()),
        }
        .insert(t, actor, txn)
        .await?;
        if let Some(old) = replaces {
            // The browser's previous session ends. The same user's refresh grants from it
            // (other apps, by single sign-on) move to the new one, so that they live on and
            // a later logout still ends them; another user's grants are left alone.
            session::Entity::update_many()
                .col_expr(session::Column::IdpSessionId, Expr::value(row.id))
                .filter(Expr::col(session::Column::IdpSessionId).eq(old))
                .filter(Expr::col(session::Column::UserId).eq(user.id))
                .exec(txn)
                .await?;
            end_sessions(txn, session_end::session(old.uuid()), t).await?;
        }
        let audit = Audit { actor: actor.clone(), activity: "user.authenticated".into() };
        let snap = crate::service::admin::user_rows::snapshot(&row_now);
        let payload = json!({"user": snap, "session": session_model(&row), "session_id": row.id, "amr": amr});
        tx.record_at(&audit, Some(user.id.uuid()), payload, at).await?;
        self.telemetry.sign_in(amr.first().map_or("none", String::as_str));
        let session = IdpSession { id: row.id.into(), user_id: user.id, auth_time: t, amr, user: None };
        Ok((session, token, User::from(row_now)))
    }

    /// The live browser session a cookie names, if any. Refreshes its last access at most
    /// once a minute, so that a busy browser does not write on every request.
    pub async fn idp_session(&self, token: &str, actor: &Actor) -> Result<Option<IdpSession>> {
        let digest = sha256(token.as_bytes()).to_vec();
        // The session with its user, in one statement.
        let to_user: RelationDef =
            session::Entity::belongs_to(user::Entity).from(session::Column::UserId).to(user::Column::Id).into();
        let Some((row, user_row)) = session::Entity::find()
            .filter(Expr::col((session::Entity, session::Column::TokenHash)).eq(digest))
            .join(JoinType::LeftJoin, to_user)
            .select_also(user::Entity)
            .one(&self.db.reader())
            .await?
        else {
            return Ok(None);
        };
        let t = micros(now());
        let idle = self.config.session.idle_timeout_seconds.saturating_mul(1_000_000);
        if row.revoked_at.is_some() || row.expires_at <= t || row.last_accessed_at + idle <= t {
            return Ok(None);
        }
        if t - row.last_accessed_at > 60_000_000 {
            session::Entity::update_many()
                .col_expr(session::Column::LastAccessedAt, Expr::value(t))
                .col_expr(session::Column::LastAccessedByIp, Expr::value(actor.ip.clone()))
                .filter(Expr::col(session::Column::Id).eq(row.id))
                .exec(&self.db.writer().await?)
                .await?;
        }
        Ok(Some(IdpSession {
            id: row.id.into(),
            user_id: row.user_id.into(),
            auth_time: row.auth_time,
            amr: strings(&row.amr),
            user: user_row.map(|u| Box::new(User::from(u))),
        }))
    }

    /// Logs out: ends a browser session and every refresh-token grant that came from it,
    /// and writes `user.signed_out`.
    pub async fn end_idp_session(&self, sess: &IdpSession, actor: &Actor) -> Result<()> {
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let ending = session::Entity::find()
                .filter(session_end::session_and_grants(sess.id.uuid()))
                .filter(Expr::col(session::Column::RevokedAt).is_null())
                .all(txn)
                .await?;
            end_sessions(txn, session_end::session_and_grants(sess.id.uuid()), t).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.signed_out".into() };
            let user = user_row(txn, sess.user_id.uuid()).await?;
            let sessions: Vec<_> = ending.iter().map(session_model).collect();
            let payload = json!({"user": crate::service::admin::user_rows::snapshot(&user), "sessions": sessions, "session_id": sess.id});
            tx.record(&audit, Some(sess.user_id.uuid()), payload).await?;
            Ok(())
        })
        .await
    }
}

/// The select of a user's authenticators (the user's ID its one value); its text is built
/// once per kind of database, not per sign-in.
fn authenticators_of_user(backend: sea_orm::DbBackend, user_id: UserId) -> sea_orm::Statement {
    use sea_orm::QueryTrait;
    static TEXT: crate::service::store::built_once::BuiltOnce = crate::service::store::built_once::BuiltOnce::new();
    TEXT.statement(backend, vec![user_id.into()], || {
        authenticator::Entity::find().filter(Expr::col(authenticator::Column::UserId).eq(user_id)).build(backend)
    })
}

/// Sets the user's last login to `t` (micros) and returns the row as the update leaves it;
/// `None` when the user does not exist. The statement's text is built once per kind of
/// database.
async fn last_login_now(txn: &TxConn, id: UserId, t: i64) -> Result<Option<user::Model>> {
    use sea_orm::{FromQueryResult, Iterable};
    static TEXT: crate::service::store::built_once::BuiltOnce = crate::service::store::built_once::BuiltOnce::new();
    let backend = txn.get_database_backend();
    let stmt = TEXT.statement(backend, vec![t.into(), id.uuid().into()], || {
        let update = Query::update()
            .table(user::Entity)
            .value(user::Column::LastLoginAt, t)
            .and_where(Expr::col(user::Column::Id).eq(id.uuid()))
            .returning(Query::returning().columns(user::Column::iter()))
            .to_owned();
        backend.build(&update)
    });
    match txn.read_typed(stmt, crate::service::store::direct_rows::users_of) {
        Ok(rows) => Ok(rows?.pop()),
        Err(stmt) => match txn.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(user::Model::from_query_result(&row, "")?)),
            None => Ok(None),
        },
    }
}
