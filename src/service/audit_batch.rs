//! Group commit for audit rows on hot paths (token issuance): the rows of many concurrent
//! requests are written in one transaction, and each request waits until its row is
//! committed before it answers.

use sea_orm::EntityTrait;
use tokio::sync::{mpsc, oneshot};

use super::Db;
use entity::audit_log;

type Job = (audit_log::ActiveModel, oneshot::Sender<Result<(), String>>);

/// Most rows one transaction takes.
const MAX_BATCH: usize = 512;

/// Sends audit rows to the group-commit writer.
#[derive(Clone)]
pub struct AuditBatcher {
    tx: mpsc::Sender<Job>,
}

impl AuditBatcher {
    /// Starts the writer task on `db`.
    pub fn start(db: Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let (rows, waiters): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
                let result = write(&db, rows).await;
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        Self { tx }
    }

    /// Queues a row and waits until it is committed.
    pub async fn record(&self, row: audit_log::ActiveModel) -> super::Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((row, done)).await.map_err(|_| super::Error::internal("audit writer stopped"))?;
        wait.await.map_err(|_| super::Error::internal("audit writer stopped"))?.map_err(super::Error::Internal)
    }
}

async fn write(db: &Db, rows: Vec<audit_log::ActiveModel>) -> Result<(), String> {
    let txn = db.begin_write().await.map_err(|e| e.to_string())?;
    // SQLite allows 32,766 bound values per statement; an audit row binds 9.
    for chunk in rows.chunks(256) {
        audit_log::Entity::insert_many(chunk.to_vec()).exec(&txn).await.map_err(|e| e.to_string())?;
    }
    txn.commit().await.map_err(|e| e.to_string())
}
