//! Self-service account management for the settings page: profile, password, sessions,
//! and the request to delete the account (`admin/lifecycle.rs` has the rules).

use crate::domain::ids::{SessionId, TypedId, UserId};
use crate::domain::password::check_policy;
use crate::domain::reason;
use crate::service::account::login::IdpSession;
use crate::service::admin::user_rows::set_primary_password;
use crate::service::admin::users::User;
use crate::service::store::session_end::{end_sessions, of_user, session_and_grants};
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error, Result, Services};
use entity::session;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use serde_json::{Value, json};

/// Profile attributes a user may edit on the settings page.
pub const EDITABLE_PROFILE: [(&str, &str); 4] =
    [("name", "Full name"), ("given_name", "Given name"), ("family_name", "Family name"), ("nickname", "Nickname")];

impl Services {
    /// Saves the editable profile attributes (an empty value removes the attribute).
    pub async fn update_own_profile(&self, user_id: UserId, edits: &[(String, String)], actor: &Actor) -> Result<User> {
        let user =
            self.users().get(user_id).await?.ok_or_else(|| Error::not_found(reason::USER_NOT_FOUND, "no such user"))?;
        let mut attrs = user.standard_attributes.as_object().cloned().unwrap_or_default();
        attrs.retain(|k, _| !crate::domain::attributes::DERIVED_ATTRS.contains(&k.as_str()));
        for (k, v) in edits {
            if !EDITABLE_PROFILE.iter().any(|(name, _)| name == k) {
                continue;
            }
            let v = v.trim();
            if v.is_empty() {
                attrs.remove(k);
            } else {
                attrs.insert(k.clone(), Value::String(v.to_owned()));
            }
        }
        let audit = Audit { actor: actor.clone(), activity: "user.profile.updated".into() };
        self.users().update(&audit, user_id, Some(Value::Object(attrs)), None).await
    }

    /// Checks the user's current password (sensitive changes ask for it again).
    async fn check_own_password(&self, user_id: UserId, password: String) -> Result<()> {
        let bucket = format!("password:user:{user_id}");
        let limit = self.config.rate_limits.password_check_failures_per_user_per_minute;
        let Some(reservation) = self.account().reserve_attempt(&[(bucket.as_str(), limit)]).await? else {
            return Err(Error::invalid(reason::RATE_LIMITED, "too many wrong passwords; wait a minute and try again"));
        };
        let pw = crate::service::admin::user_rows::primary_password(&self.db.reader(), user_id.uuid()).await?;
        if !self.hasher.verify(password, pw.and_then(|p| p.password_hash)).await? {
            reservation.keep();
            return Err(Error::invalid(reason::INVALID_CREDENTIALS, "the current password is incorrect"));
        }
        self.account().release_attempt(reservation).await?;
        Ok(())
    }

    /// Changes the password after checking the current one; ends every other session.
    pub async fn change_own_password(
        &self,
        sess: &IdpSession,
        current: String,
        new: String,
        actor: &Actor,
    ) -> Result<()> {
        self.check_own_password(sess.user_id, current).await?;
        check_policy(&self.config.password_policy, &new)?;
        self.check_password_history(sess.user_id, &new).await?;
        let hash = self.hasher.hash(new).await?;
        let keep = self.config.password_policy.history_kept();
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            set_primary_password(txn, sess.user_id.uuid(), hash, now(), keep).await?;
            let others = Condition::all()
                .add(Expr::col(session::Column::UserId).eq(sess.user_id))
                .add(Expr::col(session::Column::Id).ne(sess.id))
                .add(
                    Condition::any()
                        .add(Expr::col(session::Column::IdpSessionId).is_null())
                        .add(Expr::col(session::Column::IdpSessionId).ne(sess.id)),
                );
            let ended = end_sessions(txn, others, t).await?;
            crate::service::account::device_tokens::end_device_tokens(txn, sess.user_id.uuid()).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.password.changed".into() };
            tx.record(&audit, Some(sess.user_id.uuid()), json!({"other_sessions_ended": ended})).await?;
            Ok(())
        })
        .await
    }

    /// Ends one of the user's own sessions (and the grants that came from it).
    pub async fn end_own_session(&self, user_id: UserId, session_id: SessionId, actor: &Actor) -> Result<()> {
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            // Only the user's own sessions: the ID of someone else's ends nothing.
            let cond = of_user(user_id.uuid()).add(session_and_grants(session_id.uuid()));
            if end_sessions(txn, cond, t).await? == 0 {
                return Err(Error::not_found(reason::SESSION_NOT_FOUND, "this session has already ended"));
            }
            let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
            let payload = json!({"session_id": session_id, "termination_type": "individual"});
            tx.record(&audit, Some(user_id.uuid()), payload).await?;
            Ok(())
        })
        .await
    }

    /// Schedules the user's account for deletion after `account_deletion.grace_period_days`
    /// (Authgear's deletion by the end user): the current password confirms it; the account
    /// is deactivated and signed out everywhere. Signing in again, or an administrator's
    /// `unscheduleAccountDeletion`, cancels it. Returns the deletion time.
    pub async fn schedule_own_deletion(
        &self,
        sess: &IdpSession,
        password: String,
        actor: &Actor,
    ) -> Result<time::OffsetDateTime> {
        if !self.config.account_deletion.scheduled_by_end_user_enabled {
            return Err(Error::Forbidden {
                reason: reason::DELETION_BY_END_USER_DISABLED,
                message: "this service does not let you delete your account yourself; ask its administrator".into(),
            });
        }
        self.check_own_password(sess.user_id, password).await?;
        self.schedule_deletion_by_end_user(sess.user_id, actor).await
    }
}
