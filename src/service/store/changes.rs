//! One truth across processes: every write to a cached area bumps that area's generation
//! in its own transaction, and every process polls the generations (one small query every
//! [`POLL`]), dropping its caches (applications, hook scripts) or reloading its keys when
//! one moved. So a change made
//! by any process reaches every other process within a second. The same loop reloads the
//! signing keys when a published key becomes the signing key or an old one retires.

use crate::service::Maintenance;
use crate::service::store::time::{micros, now};
use crate::service::{Result, Services};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How often each process polls the generations.
pub const POLL: Duration = Duration::from_millis(250);

/// A cached area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::service) enum Area {
    /// Applications, their secrets and grants.
    Applications,
    /// Signing keys.
    SigningKeys,
    /// Hook scripts of the Admin API.
    HookScripts,
    /// Revoked access tokens.
    RevokedTokens,
}

impl Area {
    fn name(self) -> &'static str {
        match self {
            Self::Applications => "applications",
            Self::SigningKeys => "signing_keys",
            Self::HookScripts => "hook_scripts",
            Self::RevokedTokens => "revoked_tokens",
        }
    }
}

/// Bumps `area`'s generation; call it inside the write's transaction.
pub(in crate::service) async fn bump(conn: &impl ConnectionTrait, area: Area) -> Result<()> {
    let stmt = Query::update()
        .table("change_generations")
        .value("generation", Expr::col("generation").add(1))
        .and_where(Expr::col("area").eq(area.name()))
        .to_owned();
    conn.execute(&stmt).await?;
    Ok(())
}

/// What this process has seen.
#[derive(Debug)]
pub struct Generations {
    applications: AtomicI64,
    signing_keys: AtomicI64,
    hook_scripts: AtomicI64,
    /// Revocations seen: from the polls, and one more after each revocation made here.
    revoked_tokens: AtomicI64,
    /// When (UTC micros) the loaded keys next change by themselves: a published key starts
    /// signing, or a key retires.
    next_key_change: AtomicI64,
}

impl Default for Generations {
    fn default() -> Self {
        Self {
            applications: AtomicI64::new(-1),
            signing_keys: AtomicI64::new(-1),
            hook_scripts: AtomicI64::new(-1),
            revoked_tokens: AtomicI64::new(-1),
            next_key_change: AtomicI64::new(i64::MAX),
        }
    }
}

impl Generations {
    /// The revocations seen so far, or `None` before the first poll. The value never goes
    /// down, and it moves after every revocation: at once after one made by this process,
    /// and at the next poll after one made by another. So a token found not revoked while
    /// it had a value stays not revoked while it keeps it. Read it before the check.
    pub(in crate::service) fn revocations(&self) -> Option<i64> {
        Some(self.revoked_tokens.load(Ordering::Acquire)).filter(|g| *g >= 0)
    }

    /// Records a revocation this process has committed (its bump of the generation).
    pub(in crate::service) fn revoked_here(&self) {
        let _ = self.revoked_tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |g| (g >= 0).then_some(g + 1));
    }

    /// Records when the loaded keys next change by themselves.
    pub(in crate::service) fn set_next_key_change(&self, at_micros: i64) {
        self.next_key_change.store(at_micros, Ordering::Relaxed);
    }
}

impl Maintenance<'_> {
    /// Polls the generations forever (spawned once at start-up).
    pub fn spawn_change_watch(&self) {
        let svc = Services::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = svc.maintenance().follow_changes().await {
                    // Unsure what changed: drop what could be stale.
                    svc.applications().forget().await;
                    svc.scripts.forget();
                    tracing::warn!(cause = %e.describe(), "polling change generations failed");
                }
            }
        });
    }

    /// One poll: drops the application caches or reloads keys if their area moved.
    pub async fn follow_changes(&self) -> Result<()> {
        let q = Query::select().columns(["area", "generation"]).from("change_generations").to_owned();
        let rows = self.db.reader().query_all(&q).await?;
        let g = &self.generations;
        let mut reload_keys = micros(now()) >= g.next_key_change.load(Ordering::Relaxed);
        for row in rows {
            let area: String = row.try_get("", "area")?;
            let generation: i64 = row.try_get("", "generation")?;
            let seen = match area.as_str() {
                "applications" => &g.applications,
                "signing_keys" => &g.signing_keys,
                "hook_scripts" => &g.hook_scripts,
                "revoked_tokens" => {
                    // Never back: this process may have counted its own revocation first.
                    g.revoked_tokens.fetch_max(generation, Ordering::AcqRel);
                    continue;
                }
                _ => continue,
            };
            let before = seen.swap(generation, Ordering::Relaxed);
            if before != generation && before != -1 {
                if area == "applications" {
                    self.applications().forget().await;
                } else if area == "hook_scripts" {
                    self.scripts.forget();
                } else {
                    reload_keys = true;
                }
            }
        }
        if reload_keys {
            self.signing_keys().load().await?;
        }
        Ok(())
    }
}
