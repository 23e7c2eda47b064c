//! Gauges read when metrics are scraped: the Argon2 queue, the database pools and the
//! webhook outbox.

use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{DatabaseConnection, DbBackend};

use crate::service::Services;
use crate::telemetry::{ARGON2_QUEUE, ARGON2_RUNNING, DB_POOL, DB_POOL_MAX, OUTBOX_BACKLOG};
use entity::webhook_delivery;

/// The outbox backlog is counted up to this many rows, so a scrape stays cheap.
const BACKLOG_COUNT_LIMIT: u64 = 100_000;

/// Connections of a pool: (open, idle, largest size).
fn pool_use(conn: &DatabaseConnection) -> Option<(u32, usize, u32)> {
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            Some((pool.size(), pool.num_idle(), pool.options().get_max_connections()))
        }
        DbBackend::Sqlite => {
            let pool = conn.get_sqlite_connection_pool();
            Some((pool.size(), pool.num_idle(), pool.options().get_max_connections()))
        }
        _ => None,
    }
}

impl Services {
    /// Sets the scrape-time gauges, then renders every metric in the Prometheus text
    /// format; `None` when metrics are off.
    pub async fn render_metrics(&self) -> Option<String> {
        let t = &self.telemetry;
        if !t.is_enabled() {
            return None;
        }
        let (queued, running) = self.hasher.load();
        t.set_gauge(ARGON2_QUEUE, &[], queued as f64);
        t.set_gauge(ARGON2_RUNNING, &[], running as f64);
        let (mut open, mut idle, mut max) = (0u32, 0usize, 0u32);
        for conn in std::iter::once(&self.db.conn).chain(self.db.side_pools()) {
            if let Some((o, i, m)) = pool_use(conn) {
                (open, idle, max) = (open + o, idle + i, max + m);
            }
        }
        let in_use = (open as usize).saturating_sub(idle);
        t.set_gauge(DB_POOL, &[("state", "in_use")], in_use as f64);
        t.set_gauge(DB_POOL, &[("state", "idle")], idle as f64);
        t.set_gauge(DB_POOL_MAX, &[], f64::from(max));
        let pending = Query::select()
            .expr(Expr::val(1))
            .from(webhook_delivery::Entity)
            .and_where(Expr::col(webhook_delivery::Column::Status).eq("pending"))
            .limit(BACKLOG_COUNT_LIMIT)
            .to_owned();
        match self.db.count_rows(pending).await {
            Ok(n) => t.set_gauge(OUTBOX_BACKLOG, &[], n as f64),
            Err(e) => tracing::warn!(error = %e, "metrics: cannot count the webhook outbox"),
        }
        t.render()
    }
}
