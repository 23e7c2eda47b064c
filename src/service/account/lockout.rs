//! Account lockout (Authgear's `authentication.lockout`): failed sign-in attempts counted
//! in the database (`account_lockouts`), so that every server process shares them, and the
//! locks they lead to.
//!
//! A sign-in step calls [`Account::check_lockout`] before it checks a credential (a locked
//! user costs no hash), [`Account::record_lockout_failure`] when the credential is wrong,
//! and [`Account::clear_lockout`] when the whole sign-in succeeded. Any method can use
//! them (`password`, `totp`, `recovery_code`, `oob_otp`); a method whose
//! `authentication_lockout.<method>.enabled` is false is neither counted nor refused.
//!
//! Per user, the row with `ip` [`ACCOUNT`] holds the failures from every address and the
//! `per_user` lock; each other row holds one address's failures and its `per_user_per_ip`
//! lock. Failures of a row are forgotten when none followed for `history_duration_seconds`.
//! Writes lock the user's row first (on PostgreSQL; SQLite write transactions are serial),
//! so concurrent failures of one user, in any process, are counted one after the other.
//! Attempts already past the check when a lock starts still have their credential checked
//! (a failure then reports the lock without counting); the per-minute rate limits,
//! reserved before any check, bound such a burst.

use crate::config::{LockoutMethod, LockoutType};
use crate::domain::ids::{TypedId, UserId};
use crate::service::account::rate_limit::network_key;
use crate::service::admin::user_rows::user_row;
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Account, Actor, Audit, Error, Maintenance, Result};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The `ip` of the row that holds the account as a whole.
pub(in crate::service) const ACCOUNT: &str = "";

/// The audit activity of a lock (Authgear's event name).
pub const BLOCKED: &str = "authentication.blocked";

const TABLE: &str = "account_lockouts";
const COLUMNS: [&str; 5] = ["user_id", "ip", "attempts", "last_failed_at", "locked_until"];

/// One row of `account_lockouts`.
#[derive(FromQueryResult, Debug, Clone)]
pub(in crate::service) struct LockoutRow {
    pub(in crate::service) user_id: Uuid,
    pub(in crate::service) ip: String,
    pub(in crate::service) attempts: i64,
    pub(in crate::service) last_failed_at: i64,
    pub(in crate::service) locked_until: Option<i64>,
}

impl LockoutRow {
    fn empty(user_id: Uuid, ip: &str) -> Self {
        Self { user_id, ip: ip.to_owned(), attempts: 0, last_failed_at: 0, locked_until: None }
    }

    /// The failures that still count at `cutoff` (the start of the history).
    fn live_attempts(&self, cutoff: i64) -> i64 {
        if self.last_failed_at >= cutoff { self.attempts } else { 0 }
    }

    /// The end of the lock, if it lasts at `t`.
    pub(in crate::service) fn lock_at(&self, t: i64) -> Option<i64> {
        self.locked_until.filter(|u| *u > t)
    }
}

/// The rows of users (`ips`: only those rows); `conn` may be a transaction.
pub(in crate::service) async fn lockout_rows(
    conn: &impl ConnectionTrait,
    users: &[Uuid],
    ips: Option<&[&str]>,
) -> Result<Vec<LockoutRow>> {
    let mut q = Query::select();
    q.columns(COLUMNS).from(TABLE).and_where(Expr::col("user_id").is_in(users.iter().copied()));
    if let Some(ips) = ips {
        q.and_where(Expr::col("ip").is_in(ips.iter().copied()));
    }
    let rows = conn.query_all(&q).await?;
    rows.iter().map(|r| LockoutRow::from_query_result(r, "").map_err(Error::from)).collect()
}

/// Writes `rows` (inserted, or replacing the stored ones).
async fn save(conn: &impl ConnectionTrait, rows: &[&LockoutRow]) -> Result<()> {
    let mut ins = Query::insert();
    ins.into_table(TABLE).columns(COLUMNS);
    for r in rows {
        ins.values([
            r.user_id.into(),
            r.ip.clone().into(),
            r.attempts.into(),
            r.last_failed_at.into(),
            r.locked_until.into(),
        ])
        .map_err(Error::internal)?;
    }
    ins.on_conflict(
        OnConflict::columns(["user_id", "ip"])
            .update_columns(["attempts", "last_failed_at", "locked_until"])
            .to_owned(),
    );
    conn.execute(&ins).await?;
    Ok(())
}

/// The address a client's failures are counted under (as the rate limits count it).
fn contributor(actor: &Actor) -> String {
    let key = network_key(actor.ip.as_deref().unwrap_or("-"));
    if key == ACCOUNT { "-".to_owned() } else { key }
}

/// A stored time as RFC 3339 text, for audit payloads.
fn rfc3339(v: i64) -> String {
    time_of(v).format(&Rfc3339).unwrap_or_default()
}

impl Account<'_> {
    fn lock_row_ip<'a>(&self, ip: &'a str) -> &'a str {
        match self.config.authentication_lockout.lockout_type {
            LockoutType::PerUser => ACCOUNT,
            LockoutType::PerUserPerIp => ip,
        }
    }

    /// Until when the user (or the user from the actor's address, per `lockout_type`) is
    /// locked for `method`; `None` when they may try. One read; none when the lockout is
    /// off or does not apply to `method`.
    pub async fn check_lockout(
        &self,
        user_id: UserId,
        method: LockoutMethod,
        actor: &Actor,
    ) -> Result<Option<OffsetDateTime>> {
        if !self.config.authentication_lockout.applies_to(method) {
            return Ok(None);
        }
        let ip = contributor(actor);
        let lock_ip = self.lock_row_ip(&ip);
        let rows = lockout_rows(&self.db.reader(), &[user_id.uuid()], Some(&[lock_ip])).await?;
        let t = micros(now());
        Ok(rows.iter().find_map(|r| r.lock_at(t)).map(time_of))
    }

    /// Records a failed attempt of `method`. Returns the end of the lock when the user is
    /// locked now (by this failure, or by a concurrent one); a new lock is audited as
    /// `authentication.blocked` in the same transaction.
    pub async fn record_lockout_failure(
        &self,
        user_id: UserId,
        method: LockoutMethod,
        actor: &Actor,
    ) -> Result<Option<OffsetDateTime>> {
        let cfg = &self.config.authentication_lockout;
        if !cfg.applies_to(method) {
            return Ok(None);
        }
        let ip = contributor(actor);
        let lock_ip = self.lock_row_ip(&ip).to_owned();
        let audit = Audit { actor: actor.clone(), activity: BLOCKED.into() };
        // Counting a failure is bookkeeping (the failure itself is audited by the caller);
        // a new lock records `authentication.blocked` in this same transaction.
        let until = self
            .write_unaudited(async |tx| {
                let txn = tx.conn();
                let uid = user_id.uuid();
                // Serializes this user's lockout writes (a row lock on PostgreSQL). A user
                // deleted meanwhile has nothing left to lock.
                match user_row(txn, uid).await {
                    Err(Error::NotFound { .. }) => return Ok(None),
                    other => other.map(drop)?,
                }
                let t = micros(now());
                let cutoff = t - cfg.history_duration_seconds.saturating_mul(1_000_000);
                let rows = lockout_rows(txn, &[uid], Some(&[ACCOUNT, ip.as_str()])).await?;
                let find = |key: &str| rows.iter().find(|r| r.ip == key).cloned();
                let mut account = find(ACCOUNT).unwrap_or_else(|| LockoutRow::empty(uid, ACCOUNT));
                let mut from_ip = find(&ip).unwrap_or_else(|| LockoutRow::empty(uid, &ip));
                let locked = if lock_ip == ACCOUNT { &account } else { &from_ip };
                if let Some(until) = locked.lock_at(t) {
                    // Locked meanwhile: the attempt was refused, not counted.
                    return Ok::<_, Error>(Some(until));
                }
                for row in [&mut account, &mut from_ip] {
                    row.attempts = row.live_attempts(cutoff) + 1;
                    row.last_failed_at = t;
                }
                let counted = if lock_ip == ACCOUNT { &mut account } else { &mut from_ip };
                let mut until = None;
                if counted.attempts >= cfg.max_attempts {
                    let secs = cfg.lock_seconds(counted.attempts - cfg.max_attempts);
                    let end = t.saturating_add(secs.saturating_mul(1_000_000));
                    counted.locked_until = Some(end);
                    until = Some(end);
                    let payload = json!({
                        "user_id": user_id,
                        "method": method.as_str(),
                        "lockout_type": cfg.lockout_type.as_str(),
                        "ip_address": ip,
                        "attempts": counted.attempts,
                        "locked_until": rfc3339(end),
                        "lock_seconds": secs,
                    });
                    save(txn, &[&account, &from_ip]).await?;
                    tx.record(&audit, Some(uid), payload).await?;
                } else {
                    save(txn, &[&account, &from_ip]).await?;
                }
                Ok(until)
            })
            .await?;
        Ok(until.map(time_of))
    }

    /// After a completed sign-in: forgets the failures from the actor's address (and takes
    /// them off the account's count). One read when there is nothing to forget.
    pub async fn clear_lockout(&self, user_id: UserId, actor: &Actor) -> Result<()> {
        if self.config.authentication_lockout.max_attempts <= 0 {
            return Ok(());
        }
        let ip = contributor(actor);
        let uid = user_id.uuid();
        if lockout_rows(&self.db.reader(), &[uid], Some(&[ip.as_str()])).await?.is_empty() {
            return Ok(());
        }
        let cutoff = micros(now()) - self.config.authentication_lockout.history_duration_seconds * 1_000_000;
        self.write_unaudited(async |tx| {
            let txn = tx.conn();
            match user_row(txn, uid).await {
                Err(Error::NotFound { .. }) => return Ok(()),
                other => other.map(drop)?,
            }
            let rows = lockout_rows(txn, &[uid], Some(&[ACCOUNT, ip.as_str()])).await?;
            let from_ip = rows.iter().find(|r| r.ip == ip).map_or(0, |r| r.live_attempts(cutoff));
            if let Some(mut account) = rows.into_iter().find(|r| r.ip == ACCOUNT) {
                account.attempts = Ord::max(account.live_attempts(cutoff) - from_ip, 0);
                save(txn, &[&account]).await?;
            }
            let del = Query::delete()
                .from_table(TABLE)
                .and_where(Expr::col("user_id").eq(uid))
                .and_where(Expr::col("ip").eq(ip.as_str()))
                .to_owned();
            txn.execute(&del).await?;
            Ok::<_, Error>(())
        })
        .await
    }
}

impl Maintenance<'_> {
    /// Deletes lockout rows whose failures are past the history and whose lock is over.
    pub(in crate::service) async fn forget_old_lockouts(&self) -> Result<u64> {
        let t = micros(now());
        let cutoff = t - self.config.authentication_lockout.history_duration_seconds * 1_000_000;
        let del = Query::delete()
            .from_table(TABLE)
            .and_where(Expr::col("last_failed_at").lt(cutoff))
            .cond_where(Condition::any().add(Expr::col("locked_until").is_null()).add(Expr::col("locked_until").lte(t)))
            .to_owned();
        Ok(self.db.writer().await?.execute(&del).await?.rows_affected())
    }
}
