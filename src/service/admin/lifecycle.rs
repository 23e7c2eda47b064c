//! The account lifecycle, with Authgear's rules: scheduling and unscheduling a deletion
//! or an anonymization, anonymizing now, what deleting and anonymizing remove, and the
//! job that runs due schedules exactly once however many processes share the database.
//!
//! - Scheduling (by an admin) disables the account indefinitely and ends its sessions;
//!   unscheduling re-enables it. A user's own deletion request deactivates the account
//!   instead, and signing in again reactivates it (see `account/login.rs`).
//! - The blocking hooks `user.pre_schedule_deletion` / `user.pre_schedule_anonymization`
//!   see the user as the change leaves it, inside its transaction: a refusal rolls the
//!   whole change back.
//! - An anonymized user keeps only the `users` row (ID, times, `is_anonymized`,
//!   `anonymized_at`); it can still be deleted, nothing else.
//! - The job claims one due user per transaction (on PostgreSQL with `FOR UPDATE SKIP
//!   LOCKED`); the conditional write (`DELETE … WHERE delete_at <= now`, `UPDATE … WHERE
//!   anonymize_at <= now AND NOT is_anonymized`) commits together with its audit row, so
//!   each execution happens once and a crash leaves every user either done or not.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::ids::{TypedId, UserId};
use crate::domain::reason;
use crate::service::admin::user_rows::{admin_user_row, snapshot, user_row};
use crate::service::admin::users::User;
use crate::service::store::session_end::{end_sessions, of_user};
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::Tx;
use crate::service::{Actor, Audit, Error, Maintenance, Result, Services, TriggeredBy, Users};
use entity::{authenticator, identity, otp_code, rate_limit, refresh_token, session, user};

/// Microseconds in a day.
const DAY_US: i64 = 86_400 * 1_000_000;

/// Tables whose rows carry the `user_id` of the user they belong to, apart from
/// `sessions` (removed with their refresh tokens first). Audit rows, webhook events and
/// SMS fraud-protection decisions are records of what happened and stay.
const OWNED_TABLES: &[&str] = &[
    "authorization_codes",
    "authorizations",
    "password_reset_codes",
    "recovery_codes",
    "account_lockouts",
    "device_tokens",
    "password_history",
    "verified_claims",
    "user_roles",
    "user_groups",
    "authenticators",
    "identities",
];

/// Authgear's name of the user's account status, for transition errors.
fn status_name(u: &user::Model) -> &'static str {
    match () {
        _ if u.delete_at.is_some() && u.is_deactivated => "scheduled_deletion_deactivated",
        _ if u.delete_at.is_some() => "scheduled_deletion_disabled",
        _ if u.is_anonymized => "anonymized",
        _ if u.anonymize_at.is_some() => "scheduled_anonymization_disabled",
        _ if u.is_deactivated => "deactivated",
        _ if u.is_disabled => "disabled",
        _ => "normal",
    }
}

fn transition(from: &user::Model, to: &str) -> Error {
    Error::invalid(
        reason::INVALID_ACCOUNT_STATUS_TRANSITION,
        format!("invalid account status transition: {} -> {to}", status_name(from)),
    )
}

/// Removes everything of `user_id` but the `users` row: identities, authenticators,
/// sessions with their refresh tokens, consents, role and group links, verified claims,
/// pending codes (authorization, reset, one-time codes sent to the user's addresses,
/// recovery codes, device tokens), lockouts, password history and the user's own
/// rate-limit counters. Returns how many sessions were removed.
pub(in crate::service) async fn purge_user_data(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<u64> {
    let idents = identity::Entity::find().filter(Expr::col(identity::Column::UserId).eq(user_id)).all(conn).await?;
    let auths =
        authenticator::Entity::find().filter(Expr::col(authenticator::Column::UserId).eq(user_id)).all(conn).await?;
    let mut targets: Vec<String> = idents
        .iter()
        .filter(|i| i.kind == "login_id" && matches!(i.login_id_type.as_str(), "email" | "phone"))
        .map(|i| i.value.clone())
        .chain(auths.iter().filter_map(|a| a.oob_target.clone()))
        .collect();
    targets.sort();
    targets.dedup();
    if !targets.is_empty() {
        otp_code::Entity::delete_many().filter(Expr::col(otp_code::Column::Target).is_in(targets)).exec(conn).await?;
    }
    let sessions = Query::select()
        .column(session::Column::Id)
        .from(session::Entity)
        .and_where(Expr::col(session::Column::UserId).eq(user_id))
        .to_owned();
    refresh_token::Entity::delete_many()
        .filter(Expr::col(refresh_token::Column::SessionId).in_subquery(sessions))
        .exec(conn)
        .await?;
    let ended = session::Entity::delete_many()
        .filter(Expr::col(session::Column::UserId).eq(user_id))
        .exec(conn)
        .await?
        .rows_affected;
    for table in OWNED_TABLES {
        let stmt =
            Query::delete().from_table(Alias::new(*table)).and_where(Expr::col("user_id").eq(user_id)).to_owned();
        conn.execute(&stmt).await?;
    }
    rate_limit::Entity::delete_many()
        .filter(Expr::col(rate_limit::Column::Bucket).like(format!("%{user_id}%")))
        .exec(conn)
        .await?;
    Ok(ended)
}

/// Ends the sessions and device tokens of a user whose account was just disabled, and
/// voids their reset links.
async fn log_out_everywhere(conn: &impl ConnectionTrait, user_id: Uuid, t: i64) -> Result<u64> {
    let ended = end_sessions(conn, of_user(user_id), t).await?;
    crate::service::account::device_tokens::end_device_tokens(conn, user_id).await?;
    crate::service::account::password_reset::end_reset_codes(conn, user_id, t).await?;
    Ok(ended)
}

/// Anonymizes the locked row `row` in `conn`: removes everything of the user and clears
/// the row, keeping its ID and times. `is_scheduled`: the job runs it (the condition
/// `anonymize_at <= now` must still hold). Returns the row after the change, or `None`
/// when the conditional write found nothing to do (another process won).
async fn anonymize_row(
    conn: &impl ConnectionTrait,
    row: &user::Model,
    t: i64,
    scheduled: Option<i64>,
) -> Result<Option<user::Model>> {
    purge_user_data(conn, row.id).await?;
    let mut q = user::Entity::update_many()
        .col_expr(user::Column::StandardAttributes, Expr::value(json!({})))
        .col_expr(user::Column::CustomAttributes, Expr::value(json!({})))
        .col_expr(user::Column::NameKey, Expr::value(Option::<String>::None))
        .col_expr(user::Column::LastLoginAt, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::IsDisabled, Expr::value(true))
        .col_expr(user::Column::DisableReason, Expr::value(Option::<String>::None))
        .col_expr(user::Column::IsDeactivated, Expr::value(false))
        .col_expr(user::Column::IsAnonymized, Expr::value(true))
        .col_expr(user::Column::AnonymizedAt, Expr::value(t))
        .col_expr(user::Column::AnonymizeAt, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::TemporarilyDisabledFrom, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::TemporarilyDisabledUntil, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::AccountValidFrom, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::AccountValidUntil, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::MfaGracePeriodEndAt, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::UpdatedAt, Expr::value(t))
        .filter(Expr::col(user::Column::Id).eq(row.id))
        .filter(Expr::col(user::Column::IsAnonymized).eq(false));
    if let Some(due) = scheduled {
        q = q.filter(Expr::col(user::Column::AnonymizeAt).lte(due));
    }
    if q.exec(conn).await?.rows_affected != 1 {
        return Ok(None);
    }
    Ok(Some(user_row(conn, row.id).await?))
}

impl Users<'_> {
    /// `scheduleAccountDeletion`: the user is deleted after `account_deletion.grace_period_days`;
    /// until then the account is disabled and signed out everywhere. Fails when a deletion is
    /// already scheduled. An anonymized user may be scheduled too.
    pub async fn schedule_deletion(&self, audit: &Audit, user_id: UserId, reason: Option<String>) -> Result<User> {
        crate::domain::text::check_text("reason", reason.as_deref().unwrap_or(""))?;
        let t = micros(now());
        let at = t + self.config.account_deletion.grace_period_days.saturating_mul(DAY_US);
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            if row.delete_at.is_some() {
                return Err(transition(&row, "scheduled_deletion_disabled"));
            }
            let mut am = row.into_active_model();
            am.is_disabled = Set(true);
            am.is_deactivated = Set(false);
            am.disable_reason = Set(None);
            am.temporarily_disabled_from = Set(None);
            am.temporarily_disabled_until = Set(None);
            am.delete_at = Set(Some(at));
            am.delete_reason = Set(reason.filter(|r| !r.is_empty()));
            am.anonymize_at = Set(None);
            am.updated_at = Set(t);
            let row = am.update(txn).await?;
            let row = self.pre_schedule_hook(txn, "user.pre_schedule_deletion", row, &audit.actor).await?;
            let ended = log_out_everywhere(txn, row.id, t).await?;
            scheduled_events(tx, audit, &row, "user.deletion_scheduled", ended).await?;
            Ok(row.into())
        })
        .await
    }

    /// `unscheduleAccountDeletion`: cancels a scheduled deletion (the admin's or the
    /// user's own) and re-enables the account (an anonymized user stays disabled).
    pub async fn unschedule_deletion(&self, audit: &Audit, user_id: UserId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            if row.delete_at.is_none() {
                return Err(transition(&row, if row.is_anonymized { "anonymized" } else { "normal" }));
            }
            let anonymized = row.is_anonymized;
            let row = clear_schedules(txn, row, anonymized).await?;
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row)})).await?;
            tx.event(audit, "user.deletion_unscheduled", Some(row.id), json!({"user": snapshot(&row)})).await?;
            Ok(row.into())
        })
        .await
    }

    /// `scheduleAccountAnonymization`: the user is anonymized after
    /// `account_anonymization.grace_period_days`; until then the account is disabled and
    /// signed out everywhere. Fails when an anonymization is already scheduled.
    pub async fn schedule_anonymization(&self, audit: &Audit, user_id: UserId) -> Result<User> {
        let t = micros(now());
        let at = t + self.config.account_anonymization.grace_period_days.saturating_mul(DAY_US);
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            if row.anonymize_at.is_some() {
                return Err(transition(&row, "scheduled_anonymization_disabled"));
            }
            let mut am = row.into_active_model();
            am.is_disabled = Set(true);
            am.is_deactivated = Set(false);
            am.disable_reason = Set(None);
            am.temporarily_disabled_from = Set(None);
            am.temporarily_disabled_until = Set(None);
            am.delete_at = Set(None);
            am.delete_reason = Set(None);
            am.anonymize_at = Set(Some(at));
            am.updated_at = Set(t);
            let row = am.update(txn).await?;
            let row = self.pre_schedule_hook(txn, "user.pre_schedule_anonymization", row, &audit.actor).await?;
            let ended = log_out_everywhere(txn, row.id, t).await?;
            scheduled_events(tx, audit, &row, "user.anonymization_scheduled", ended).await?;
            Ok(row.into())
        })
        .await
    }

    /// `unscheduleAccountAnonymization`: cancels a scheduled anonymization and re-enables
    /// the account.
    pub async fn unschedule_anonymization(&self, audit: &Audit, user_id: UserId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            if row.anonymize_at.is_none() {
                return Err(transition(&row, "normal"));
            }
            let row = clear_schedules(txn, row, false).await?;
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row)})).await?;
            tx.event(audit, "user.anonymization_unscheduled", Some(row.id), json!({"user": snapshot(&row)})).await?;
            Ok(row.into())
        })
        .await
    }

    /// `anonymizeUser`: anonymizes the user now. Cannot be undone.
    pub async fn anonymize(&self, audit: &Audit, user_id: UserId) -> Result<UserId> {
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let before = admin_user_row(txn, user_id.uuid()).await?;
            let model = crate::service::events::user_model::model_of(txn, &before).await?;
            let Some(row) = anonymize_row(txn, &before, t, None).await? else {
                return Err(transition(&before, "anonymized"));
            };
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row)})).await?;
            let payload = json!({"user": model, "is_scheduled_anonymization": false});
            tx.event(audit, "user.anonymized", Some(row.id), payload).await?;
            Ok(user_id)
        })
        .await
    }

    /// The blocking hook of a schedule (`user.pre_schedule_deletion` or
    /// `user.pre_schedule_anonymization`) on the user as the change leaves them.
    async fn pre_schedule_hook(
        &self,
        conn: &impl ConnectionTrait,
        event: &'static str,
        row: user::Model,
        actor: &Actor,
    ) -> Result<user::Model> {
        self.user_hook(conn, event, row, actor, false).await
    }
}

/// Clears both schedules and re-enables the account (`keep_disabled`: an anonymized user,
/// who stays disabled).
async fn clear_schedules(conn: &impl ConnectionTrait, row: user::Model, keep_disabled: bool) -> Result<user::Model> {
    let mut am = row.into_active_model();
    am.is_disabled = Set(keep_disabled);
    am.is_deactivated = Set(false);
    am.disable_reason = Set(None);
    am.temporarily_disabled_from = Set(None);
    am.temporarily_disabled_until = Set(None);
    am.delete_at = Set(None);
    am.delete_reason = Set(None);
    am.anonymize_at = Set(None);
    am.updated_at = Set(micros(now()));
    Ok(am.update(conn).await?)
}

/// The audit row and the lifecycle event of a schedule.
async fn scheduled_events(tx: &Tx, audit: &Audit, row: &user::Model, event: &str, ended: u64) -> Result<()> {
    tx.record(audit, Some(row.id), json!({"user": snapshot(row), "sessions_ended": ended})).await?;
    tx.event(audit, event, Some(row.id), json!({"user": snapshot(row)})).await
}

impl Services {
    /// A user's own deletion request (the settings page): the account is deactivated and
    /// deleted after the grace period unless the user signs in again or an admin
    /// unschedules it. Runs `user.pre_schedule_deletion`. Returns the deletion time.
    pub(in crate::service) async fn schedule_deletion_by_end_user(
        &self,
        user_id: UserId,
        actor: &Actor,
    ) -> Result<OffsetDateTime> {
        let t = micros(now());
        let at = t + self.config.account_deletion.grace_period_days.saturating_mul(DAY_US);
        let audit = Audit { actor: actor.clone(), activity: "user.deletion_scheduled".into() };
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            if row.delete_at.is_some() || row.anonymize_at.is_some() || row.is_anonymized || row.is_disabled {
                return Err(transition(&row, "scheduled_deletion_deactivated"));
            }
            let mut am = row.into_active_model();
            am.is_deactivated = Set(true);
            am.delete_at = Set(Some(at));
            am.delete_reason = Set(None);
            am.updated_at = Set(t);
            let row = am.update(txn).await?;
            let row = self.users().pre_schedule_hook(txn, "user.pre_schedule_deletion", row, actor).await?;
            let ended = log_out_everywhere(txn, row.id, t).await?;
            tx.record(
                &audit,
                Some(row.id),
                json!({"user": snapshot(&row), "delete_at": crate::service::store::time::time_of(at).unix_timestamp(), "sessions_ended": ended}),
            )
            .await?;
            Ok(crate::service::store::time::time_of(at))
        })
        .await
    }

    /// Signing in again cancels the user's own deletion request (Authgear reactivates a
    /// deactivated account at login): in the sign-in's unit of work `tx`. Nothing when
    /// the user is not deactivated.
    pub(in crate::service) async fn reactivate_on_sign_in(
        &self,
        tx: &Tx,
        user_id: UserId,
        actor: &Actor,
    ) -> Result<()> {
        let txn = tx.conn();
        let res = user::Entity::update_many()
            .col_expr(user::Column::IsDeactivated, Expr::value(false))
            .col_expr(user::Column::DeleteAt, Expr::value(Option::<i64>::None))
            .col_expr(user::Column::DeleteReason, Expr::value(Option::<String>::None))
            .col_expr(user::Column::UpdatedAt, Expr::value(micros(now())))
            .filter(Expr::col(user::Column::Id).eq(user_id))
            .filter(Expr::col(user::Column::IsDeactivated).eq(true))
            .exec(txn)
            .await?;
        if res.rows_affected == 1 {
            let row = user_row(txn, user_id.uuid()).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.deletion_unscheduled".into() };
            tx.record(&audit, Some(row.id), json!({"user": snapshot(&row), "reactivated": true})).await?;
        }
        Ok(())
    }
}

/// What one run of the lifecycle job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueRun {
    /// Users deleted.
    pub deleted: u64,
    /// Users anonymized.
    pub anonymized: u64,
}

/// A claim that found nothing to do, or failed.
enum Claim {
    Idle,
    Failed(Error),
}

impl From<Error> for Claim {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

/// Which schedule a claim runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Due {
    Deletion,
    Anonymization,
}

impl Maintenance<'_> {
    /// Runs the deletions and anonymizations due at `at`, at most `limit` of each, one
    /// user per transaction. Safe to run in several processes at once: each due user is
    /// executed (and audited, `triggered_by: system`) exactly once.
    pub async fn run_due_schedules(&self, at: OffsetDateTime, limit: u64) -> Result<DueRun> {
        let mut run = DueRun::default();
        for due in [Due::Deletion, Due::Anonymization] {
            for _ in 0..limit {
                match self.run_one(due, micros(at)).await {
                    Ok(()) if due == Due::Deletion => run.deleted += 1,
                    Ok(()) => run.anonymized += 1,
                    Err(Claim::Idle) => break,
                    Err(Claim::Failed(e)) => return Err(e),
                }
            }
        }
        Ok(run)
    }

    /// Claims one user whose `due` schedule has come and executes it, in one transaction.
    async fn run_one(&self, due: Due, at: i64) -> Result<(), Claim> {
        let actor = Actor { subject: Some("system".into()), triggered_by: TriggeredBy::System, ..Actor::default() };
        let activity = if due == Due::Deletion { "user.deleted" } else { "user.anonymized" };
        let audit = Audit { actor, activity: activity.into() };
        self.write(async |tx| {
            let txn = tx.conn();
            let mut q = Query::select();
            q.column(user::Column::Id).from(user::Entity);
            match due {
                Due::Deletion => {
                    q.and_where(Expr::col(user::Column::DeleteAt).lte(at))
                        .order_by(user::Column::DeleteAt, sea_orm::Order::Asc);
                }
                Due::Anonymization => {
                    q.and_where(Expr::col(user::Column::AnonymizeAt).lte(at))
                        .and_where(Expr::col(user::Column::IsAnonymized).eq(false))
                        .order_by(user::Column::AnonymizeAt, sea_orm::Order::Asc);
                }
            }
            q.limit(1);
            if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
                q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            }
            let Some(found) = txn.query_one(&q).await.map_err(Error::from)? else {
                return Err(Claim::Idle);
            };
            let id: Uuid = found.try_get_by_index(0).map_err(Error::from)?;
            let row = user_row(txn, id).await?;
            let model = crate::service::events::user_model::model_of(txn, &row).await?;
            match due {
                Due::Deletion => {
                    purge_user_data(txn, id).await?;
                    let gone = user::Entity::delete_many()
                        .filter(Expr::col(user::Column::Id).eq(id))
                        .filter(Expr::col(user::Column::DeleteAt).lte(at))
                        .exec(txn)
                        .await
                        .map_err(Error::from)?;
                    if gone.rows_affected != 1 {
                        return Err(Claim::Idle);
                    }
                    tx.record(
                        &audit,
                        Some(id),
                        json!({"user": model, "is_scheduled_deletion": true, "reason": row.delete_reason}),
                    )
                    .await?;
                }
                Due::Anonymization => {
                    if anonymize_row(txn, &row, micros(now()), Some(at)).await?.is_none() {
                        return Err(Claim::Idle);
                    }
                    tx.record(&audit, Some(id), json!({"user": model, "is_scheduled_anonymization": true})).await?;
                }
            }
            Ok(())
        })
        .await
    }
}
