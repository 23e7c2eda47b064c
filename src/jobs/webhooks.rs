//! The webhook delivery worker of a serving process: claims due deliveries from the
//! outbox, sends each signed to its handler (many at once), and records the outcome. It
//! wakes when a change in this process commits events, and polls otherwise (for retries
//! and for events other processes wrote).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::config::HandlerTarget;
use crate::hooks::webhook::WebhookClient;
use crate::service::Services;
use crate::service::events::deliveries::{Claimed, IDLE_POLL, Outcome};

/// Most deliveries in flight at once.
const IN_FLIGHT: usize = 256;

/// Starts the worker when any non-blocking handler is configured.
pub fn spawn_delivery(services: Services) {
    if !services.webhooks().has_handlers() {
        return;
    }
    let secret = services.config().hook.webhook_secret.as_ref().map(|s| s.expose().as_bytes().to_vec());
    let client = WebhookClient::new(secret.as_deref().unwrap_or_default());
    let timeout = Duration::from_secs(services.config().hook.delivery_timeout_seconds);
    tokio::spawn(async move {
        match services.webhooks().release_after_restart().await {
            Ok(n) if n > 0 => tracing::info!(deliveries = n, "resuming webhook deliveries held before a restart"),
            Ok(_) => {}
            Err(e) => tracing::warn!(cause = %e.describe(), "cannot release held webhook deliveries"),
        }
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let wake = services.webhooks().wake_signal();
        loop {
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match services.webhooks().claim(u64::try_from(free).unwrap_or(1)).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(cause = %e.describe(), "claiming webhook deliveries failed");
                        Vec::new()
                    }
                }
            };
            if claimed.is_empty() {
                // Nothing due (or every slot busy): wait for new events, a finished
                // delivery, or the poll interval.
                let _ = tokio::time::timeout(IDLE_POLL, wake.notified()).await;
                continue;
            }
            for c in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else { return };
                let services = services.clone();
                let client = client.clone();
                let wake = wake.clone();
                tokio::spawn(async move {
                    let id = c.id;
                    let outcome = deliver(&services, &client, &c, timeout).await;
                    if let Outcome::Failed { error, .. } = &outcome {
                        tracing::info!(event = %c.event_id, r#type = %c.event_type, handler = %c.handler_url, %error, "webhook delivery failed; will retry");
                    }
                    if let Err(e) = services.webhooks().finish(id, outcome).await {
                        tracing::warn!(cause = %e.describe(), "recording a webhook delivery failed");
                    }
                    drop(permit);
                    // The user's next event may be due now.
                    wake.notify_one();
                });
            }
        }
    });
}

async fn deliver(services: &Services, client: &WebhookClient, c: &Claimed, timeout: Duration) -> Outcome {
    match HandlerTarget::parse(&c.handler_url) {
        Ok(HandlerTarget::Http(url)) => match client.post(&url, &c.body, timeout).await {
            Ok(reply) if (200..300).contains(&reply.status) => Outcome::Delivered { status: reply.status },
            Ok(reply) => Outcome::Failed { status: Some(reply.status), error: format!("HTTP {}", reply.status) },
            Err(e) => Outcome::Failed { status: None, error: e.to_string() },
        },
        // A script handler of a non-blocking event: the event is the argument, the result is
        // ignored; a throw, a timeout or a missing script is a failed attempt, retried.
        Ok(HandlerTarget::Script(name)) => match serde_json::from_slice::<serde_json::Value>(&c.body) {
            Ok(event) => match services.run_script_handler(&name, &event).await {
                Ok(_) => Outcome::Delivered { status: 200 },
                Err(e) => Outcome::Failed { status: None, error: format!("script {name}: {e}") },
            },
            Err(e) => Outcome::Failed { status: None, error: format!("the event is not JSON: {e}") },
        },
        Err(e) => Outcome::Failed { status: None, error: e },
    }
}
