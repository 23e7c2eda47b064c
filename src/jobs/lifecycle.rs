//! The lifecycle job: every `lifecycle_job.interval_seconds`, deletes and anonymizes the
//! users whose schedule is due, `lifecycle_job.batch_size` at most per run. Every process
//! runs it; the service claims each user in its own transaction, so two processes never
//! execute one schedule twice.

use std::time::Duration;

use crate::service::Services;

/// Starts the lifecycle job.
pub fn spawn_lifecycle(services: Services) {
    let cfg = services.config().lifecycle_job.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_seconds));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let at = time::OffsetDateTime::now_utc();
            match services.maintenance().run_due_schedules(at, cfg.batch_size).await {
                Ok(run) if run.deleted + run.anonymized > 0 => {
                    tracing::info!(deleted = run.deleted, anonymized = run.anonymized, "ran due account schedules");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(cause = %e.describe(), "the account lifecycle job failed"),
            }
        }
    });
}
