//! Group commit: jobs from many concurrent requests are written in one transaction by a
//! single writer task, and each request waits until its own job is committed. This turns
//! one commit (and on PostgreSQL one fsync) per request into one per batch.

use crate::service::Db;
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

/// A batch's failure, shared by every job of the batch.
pub(in crate::service) type BatchError = std::sync::Arc<sea_orm::DbErr>;

type Job<J, O> = (J, oneshot::Sender<Result<O, BatchError>>);

/// A queue into one writer task; cloning shares the queue.
pub struct GroupCommit<J, O> {
    tx: mpsc::Sender<Job<J, O>>,
}

impl<J, O> Clone for GroupCommit<J, O> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<J: Send + 'static, O: Send + 'static> GroupCommit<J, O> {
    /// Starts the writer: `write` gets up to `max_batch` queued jobs and returns one
    /// outcome per job, in order, or an error that every job of the batch receives.
    pub fn start<F, Fut>(db: Db, max_batch: usize, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, BatchError>> + Send,
    {
        Self::spawn(db, max_batch, 1, true, write)
    }

    /// As [`start`](Self::start), with `writers` tasks taking batches from the one queue:
    /// while one batch waits for its commit, the next is already collected and written.
    /// `write` must then tolerate concurrent batches (conditional statements, whose row
    /// locks order them).
    ///
    /// A free writer takes what is queued at once, without the turn of the scheduler that a
    /// single writer waits for a larger batch. With the batches of several writers in flight,
    /// that turn only held the next batch back behind the requests whose tokens were being
    /// signed, and the cores went idle while PostgreSQL ran it: the refresh claims gained 3
    /// points of the RSA bound without it (docs/benchmarks.md).
    pub fn start_with<F, Fut>(db: Db, max_batch: usize, writers: usize, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, BatchError>> + Send,
    {
        Self::spawn(db, max_batch, writers, false, write)
    }

    /// Starts `writers` tasks; `gather` lets the ready requests queue their jobs before a
    /// batch is taken.
    fn spawn<F, Fut>(db: Db, max_batch: usize, writers: usize, gather: bool, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, BatchError>> + Send,
    {
        let (tx, rx) = mpsc::channel::<Job<J, O>>(4 * max_batch);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let write = std::sync::Arc::new(write);
        for _ in 0..writers.max(1) {
            let (db, rx, write) = (db.clone(), rx.clone(), write.clone());
            tokio::spawn(async move {
                while let Some(jobs) = next_batch(&rx, max_batch, gather).await {
                    let (items, waiters): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
                    match write(db.clone(), items).await {
                        Ok(outcomes) => {
                            for (w, o) in waiters.into_iter().zip(outcomes) {
                                let _ = w.send(Ok(o));
                            }
                        }
                        Err(e) => {
                            for w in waiters {
                                let _ = w.send(Err(e.clone()));
                            }
                        }
                    }
                }
            });
        }
        Self { tx }
    }

    /// Queues a job and waits until it is committed.
    pub async fn submit(&self, job: J) -> crate::service::Result<O> {
        let (done, wait) = oneshot::channel();
        self.tx.send((job, done)).await.map_err(|_| crate::service::Error::internal("group-commit writer stopped"))?;
        wait.await
            .map_err(|_| crate::service::Error::internal("group-commit writer stopped"))?
            .map_err(|e| crate::service::Error::caused("batch write", e))
    }
}

/// The next batch: the first job to arrive, then every job already queued (up to `max`).
/// `None` once every sender is gone.
async fn next_batch<J, O>(
    rx: &tokio::sync::Mutex<mpsc::Receiver<Job<J, O>>>,
    max: usize,
    gather: bool,
) -> Option<Vec<Job<J, O>>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    // Let the requests that are ready to run reach their submit first: on a busy runtime
    // this makes the batch several times larger (fewer commits and fewer hand-offs to the
    // database per request) for the cost of one turn of the scheduler.
    if gather {
        tokio::task::yield_now().await;
    }
    let mut jobs = vec![first];
    while jobs.len() < max {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    Some(jobs)
}
