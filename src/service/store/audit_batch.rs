//! Group commit for audit rows on hot paths (token issuance, failed logins): the rows of
//! many concurrent requests are written in one transaction, and each request waits until
//! its row is committed before it answers. A row whose event a handler subscribes to goes
//! to the outbox in the same transaction.

use std::sync::Arc;

use crate::service::Db;
use crate::service::events::routing::EventRouting;
use crate::service::store::connections::TxConn;
use crate::service::store::group_commit::{BatchError, GroupCommit};
use crate::service::unit_of_work::audit_row::{active, insert_statement};
use entity::audit_log;
use sea_orm::{ConnectionTrait, EntityTrait};

/// Most rows one transaction takes.
const MAX_BATCH: usize = 512;

/// Sends audit rows to the group-commit writer.
#[derive(Clone)]
pub struct AuditBatcher(GroupCommit<audit_log::Model, ()>);

/// Where the batch's events go.
#[derive(Clone)]
pub(in crate::service) struct Outbox {
    pub routing: Arc<EventRouting>,
    pub retry_hours: u64,
    pub wake: Arc<tokio::sync::Notify>,
    /// Signalled after each batch commits (live event streams).
    pub committed: tokio::sync::broadcast::Sender<()>,
    /// Batch sizes and failed sign-in steps are counted here.
    pub telemetry: crate::telemetry::Telemetry,
}

impl AuditBatcher {
    /// Starts the writer task on `db`.
    pub(in crate::service) fn start(db: Db, outbox: Outbox) -> Self {
        Self(GroupCommit::start(db, MAX_BATCH, move |db, rows| write(db, rows, outbox.clone())))
    }

    /// Queues a row and waits until it is committed.
    pub async fn record(&self, row: audit_log::Model) -> crate::service::Result<()> {
        self.0.submit(row).await
    }
}

/// Rows one `INSERT` takes: SQLite allows 32,766 bound values per statement; an audit row
/// binds 9.
const ROWS_PER_INSERT: usize = 256;

async fn write(db: Db, rows: Vec<audit_log::Model>, outbox: Outbox) -> Result<Vec<()>, BatchError> {
    let n = rows.len();
    if outbox.telemetry.is_enabled() {
        count(&outbox.telemetry, &rows);
    }
    if outbox.routing.is_empty() && n <= ROWS_PER_INSERT && !db.writes_directly() {
        // No event to queue and one statement to run: the statement is atomic on its own,
        // so it needs no transaction around it (on PostgreSQL, one round trip instead of
        // three).
        insert_many(&db.writer().await.map_err(BatchError::new)?, rows).await.map_err(BatchError::new)?;
        let _ = outbox.committed.send(());
        return Ok(vec![(); n]);
    }
    let txn = db.transaction().await.map_err(BatchError::new)?;
    let mut queued = false;
    if !outbox.routing.is_empty() {
        for row in &rows {
            queued |= crate::service::events::outbox::enqueue(&txn, &outbox.routing, outbox.retry_hours, row)
                .await
                .map_err(|e| BatchError::new(sea_orm::DbErr::Custom(e.describe())))?;
        }
    }
    insert(&txn, rows).await.map_err(BatchError::new)?;
    db.commit(txn).await.map_err(BatchError::new)?;
    // No stream listening is not an error.
    let _ = outbox.committed.send(());
    if queued {
        outbox.wake.notify_one();
    }
    Ok(vec![(); n])
}

/// Inserts `rows` in `txn`, reading nothing back. A SQLite file's writer runs each
/// statement where it is called: there one single-row insert per row, whose text is built
/// once and whose compiled form the connection keeps, costs less than a multi-row insert,
/// whose text (and so compilation) changes with the batch's size. Elsewhere multi-row
/// inserts save round trips.
async fn insert(txn: &TxConn, rows: Vec<audit_log::Model>) -> Result<(), sea_orm::DbErr> {
    if let TxConn::Direct(_) = txn {
        let backend = txn.get_database_backend();
        for row in rows {
            txn.execute_raw(insert_statement(backend, row)).await?;
        }
        return Ok(());
    }
    insert_many(txn, rows).await
}

/// Inserts `rows` on `conn` in multi-row statements of up to [`ROWS_PER_INSERT`] rows,
/// reading nothing back.
async fn insert_many(conn: &impl ConnectionTrait, rows: Vec<audit_log::Model>) -> Result<(), sea_orm::DbErr> {
    let mut rows = rows.into_iter().map(active).peekable();
    while rows.peek().is_some() {
        audit_log::Entity::insert_many(rows.by_ref().take(ROWS_PER_INSERT)).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// Batch sizes and failed sign-in steps, for the metrics.
fn count(telemetry: &crate::telemetry::Telemetry, rows: &[audit_log::Model]) {
    telemetry.group_commit_batch(rows.len());
    for row in
        rows.iter().filter(|r| r.activity_type.starts_with("authentication.") && r.activity_type.ends_with(".failed"))
    {
        telemetry.sign_in_failure(&row.activity_type);
    }
}
