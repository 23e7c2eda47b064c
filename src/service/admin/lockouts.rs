//! The account lockout as the Admin API sees it: who is locked, until when, from which
//! addresses, and the reset. The counting itself is in `account/lockout.rs`.

use crate::domain::ids::{TypedId, UserId};
use crate::service::account::lockout::{ACCOUNT, lockout_rows};
use crate::service::admin::lookups::group_by;
use crate::service::admin::user_rows::{admin_user_row, snapshot};
use crate::service::admin::users::User;
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Audit, Lookups, Result, Users};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

/// An address locked out of one account.
#[derive(Debug, Clone)]
pub struct LockedIp {
    /// The IPv4 address, or the IPv6 /64 network (`2001:db8:1:2::/64`).
    pub ip_address: String,
    /// When the lock ends.
    pub locked_until: OffsetDateTime,
}

/// A user's account lockout now.
#[derive(Debug, Clone, Default)]
pub struct AccountLockout {
    /// `per_user` or `per_user_per_ip` (as configured); `None` when the lockout is off.
    pub lockout_type: Option<&'static str>,
    /// When the lock of the whole account ends; with only per-address locks, the latest
    /// of them. `None` when nothing is locked.
    pub locked_until: Option<OffsetDateTime>,
    /// Addresses locked out of the account (`per_user_per_ip`), latest lock first.
    pub locked_ips: Vec<LockedIp>,
}

impl AccountLockout {
    /// Whether the account, or an address, is locked now.
    pub fn is_locked(&self) -> bool {
        self.locked_until.is_some()
    }
}

impl Lookups<'_> {
    /// The lockout of each user (one query for all of them).
    pub async fn account_lockouts_by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, AccountLockout>> {
        let cfg = &self.config.authentication_lockout;
        let lockout_type = (cfg.max_attempts > 0).then(|| cfg.lockout_type.as_str());
        let t = micros(now());
        let uuids: Vec<_> = ids.iter().map(|i| i.uuid()).collect();
        let rows = lockout_rows(&self.db.reader(), &uuids, None).await?;
        let by_user = group_by(rows.into_iter().filter(|r| r.lock_at(t).is_some()).map(|r| (r.user_id, r)));
        Ok(ids
            .iter()
            .map(|id| {
                let rows = by_user.get(&id.uuid()).map(Vec::as_slice).unwrap_or_default();
                let whole = rows.iter().find(|r| r.ip == ACCOUNT).and_then(|r| r.lock_at(t));
                let mut locked_ips: Vec<LockedIp> = rows
                    .iter()
                    .filter(|r| r.ip != ACCOUNT)
                    .filter_map(|r| {
                        r.lock_at(t).map(|u| LockedIp { ip_address: r.ip.clone(), locked_until: time_of(u) })
                    })
                    .collect();
                locked_ips.sort_by_key(|l| std::cmp::Reverse(l.locked_until));
                let locked_until = whole.map(time_of).or_else(|| locked_ips.first().map(|l| l.locked_until));
                (*id, AccountLockout { lockout_type, locked_until, locked_ips })
            })
            .collect())
    }
}

impl Users<'_> {
    /// Unlocks the user and forgets every failed attempt (from every address).
    pub async fn reset_account_lockout(&self, audit: &Audit, user_id: UserId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let del =
                Query::delete().from_table("account_lockouts").and_where(Expr::col("user_id").eq(row.id)).to_owned();
            let cleared = txn.execute(&del).await?.rows_affected();
            tx.record(audit, Some(row.id), json!({"user": snapshot(&row), "lockout_rows_cleared": cleared})).await?;
            Ok(row.into())
        })
        .await
    }
}
