//! Audit retention: the periodic clean-up deletes audit rows older than
//! `audit.retention_days`, and outbox events (with their deliveries) of that age whose
//! every delivery has finished (delivered or failed). A pending delivery keeps its event.
//!
//! Rows go in batches of [`BATCH`], one short transaction each, so that a large backlog
//! never holds the SQLite writer for long.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};

use crate::service::Maintenance;
use crate::service::Result;
use crate::service::store::time::{micros, now};
use entity::{audit_log, hook_event, webhook_delivery};

/// Most rows one delete statement takes.
pub const BATCH: u64 = 10_000;

/// Microseconds in a day.
const DAY_US: i64 = 86_400 * 1_000_000;

impl Maintenance<'_> {
    /// Deletes audit rows and finished outbox events older than the retention. Returns the
    /// rows deleted (audit rows, events and deliveries).
    pub async fn forget_old_audit(&self) -> Result<u64> {
        let cutoff = micros(now()) - i64::from(self.config.audit.retention_days) * DAY_US;
        let mut total = 0;
        loop {
            let n = self
                .write_unaudited(async |tx| {
                    let oldest = Query::select()
                        .column(audit_log::Column::Id)
                        .from(audit_log::Entity)
                        .and_where(Expr::col(audit_log::Column::CreatedAt).lt(cutoff))
                        .limit(BATCH)
                        .to_owned();
                    Ok::<_, crate::service::Error>(
                        audit_log::Entity::delete_many()
                            .filter(Expr::col(audit_log::Column::Id).in_subquery(oldest))
                            .exec(tx.conn())
                            .await?
                            .rows_affected,
                    )
                })
                .await?;
            total += n;
            if n < BATCH {
                break;
            }
        }
        loop {
            let (events, rows) =
                self.write_unaudited(async |tx| forget_finished_events(tx.conn(), cutoff).await).await?;
            total += rows;
            if events < BATCH {
                break;
            }
        }
        Ok(total)
    }
}

/// Deletes up to [`BATCH`] outbox events created before `cutoff` none of whose deliveries
/// is still pending, with their deliveries. Returns the events and all rows deleted.
async fn forget_finished_events(conn: &impl ConnectionTrait, cutoff: i64) -> Result<(u64, u64)> {
    let pending = Query::select()
        .column(webhook_delivery::Column::EventId)
        .from(webhook_delivery::Entity)
        .and_where(Expr::col(webhook_delivery::Column::Status).eq("pending"))
        .to_owned();
    let events = Query::select()
        .column(hook_event::Column::Id)
        .from(hook_event::Entity)
        .and_where(Expr::col(hook_event::Column::CreatedAt).lt(cutoff))
        .and_where(Expr::col(hook_event::Column::Id).not_in_subquery(pending))
        .limit(BATCH)
        .to_owned();
    let mut ids = Vec::new();
    for row in conn.query_all(&events).await? {
        ids.push(row.try_get_by_index::<uuid::Uuid>(0)?);
    }
    if ids.is_empty() {
        return Ok((0, 0));
    }
    let mut n = 0;
    // A statement binds at most a few thousand values on every backend.
    for chunk in ids.chunks(1_000) {
        n += webhook_delivery::Entity::delete_many()
            .filter(Expr::col(webhook_delivery::Column::EventId).is_in(chunk.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
        n += hook_event::Entity::delete_many()
            .filter(Expr::col(hook_event::Column::Id).is_in(chunk.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok((u64::try_from(ids.len()).unwrap_or(u64::MAX), n))
}
