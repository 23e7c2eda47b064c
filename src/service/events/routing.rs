//! Which handlers receive an event type, from `hook.non_blocking_handlers`.

use crate::config::HookConfig;

use super::catalogue::for_hook;

/// The non-blocking handlers of the configuration.
#[derive(Debug, Default)]
pub struct EventRouting {
    handlers: Vec<(Vec<String>, String)>,
}

impl EventRouting {
    /// The routing of `config`.
    pub fn new(config: &HookConfig) -> Self {
        Self { handlers: config.non_blocking_handlers.iter().map(|h| (h.events.clone(), h.url.clone())).collect() }
    }

    /// Whether no handler is configured (then no event is written to the outbox).
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    /// The handler URLs subscribed to `event_type`, each once, in config order. `*` stands
    /// for every event that goes to hooks; an event named explicitly always matches.
    pub fn handlers_for(&self, event_type: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (events, url) in &self.handlers {
            let wanted = events.iter().any(|e| e == event_type || (e == "*" && for_hook(event_type)));
            if wanted && !out.contains(&url.as_str()) {
                out.push(url);
            }
        }
        out
    }
}
