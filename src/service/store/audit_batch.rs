//! Group commit for audit rows on hot paths (token issuance, failed logins): the rows of
//! many concurrent requests are written in one transaction, and each request waits until
//! its row is committed before it answers.

use crate::service::Db;
use crate::service::store::group_commit::{BatchError, GroupCommit};
use entity::audit_log;
use sea_orm::EntityTrait;

/// Most rows one transaction takes.
const MAX_BATCH: usize = 512;

/// Sends audit rows to the group-commit writer.
#[derive(Clone)]
pub struct AuditBatcher(GroupCommit<audit_log::ActiveModel, ()>);

impl AuditBatcher {
    /// Starts the writer task on `db`.
    pub fn start(db: Db) -> Self {
        Self(GroupCommit::start(db, MAX_BATCH, write))
    }

    /// Queues a row and waits until it is committed.
    pub async fn record(&self, row: audit_log::ActiveModel) -> crate::service::Result<()> {
        self.0.submit(row).await
    }
}

async fn write(db: Db, rows: Vec<audit_log::ActiveModel>) -> Result<Vec<()>, BatchError> {
    let n = rows.len();
    let txn = db.transaction().await.map_err(BatchError::new)?;
    // SQLite allows 32,766 bound values per statement; an audit row binds 9.
    for chunk in rows.chunks(256) {
        audit_log::Entity::insert_many(chunk.to_vec()).exec(&txn).await.map_err(BatchError::new)?;
    }
    txn.commit().await.map_err(BatchError::new)?;
    Ok(vec![(); n])
}
