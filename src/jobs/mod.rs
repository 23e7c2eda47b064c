//! Background work of a serving process: periodic clean-up of rows nothing needs any more,
//! the webhook delivery worker (`webhooks.rs`) and the account lifecycle job
//! (`lifecycle.rs`).
//! Every process runs it; the deletes are idempotent, so several processes on one
//! database do no harm.

use std::time::Duration;

use crate::service::Services;

mod lifecycle;
mod webhooks;
pub use lifecycle::spawn_lifecycle;
pub use webhooks::spawn_delivery;

/// How often the clean-up runs.
const CLEANUP_EVERY: Duration = Duration::from_secs(600);

/// Starts the periodic clean-up.
pub fn spawn_cleanup(services: Services) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CLEANUP_EVERY);
        loop {
            tick.tick().await;
            match services.maintenance().cleanup().await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "cleaned up expired tokens and sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(cause = %e.describe(), "clean-up failed"),
            }
        }
    });
}
