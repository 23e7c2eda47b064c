//! A password that must change before a sign-in finishes: expired by an administrator
//! (`setPasswordExpired`), older than `password_policy.expiry.force_change`, or breaking
//! the policy (`password_policy.force_change`). The right password leads to a sealed
//! "password must change" state, not a session; a new password that meets the policy and
//! the history is stored, and the sign-in goes on (second factor or session).

use crate::domain::ids::{TypedId, UserId};
use crate::domain::password::check_policy;
use crate::service::Account;
use crate::service::account::first_factor::FirstFactor;
use crate::service::account::login::{LoginError, LoginOutcome, MFA_STATE_LIFETIME_SECS};
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::user_rows::{primary_password, set_primary_password};
use crate::service::events::sign_in::Identification;
use crate::service::store::session_end::{end_sessions, of_user};
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error, Result};
use entity::authenticator;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// The purpose the "password must change" state is sealed for.
const CHANGE_PURPOSE: &str = "login-password-change";

/// Why a password must change at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeReason {
    /// An administrator marked it expired (`setPasswordExpired`, or a password set with
    /// `setPasswordExpired: true`).
    Expired,
    /// It is older than `password_policy.expiry.force_change.duration_since_last_update_seconds`.
    TooOld,
    /// It breaks the current password policy (`password_policy.force_change`).
    PolicyViolated,
}

impl ChangeReason {
    /// The name written in the audit row.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::TooOld => "too_old",
            Self::PolicyViolated => "policy_violated",
        }
    }
}

/// Between a right password that must change and the new one: the user, the
/// authorization flow, when the password passed (Unix seconds), why, and the password
/// authenticator's `updated_at` (so that the state sets a password once).
#[derive(Serialize, Deserialize)]
struct MustChange {
    user: Uuid,
    flow: String,
    iat: i64,
    why: ChangeReason,
    pw_updated: i64,
    /// The sign-in hooks' controls so far (`pre_authenticated` runs once the password
    /// changed, right before the sign-in finishes).
    #[serde(default)]
    ctl: SignInControls,
    /// How the user was identified, and the identity's possible unique keys (for the
    /// hooks' payloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    how: Option<Identification>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<String>,
}

impl Account<'_> {
    /// Why the right password `pw` (with its plain text, when `force_change` kept it)
    /// must change before the sign-in finishes, if it must.
    pub(in crate::service) fn password_change_reason(
        &self,
        pw: &authenticator::Model,
        plain: Option<&str>,
        t: OffsetDateTime,
    ) -> Option<ChangeReason> {
        let now_us = micros(t);
        if pw.expire_after.is_some_and(|at| at <= now_us) {
            return Some(ChangeReason::Expired);
        }
        let policy = &self.config.password_policy;
        let age = &policy.expiry.force_change;
        if age.enabled && pw.updated_at + age.duration_since_last_update_seconds.saturating_mul(1_000_000) <= now_us {
            return Some(ChangeReason::TooOld);
        }
        if policy.force_change && plain.is_some_and(|p| check_policy(policy, p).is_err()) {
            return Some(ChangeReason::PolicyViolated);
        }
        None
    }

    /// Seals the "password must change" state for this user, flow and password, with the
    /// sign-in hooks' controls and how `first` identified the user.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::service) fn password_change_state(
        &self,
        user_id: UserId,
        pw: &authenticator::Model,
        flow: &str,
        t: OffsetDateTime,
        why: ChangeReason,
        ctl: SignInControls,
        first: &FirstFactor,
    ) -> String {
        let state = MustChange {
            user: user_id.uuid(),
            flow: flow.to_owned(),
            iat: t.unix_timestamp(),
            why,
            pw_updated: pw.updated_at,
            ctl,
            how: Some(first.how),
            keys: first.keys.clone(),
        };
        self.seal(CHANGE_PURPOSE, &state)
    }

    /// Why the sealed state asks for a new password, if it is genuine, for `flow` and
    /// recent (the page shows it).
    pub fn password_change_pending(&self, pending: &str, flow: &str) -> Result<ChangeReason, LoginError> {
        self.must_change(pending, flow).map(|m| m.why)
    }

    fn must_change(&self, pending: &str, flow: &str) -> Result<MustChange, LoginError> {
        let Some(state) = self.unseal::<MustChange>(CHANGE_PURPOSE, pending) else {
            return Err(LoginError::SecondFactorExpired);
        };
        let age = now().unix_timestamp() - state.iat;
        if state.flow != flow || !(0..=MFA_STATE_LIFETIME_SECS).contains(&age) {
            return Err(LoginError::SecondFactorExpired);
        }
        Ok(state)
    }

    /// The new password of a sign-in whose password must change, with the sealed state
    /// the right old password gave for this `flow`. The new password must meet the policy,
    /// differ from the old one and from the history; it is stored (in the history too),
    /// the user's other sessions end, `user.password.changed` is audited, and the sign-in
    /// goes on: the second factor if the user has one, else the session.
    pub async fn change_password_at_login(
        &self,
        pending: &str,
        flow: &str,
        new: String,
        actor: &Actor,
        replaces: Option<crate::domain::ids::SessionId>,
    ) -> Result<LoginOutcome, LoginError> {
        let state = self.must_change(pending, flow)?;
        let user_id = UserId::from(state.user);
        let Some(user) = self.users().get(user_id).await? else { return Err(LoginError::SecondFactorExpired) };
        self.check_may_sign_in(&user)?;
        let rejected = |e: Error| match e {
            Error::Invalid { message, .. } => LoginError::PasswordRejected(message),
            other => LoginError::Server(other),
        };
        check_policy(&self.config.password_policy, &new).map_err(|e| rejected(e.into()))?;
        self.check_password_history(user_id, &new).await.map_err(rejected)?;
        let current = primary_password(&self.db.reader(), user_id.uuid()).await?;
        if current.as_ref().is_none_or(|c| c.updated_at != state.pw_updated) {
            return Err(LoginError::SecondFactorExpired);
        }
        let same = self.hasher.verify(new.clone(), current.and_then(|c| c.password_hash)).await.map_err(Error::from)?;
        if same {
            return Err(LoginError::PasswordRejected("the new password must differ from the old one".into()));
        }
        let hash = self.hasher.hash(new).await.map_err(Error::from)?;
        let keep = self.config.password_policy.history_kept();
        let t = now();
        self.write(async |tx| {
            let txn = tx.conn();
            // The state sets a password once: a password changed since then ends it.
            if primary_password(txn, user_id.uuid()).await?.is_none_or(|c| c.updated_at != state.pw_updated) {
                return Err(Error::invalid(
                    crate::domain::reason::INVALID_CREDENTIALS,
                    "the password was changed already; sign in again",
                ));
            }
            set_primary_password(txn, user_id.uuid(), hash, t, keep).await?;
            let ended = end_sessions(txn, of_user(user_id.uuid()), micros(t)).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.password.changed".into() };
            let payload = json!({"at_sign_in": true, "reason": state.why.as_str(), "other_sessions_ended": ended});
            tx.record(&audit, Some(user_id.uuid()), payload).await?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            Error::Invalid { .. } => LoginError::SecondFactorExpired,
            other => LoginError::Server(other),
        })?;
        let first = FirstFactor::password(state.how.unwrap_or(Identification::Username), state.keys);
        self.after_first_factor(&user, first, flow, actor, replaces, now(), state.ctl).await
    }
}
