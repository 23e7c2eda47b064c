//! Attempt counters in fixed one-minute windows, stored in the database so that several
//! server processes share them.
//!
//! An attempt is *reserved* before the expensive check it guards (a password hash, an
//! account creation): one atomic `INSERT … ON CONFLICT DO UPDATE … RETURNING` of all its
//! buckets counts it and returns the new counts, so a burst of parallel requests, on either database
//! and across processes, never gets more than `limit` checks through in a window. A check
//! that succeeds gives its reservation back when the limit counts only failures.
//!
//! The buckets of reserved attempts count in thousandths of an attempt ([`Weight`]), so
//! that an `authentication.*` blocking hook can weigh one sign-in attempt (`rate_limits`:
//! 0 does not count it, 2 counts it twice, 0.5 half). So do the read-then-count buckets
//! of cheap checks ([`Account::under_weighted_limit`]: the wrong one-time codes). The
//! message buckets count whole events; no bucket is counted both ways.

use crate::service::Account;
use crate::service::Maintenance;
use crate::service::store::time::now;
use crate::service::{Actor, Audit, Result};
use entity::rate_limit;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter};
use serde_json::json;

const WINDOW_SECONDS: i64 = 60;

const HOUR_SECONDS: i64 = 3_600;

const DAY_SECONDS: i64 = 86_400;

fn window_start() -> i64 {
    let t = now().unix_timestamp();
    t - t.rem_euclid(WINDOW_SECONDS)
}

/// Per-IP limits on requests that cost the server work whatever their outcome.
#[derive(Debug, Clone, Copy)]
pub enum PerIp {
    /// Sign-ups (each hashes a password): `rate_limits.signups_per_ip_per_minute`.
    Signup,
    /// Forgot-password requests (each looks an account up):
    /// `rate_limits.account_enumeration_per_ip_per_minute`.
    AccountEnumeration,
    /// New anonymous users (the anonymous-request grant with a new key):
    /// `rate_limits.anonymous_signups_per_ip_per_minute`.
    AnonymousSignup,
}

/// The bucket of the wrong one-time codes (sign-in, second factor, verification) from
/// the caller's network, in thousandths ([`Weight`]): read with
/// [`Account::under_weighted_limit`] so that a right code costs no write, each wrong one
/// counted with [`Account::count_weighted`]. Parallel wrong codes from one address can
/// pass the limit by as many as arrive at once; no code gets more than its own attempts.
pub(in crate::service) fn code_failures_bucket(actor: &Actor) -> String {
    format!("code_failures:ip:{}", network_key(actor.ip.as_deref().unwrap_or("-")))
}

/// How much one attempt counts against a limit, in thousandths of an attempt: 1 unless an
/// `authentication.*` blocking hook weighed it (Authgear's `rate_limits.<group>.weight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub(in crate::service) struct Weight(i64);

impl Weight {
    /// One attempt.
    pub(in crate::service) const ONE: Self = Self(1_000);

    /// A hook's weight (a number ≥ 0, checked when the response was parsed), rounded to a
    /// thousandth; at most a million attempts.
    #[allow(clippy::cast_possible_truncation)] // In range by the clamp.
    pub(in crate::service) fn from_hook(weight: f64) -> Self {
        Self((weight.clamp(0.0, 1e6) * 1_000.0).round() as i64)
    }

    /// Whether the attempt does not count at all (it is then never refused by the limit).
    pub(in crate::service) fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// The count a limit of `limit` attempts allows, in the units of weighed buckets.
fn weighed(limit: i64) -> i64 {
    limit.saturating_mul(Weight::ONE.0)
}

/// Attempts counted in their buckets; give them back with [`Services::release_attempt`]
/// when they should not count.
#[derive(Debug)]
#[must_use = "a reservation is either kept (the attempt counts) or released"]
pub(in crate::service) struct Reservation {
    /// The buckets counted.
    buckets: Vec<String>,
    window: i64,
    /// What the attempt counted in each bucket.
    weight: Weight,
}

impl Reservation {
    /// Keeps the attempt counted.
    pub(in crate::service) fn keep(self) {}
}

impl Account<'_> {
    /// Counts one attempt in every `(bucket, limit)` with a limit above 0. Returns the
    /// reservation, or `None` (and counts nothing) when any bucket is already at its limit:
    /// refuse the attempt without doing the work.
    pub(in crate::service) async fn reserve_attempt(&self, limits: &[(&str, i64)]) -> Result<Option<Reservation>> {
        self.reserve_weighted(limits, Weight::ONE).await
    }

    /// [`Self::reserve_attempt`] for an attempt that counts `weight`. A weight of 0 counts
    /// nothing and is never refused. A bucket named twice counts once, under its first limit.
    pub(in crate::service) async fn reserve_weighted(
        &self,
        limits: &[(&str, i64)],
        weight: Weight,
    ) -> Result<Option<Reservation>> {
        let window = window_start();
        let mut counted = Reservation { buckets: Vec::new(), window, weight };
        let mut limited: Vec<(&str, i64)> = Vec::new();
        for (bucket, limit) in limits.iter().filter(|(_, l)| *l > 0) {
            if !limited.iter().any(|(b, _)| b == bucket) {
                limited.push((bucket, *limit));
                counted.buckets.push((*bucket).to_owned());
            }
        }
        if limited.is_empty() || weight.is_zero() {
            return Ok(Some(counted));
        }
        // Every bucket in one statement; if one is over its limit, the attempt is given
        // back to all of them.
        let counts = increment(&self.db.writer().await?, &counted.buckets, window, weight.0).await?;
        let over =
            limited.iter().any(|(bucket, limit)| counts.iter().any(|(b, n)| b == bucket && *n > weighed(*limit)));
        if over {
            self.account().release_attempt(counted).await?;
            return Ok(None);
        }
        Ok(Some(counted))
    }

    /// Gives a reserved attempt back (it succeeded, or it was refused for another reason).
    pub(in crate::service) async fn release_attempt(&self, r: Reservation) -> Result<()> {
        if r.buckets.is_empty() || r.weight.is_zero() {
            return Ok(());
        }
        subtract(&self.db.writer().await?, &r.buckets, r.window, r.weight.0).await
    }

    /// Whether `weight` more fits under `limit` in `bucket` (a weighed bucket) this window,
    /// read without writing. Count it with [`Self::count_weighted`] once it should count.
    pub(in crate::service) async fn under_weighted_limit(
        &self,
        bucket: &str,
        limit: i64,
        weight: Weight,
    ) -> Result<bool> {
        if limit <= 0 || weight.is_zero() {
            return Ok(true);
        }
        let row = rate_limit::Entity::find()
            .filter(Expr::col(rate_limit::Column::Bucket).eq(bucket))
            .filter(Expr::col(rate_limit::Column::WindowStart).eq(window_start()))
            .one(&self.db.reader())
            .await?;
        Ok(row.is_none_or(|r| r.count.saturating_add(weight.0) <= weighed(limit)))
    }

    /// Counts `weight` in a weighed bucket checked with [`Self::under_weighted_limit`].
    pub(in crate::service) async fn count_weighted(&self, bucket: &str, limit: i64, weight: Weight) -> Result<()> {
        if limit > 0 && !weight.is_zero() {
            increment_one(&self.db.writer().await?, bucket, window_start(), weight.0).await?;
        }
        Ok(())
    }

    /// Whether one more request of `kind` from `ip` is allowed this minute; counts it. A
    /// refusal is audited as `rate_limit.blocked` (once per bucket and minute).
    pub async fn allow_per_ip(&self, kind: PerIp, ip: &str, actor: &Actor) -> Result<bool> {
        let (name, bucket, limit) = self.per_ip_bucket(kind, ip);
        match self.account().reserve_attempt(&[(bucket.as_str(), limit)]).await? {
            Some(r) => {
                r.keep();
                Ok(true)
            }
            None => {
                self.account().record_blocked(actor, name, &bucket).await?;
                Ok(false)
            }
        }
    }

    /// The name, bucket and limit (per minute) of the per-IP limit `kind` for `ip`.
    pub(in crate::service) fn per_ip_bucket(&self, kind: PerIp, ip: &str) -> (&'static str, String, i64) {
        let rl = &self.config.rate_limits;
        let (name, limit) = match kind {
            PerIp::Signup => ("signup", rl.signups_per_ip_per_minute),
            PerIp::AccountEnumeration => ("account_enumeration", rl.account_enumeration_per_ip_per_minute),
            PerIp::AnonymousSignup => ("signup_anonymous", rl.anonymous_signups_per_ip_per_minute),
        };
        (name, format!("{name}:ip:{}", network_key(ip)), limit)
    }

    /// Whether one more message on `channel` to `target` from `ip` is within the
    /// messaging limits (per address per minute; per target per hour for SMS and per
    /// day for email, as Authgear's defaults); counts it. A refusal is audited as
    /// `rate_limit.blocked`.
    pub(in crate::service) async fn allow_message(
        &self,
        channel: crate::service::account::otp::Channel,
        target: &str,
        actor: &Actor,
    ) -> Result<bool> {
        use crate::service::account::otp::Channel;
        let m = &self.config.messaging;
        let ip = network_key(actor.ip.as_deref().unwrap_or("-"));
        let (name, per_ip, per_target, target_window) = match channel {
            Channel::Sms => ("messaging.sms", m.sms_per_ip_per_minute, m.sms_per_target_per_hour, HOUR_SECONDS),
            Channel::Email => ("messaging.email", m.email_per_ip_per_minute, m.email_per_target_per_day, DAY_SECONDS),
        };
        let t = now().unix_timestamp();
        let checks = [
            (format!("{name}:ip:{ip}"), per_ip, WINDOW_SECONDS),
            (format!("{name}:target:{target}"), per_target, target_window),
        ];
        for (bucket, limit, window) in checks.iter().filter(|c| c.1 > 0) {
            let start = t - t.rem_euclid(*window);
            if increment_one(&self.db.writer().await?, bucket, start, 1).await? > *limit {
                self.record_blocked(actor, name, bucket).await?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Audits `rate_limit.blocked` for `bucket`, once per minute: a flood of refused
    /// requests writes one row, not one per request.
    pub(in crate::service) async fn record_blocked(&self, actor: &Actor, what: &str, bucket: &str) -> Result<()> {
        let marker = format!("blocked:{bucket}");
        if let Some(first) = self.account().reserve_attempt(&[(marker.as_str(), 1)]).await? {
            first.keep();
            let audit = Audit { actor: actor.clone(), activity: "rate_limit.blocked".into() };
            let data = json!({"bucket": what, "coalesced": "further refusals in this minute are not recorded"});
            self.audit_batch.record(crate::service::unit_of_work::audit_row::row(&audit, None, data, now())).await?;
        }
        Ok(())
    }
}

impl Maintenance<'_> {
    /// Deletes counters whose window ended: the longest window is a day, so counters that
    /// started more than a day ago.
    pub(in crate::service) async fn forget_old_counters(&self) -> Result<u64> {
        Ok(rate_limit::Entity::delete_many()
            .filter(Expr::col(rate_limit::Column::WindowStart).lt(window_start() - DAY_SECONDS))
            .exec(&self.db.writer().await?)
            .await?
            .rows_affected)
    }
}

/// Takes `by` off the counts of `buckets` in `window`, never below 0, in one statement.
/// SQLite has one writer; PostgreSQL takes [`subtract_in_order`].
async fn subtract(conn: &impl ConnectionTrait, buckets: &[String], window: i64, by: i64) -> Result<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        return subtract_in_order(conn, buckets, window, by).await;
    }
    rate_limit::Entity::update_many()
        .col_expr(
            rate_limit::Column::Count,
            Expr::case(Expr::col(rate_limit::Column::Count).gt(by), Expr::col(rate_limit::Column::Count).sub(by))
                .finally(0)
                .into(),
        )
        .filter(Expr::col(rate_limit::Column::Bucket).is_in(buckets.iter().map(String::as_str)))
        .filter(Expr::col(rate_limit::Column::WindowStart).eq(window))
        .filter(Expr::col(rate_limit::Column::Count).gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// [`subtract`] on PostgreSQL. A plain `UPDATE` of several counters locks them in the
/// order its plan reads them, and could deadlock with another statement locking them in
/// another order: here they are first locked in sorted order (`ORDER BY bucket FOR
/// UPDATE` sorts before it locks), the order [`increment`] locks them in.
async fn subtract_in_order(conn: &impl ConnectionTrait, buckets: &[String], window: i64, by: i64) -> Result<()> {
    if buckets.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = (0..buckets.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE rate_limits SET count = CASE WHEN rate_limits.count > $1 THEN rate_limits.count - $1 ELSE 0 END \
         FROM (SELECT bucket FROM rate_limits WHERE bucket IN ({}) AND window_start = $2 AND count > 0 \
         ORDER BY bucket FOR UPDATE) AS locked WHERE rate_limits.bucket = locked.bucket",
        list.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![by.into(), window.into()];
    values.extend(buckets.iter().map(|b| sea_orm::Value::from(b.as_str())));
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(())
}

/// [`increment`] of one bucket: its new count.
async fn increment_one(conn: &impl ConnectionTrait, bucket: &str, window: i64, by: i64) -> Result<i64> {
    let counts = increment(conn, &[bucket.to_owned()], window, by).await?;
    Ok(counts.first().map_or(by, |(_, n)| *n))
}

/// Adds `by` to the count of each of `buckets` (distinct) in `window` (a new window starts
/// again from `by`); returns each bucket's new count. One atomic statement on both
/// databases. The rows go in sorted order, so that two such statements (and
/// [`subtract_in_order`]) lock shared counters in the same order (PostgreSQL).
async fn increment(
    conn: &impl ConnectionTrait,
    buckets: &[String],
    window: i64,
    by: i64,
) -> Result<Vec<(String, i64)>> {
    let mut stmt = Query::insert();
    stmt.into_table("rate_limits").columns(["bucket", "window_start", "count"]);
    let mut sorted: Vec<&str> = buckets.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    for bucket in sorted {
        stmt.values([bucket.into(), window.into(), by.into()]).map_err(crate::service::Error::internal)?;
    }
    stmt.on_conflict(
        OnConflict::column("bucket")
            .value(
                "count",
                Expr::cust(
                    "CASE WHEN rate_limits.window_start = excluded.window_start \
                     THEN rate_limits.count + excluded.count ELSE excluded.count END",
                ),
            )
            .update_column("window_start")
            .to_owned(),
    )
    .returning(Query::returning().columns(["bucket", "count"]));
    let mut counts = Vec::new();
    for row in conn.query_all(&stmt).await? {
        counts.push((row.try_get::<String>("", "bucket")?, row.try_get::<i64>("", "count")?));
    }
    if counts.len() != buckets.len() {
        return Err(crate::service::Error::internal("rate limit: a bucket's row was not returned"));
    }
    Ok(counts)
}

/// The address a per-IP limit counts: an IPv4 address, or the /64 network of an IPv6
/// address (one client commonly holds a whole /64 and could change address per attempt).
pub(in crate::service) fn network_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}
