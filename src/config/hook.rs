//! Hooks (Authgear's `hook` section): webhooks for non-blocking events, blocking handlers
//! that may refuse or change an operation, and scripts that run inside the server.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// The blocking events a handler may be registered for (Authgear's nine).
pub const BLOCKING_EVENTS: &[&str] = &[
    "user.pre_create",
    "user.profile.pre_update",
    "user.pre_schedule_deletion",
    "user.pre_schedule_anonymization",
    "oidc.jwt.pre_create",
    "oidc.id_token.pre_create",
    "authentication.pre_initialize",
    "authentication.post_identified",
    "authentication.pre_authenticated",
];

/// The scheme of a handler URL that names a script instead of a web address:
/// `authgeardeno:///deno/<name>.ts`, as Authgear writes it.
pub const SCRIPT_URL_PREFIX: &str = "authgeardeno:///deno/";

/// Event hooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HookConfig {
    /// The key of the `x-authgear-body-signature` HMAC-SHA256 that signs every request to
    /// a handler. Also read from the file `webhook_secret_file` (or the environment variable
    /// `AUTHGRAPH_HOOK__WEBHOOK_SECRET_FILE`). Required when an HTTP handler is configured.
    pub webhook_secret: Option<Secret>,
    /// A file holding `webhook_secret`.
    pub webhook_secret_file: Option<PathBuf>,
    /// Most seconds one blocking handler may take (Authgear's default, 5).
    pub sync_hook_timeout_seconds: u64,
    /// Most seconds the whole chain of blocking handlers of one event may take (10).
    pub sync_hook_total_timeout_seconds: u64,
    /// Most seconds one webhook delivery of a non-blocking event may take before it counts
    /// as failed and is retried.
    pub delivery_timeout_seconds: u64,
    /// How long a failing delivery is retried, with exponential backoff, before it is
    /// marked failed (hours; 72 = 3 days).
    pub delivery_retry_hours: u64,
    /// Handlers of blocking events, run in this order.
    pub blocking_handlers: Vec<BlockingHandler>,
    /// Handlers of non-blocking events (webhooks and scripts), delivered after commit.
    pub non_blocking_handlers: Vec<NonBlockingHandler>,
    /// A folder of scripts: `authgeardeno:///deno/claims.ts` is the file `claims.ts` here,
    /// unless the Admin API holds a script of that name.
    pub scripts_dir: Option<PathBuf>,
    /// Most memory one script run may allocate, in MiB.
    pub script_memory_limit_mib: u64,
    /// Hosts (`host` or `host:port`) a script may `fetch`; nothing else is reachable.
    pub script_allowed_hosts: Vec<String>,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            webhook_secret: None,
            webhook_secret_file: None,
            sync_hook_timeout_seconds: 5,
            sync_hook_total_timeout_seconds: 10,
            delivery_timeout_seconds: 10,
            delivery_retry_hours: 72,
            blocking_handlers: Vec::new(),
            non_blocking_handlers: Vec::new(),
            scripts_dir: None,
            script_memory_limit_mib: 32,
            script_allowed_hosts: Vec::new(),
        }
    }
}

/// A handler of one blocking event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingHandler {
    /// The event, one of [`BLOCKING_EVENTS`].
    pub event: String,
    /// An `http(s)` URL, or `authgeardeno:///deno/<name>.ts` for a script.
    pub url: String,
}

/// A handler of non-blocking events.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonBlockingHandler {
    /// Event types, or `*` for every event that goes to hooks.
    pub events: Vec<String>,
    /// An `http(s)` URL, or `authgeardeno:///deno/<name>.ts` for a script.
    pub url: String,
}

/// Where a handler sends its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerTarget {
    /// A web address, called with a signed `POST`.
    Http(url::Url),
    /// A script by file name (`claims.ts`).
    Script(String),
}

impl HandlerTarget {
    /// Parses a handler URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(name) = url.strip_prefix(SCRIPT_URL_PREFIX) {
            return if is_script_name(name) {
                Ok(Self::Script(name.to_owned()))
            } else {
                Err("a script name is letters, digits and dots, ending in .ts or .js".to_owned())
            };
        }
        match url::Url::parse(url) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(Self::Http(u)),
            _ => Err(format!("must be an http(s) URL or {SCRIPT_URL_PREFIX}<name>.ts")),
        }
    }
}

/// Whether `name` is a valid script file name (Authgear's `^[.0-9a-zA-Z]+\.ts$`, and `.js`).
pub fn is_script_name(name: &str) -> bool {
    (name.ends_with(".ts") || name.ends_with(".js"))
        && name.len() > 3
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

impl HookConfig {
    /// Reads `webhook_secret_file` into `webhook_secret`.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if self.webhook_secret.is_none()
            && let Some(path) = &self.webhook_secret_file
        {
            let value = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("`hook.webhook_secret_file`: cannot read {}: {e}", path.display())))?;
            self.webhook_secret = Some(Secret::new(value.trim().to_owned()));
        }
        Ok(())
    }

    /// Checks the handlers and limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, msg: &str| Err(ConfigError(format!("`{key}`: {msg}")));
        let mut any_http = false;
        for (i, h) in self.blocking_handlers.iter().enumerate() {
            if !BLOCKING_EVENTS.contains(&h.event.as_str()) {
                return bad(format!("hook.blocking_handlers[{i}].event"), "is not a blocking event");
            }
            match HandlerTarget::parse(&h.url) {
                Ok(HandlerTarget::Http(_)) => any_http = true,
                Ok(HandlerTarget::Script(_)) => {}
                Err(msg) => return bad(format!("hook.blocking_handlers[{i}].url"), &msg),
            }
        }
        for (i, h) in self.non_blocking_handlers.iter().enumerate() {
            if h.events.is_empty() {
                return bad(format!("hook.non_blocking_handlers[{i}].events"), "lists no event (use \"*\" for all)");
            }
            for (j, e) in h.events.iter().enumerate() {
                let ok = e == "*"
                    || (!e.is_empty()
                        && e.len() <= 128
                        && e.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'));
                if !ok {
                    return bad(format!("hook.non_blocking_handlers[{i}].events[{j}]"), "is not an event type");
                }
            }
            match HandlerTarget::parse(&h.url) {
                Ok(HandlerTarget::Http(_)) => any_http = true,
                Ok(HandlerTarget::Script(_)) => {}
                Err(msg) => return bad(format!("hook.non_blocking_handlers[{i}].url"), &msg),
            }
        }
        if any_http && self.webhook_secret.as_ref().is_none_or(|s| s.expose().is_empty()) {
            return bad("hook.webhook_secret".to_owned(), "is required when a handler has an http(s) URL");
        }
        for (key, v, min, max) in [
            ("hook.sync_hook_timeout_seconds", self.sync_hook_timeout_seconds, 1, 60),
            ("hook.sync_hook_total_timeout_seconds", self.sync_hook_total_timeout_seconds, 1, 120),
            ("hook.delivery_timeout_seconds", self.delivery_timeout_seconds, 1, 120),
            ("hook.delivery_retry_hours", self.delivery_retry_hours, 0, 720),
            ("hook.script_memory_limit_mib", self.script_memory_limit_mib, 1, 1024),
        ] {
            if !(min..=max).contains(&v) {
                return bad(key.to_owned(), &format!("must be between {min} and {max}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_urls_parse_as_web_addresses_or_scripts() {
        assert!(matches!(HandlerTarget::parse("https://example.com/hook"), Ok(HandlerTarget::Http(_))));
        assert_eq!(
            HandlerTarget::parse("authgeardeno:///deno/claims.ts"),
            Ok(HandlerTarget::Script("claims.ts".to_owned()))
        );
        assert!(HandlerTarget::parse("authgeardeno:///deno/../etc.ts").is_err());
        assert!(HandlerTarget::parse("ftp://example.com").is_err());
        assert!(HandlerTarget::parse("claims.ts").is_err());
    }
}
