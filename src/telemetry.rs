//! Metrics in the Prometheus text format (`GET /metrics`): one recorder per server, so
//! that the counts are this server's alone. Off unless `metrics.listen` or
//! `metrics.bearer_token` is configured; then every recording is a no-op.
//!
//! Recording takes no lock of its own: fixed series are registered once and held as
//! atomic handles; labelled ones (route, status, grant, algorithm) are looked up in the
//! exporter's sharded registry.

use std::sync::Arc;

use metrics::{Counter, Gauge, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Latency of HTTP requests, by method, matched route and status.
pub const HTTP_DURATION: &str = "authgraph_http_request_duration_seconds";
/// Tokens issued by the token endpoint, by grant type and signing algorithm.
pub const TOKENS_ISSUED: &str = "authgraph_tokens_issued_total";
/// Completed sign-ins (a browser session started), by first authentication method.
pub const SIGN_INS: &str = "authgraph_sign_ins_total";
/// Failed sign-in steps, by step (the audit activity without `authentication.`/`.failed`).
pub const SIGN_IN_FAILURES: &str = "authgraph_sign_in_failures_total";
/// Application cache lookups, by cache and result (`hit` or `miss`).
pub const CACHE_LOOKUPS: &str = "authgraph_cache_lookups_total";
/// Password hashes waiting for a slot of the bounded Argon2 pool.
pub const ARGON2_QUEUE: &str = "authgraph_argon2_queue_depth";
/// Password hashes running on the Argon2 pool.
pub const ARGON2_RUNNING: &str = "authgraph_argon2_running";
/// Database pool connections, by state (`in_use`, `idle`).
pub const DB_POOL: &str = "authgraph_db_pool_connections";
/// Largest size of the database pool.
pub const DB_POOL_MAX: &str = "authgraph_db_pool_max_connections";
/// Webhook deliveries waiting in the outbox.
pub const OUTBOX_BACKLOG: &str = "authgraph_webhook_outbox_backlog";

/// Admin API pages of users, by how they were built (`plain`: straight into the response;
/// `executor`: field by field by async-graphql).
pub const ADMIN_PAGES: &str = "authgraph_admin_pages_total";

/// Audit rows written per group-commit transaction.
pub const GROUP_COMMIT_BATCH: &str = "authgraph_audit_group_commit_batch_size";

/// Bucket bounds of the group-commit batch size histogram.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Bucket bounds (seconds) of the request latency histogram.
const LATENCY_BUCKETS: &[f64] = &[0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static METADATA: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, None);

/// The server's metrics; cheap to clone. A disabled one records nothing.
#[derive(Clone, Default)]
pub struct Telemetry {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    app_hit: Counter,
    app_miss: Counter,
    origins_hit: Counter,
    origins_miss: Counter,
    pages_plain: Counter,
    pages_executor: Counter,
    batch: metrics::Histogram,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.inner.is_some() { "Telemetry(on)" } else { "Telemetry(off)" })
    }
}

/// Which cache a lookup went to.
#[derive(Debug, Clone, Copy)]
pub enum Cache {
    /// Applications by client ID.
    Applications,
    /// The allowed CORS origins.
    Origins,
}

impl Telemetry {
    /// Records nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Records into a recorder of its own.
    pub fn enabled() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(GROUP_COMMIT_BATCH.into()), BATCH_BUCKETS))
            .map(PrometheusBuilder::build_recorder)
            // The bounds above are a non-empty constant, which the builder accepts.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let counter = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::from_static_parts(k, v)).collect();
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        let inner = Inner {
            app_hit: counter(CACHE_LOOKUPS, &[("cache", "applications"), ("result", "hit")]),
            app_miss: counter(CACHE_LOOKUPS, &[("cache", "applications"), ("result", "miss")]),
            origins_hit: counter(CACHE_LOOKUPS, &[("cache", "origins"), ("result", "hit")]),
            origins_miss: counter(CACHE_LOOKUPS, &[("cache", "origins"), ("result", "miss")]),
            pages_plain: counter(ADMIN_PAGES, &[("built", "plain")]),
            pages_executor: counter(ADMIN_PAGES, &[("built", "executor")]),
            batch: recorder.register_histogram(&Key::from_static_name(GROUP_COMMIT_BATCH), &METADATA),
            recorder,
            handle,
        };
        Self { inner: Some(Arc::new(inner)) }
    }

    /// Whether anything is recorded.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// One HTTP request: `route` is the matched route pattern (`/oauth2/token`,
    /// `/_api/admin/users/import/{id}`), never the raw path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Some(inner) = &self.inner else { return };
        let labels = vec![
            Label::new("method", method.to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        inner.recorder.register_histogram(&Key::from_parts(HTTP_DURATION, labels), &METADATA).record(seconds);
    }

    /// A token response: `grant` is the `grant_type`, `alg` the access token's algorithm.
    pub fn token_issued(&self, grant: &'static str, alg: &str) {
        let Some(inner) = &self.inner else { return };
        let labels = vec![Label::from_static_parts("grant", grant), Label::new("alg", alg.to_owned())];
        inner.recorder.register_counter(&Key::from_parts(TOKENS_ISSUED, labels), &METADATA).increment(1);
    }

    /// A completed sign-in whose first factor was `method` (an `amr` value such as `pwd`).
    pub fn sign_in(&self, method: &str) {
        let Some(inner) = &self.inner else { return };
        let labels = vec![Label::new("method", method.to_owned())];
        inner.recorder.register_counter(&Key::from_parts(SIGN_INS, labels), &METADATA).increment(1);
    }

    /// A failed sign-in step, named by its audit activity
    /// (`authentication.primary.password.failed` counts as step `primary.password`).
    pub fn sign_in_failure(&self, activity: &str) {
        let Some(inner) = &self.inner else { return };
        let step = activity.trim_start_matches("authentication.").trim_end_matches(".failed");
        let labels = vec![Label::new("step", step.to_owned())];
        inner.recorder.register_counter(&Key::from_parts(SIGN_IN_FAILURES, labels), &METADATA).increment(1);
    }

    /// One group-commit transaction of `rows` audit rows.
    pub fn group_commit_batch(&self, rows: usize) {
        let Some(inner) = &self.inner else { return };
        inner.batch.record(rows as f64);
    }

    /// A cache lookup that found (`hit`) or did not find what it looked for.
    pub fn cache_lookup(&self, cache: Cache, hit: bool) {
        let Some(inner) = &self.inner else { return };
        match (cache, hit) {
            (Cache::Applications, true) => inner.app_hit.increment(1),
            (Cache::Applications, false) => inner.app_miss.increment(1),
            (Cache::Origins, true) => inner.origins_hit.increment(1),
            (Cache::Origins, false) => inner.origins_miss.increment(1),
        }
    }

    /// An Admin API page of users, built `plain` (straight into the response) or not.
    pub fn admin_page(&self, plain: bool) {
        let Some(inner) = &self.inner else { return };
        if plain { inner.pages_plain.increment(1) } else { inner.pages_executor.increment(1) }
    }

    /// Sets a gauge read at scrape time, with optional labels.
    pub fn set_gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)], value: f64) {
        let Some(inner) = &self.inner else { return };
        let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::from_static_parts(k, v)).collect();
        let gauge: Gauge = inner.recorder.register_gauge(&Key::from_parts(name, labels), &METADATA);
        gauge.set(value);
    }

    /// Everything recorded, in the Prometheus text format; `None` when disabled.
    pub fn render(&self) -> Option<String> {
        self.inner.as_ref().map(|i| i.handle.render())
    }

    /// Folds recorded latencies into their histograms, so that memory stays bounded
    /// between scrapes; the server calls it every few seconds.
    pub fn run_upkeep(&self) {
        if let Some(inner) = &self.inner {
            inner.handle.run_upkeep();
        }
    }
}
