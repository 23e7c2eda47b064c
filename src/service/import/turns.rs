//! Batches in flight at once. On PostgreSQL a batch's statements keep one backend (one
//! core) busy while the importing process waits: two batches written on two connections
//! use both cores. They still commit in input order, so that a job that stops leaves the
//! records before `processed` in and the rest out: each batch waits for its [`Turn`]
//! before it renews the lease and adds its counts (both lock rows the batch before it
//! also locks), then commits.

use std::collections::{HashSet, VecDeque};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::prepare::{Prepared, RecordError};
use crate::service::{Error, Result};

/// A batch's turn to commit: when the batch before it has committed.
pub(super) struct Turn {
    before: Option<oneshot::Receiver<()>>,
}

impl Turn {
    /// A turn after `before`'s batch commits (at once without one).
    pub(super) fn after(before: Option<oneshot::Receiver<()>>) -> Self {
        Self { before }
    }

    /// Waits for the turn; an error when the batch before failed (this one must not
    /// commit either, or the job's `processed` would skip records that are not in).
    pub(super) async fn wait(&mut self) -> Result<()> {
        if let Some(before) = self.before.take() {
            before.await.map_err(|_| Error::internal("the import batch before this one did not commit"))?;
        }
        Ok(())
    }
}

/// Every key a batch's records take or look up: login IDs, provider accounts, user IDs.
/// Two batches that share one are never in flight together: the later one must see the
/// earlier one's users, and two transactions inserting one key wait for each other.
pub(super) fn batch_keys(
    batch: &[std::result::Result<Prepared, (Option<serde_json::Value>, RecordError)>],
) -> HashSet<String> {
    let mut keys = HashSet::new();
    for p in batch.iter().flatten() {
        keys.extend(p.user_keys());
        keys.extend(p.oauth.iter().map(|a| format!("oauth:{}", a.key)));
    }
    keys
}

/// A batch being written by a task of its own.
struct InFlight {
    keys: HashSet<String>,
    task: JoinHandle<Result<()>>,
}

/// The batches in flight, oldest first.
#[derive(Default)]
pub(super) struct Pipeline {
    batches: VecDeque<InFlight>,
}

impl Pipeline {
    /// Whether a batch with `keys` must wait for the oldest batch in flight: `window`
    /// batches are in flight, or one of them shares a key.
    pub(super) fn full(&self, window: usize, keys: &HashSet<String>) -> bool {
        self.batches.len() >= window || self.batches.iter().any(|b| !b.keys.is_disjoint(keys))
    }

    /// Adds a batch whose task was started.
    pub(super) fn push(&mut self, keys: HashSet<String>, task: JoinHandle<Result<()>>) {
        self.batches.push_back(InFlight { keys, task });
    }

    /// Waits for the oldest batch; `None` when none is in flight.
    pub(super) async fn finish_oldest(&mut self) -> Option<Result<()>> {
        let b = self.batches.pop_front()?;
        Some(match b.task.await {
            Ok(r) => r,
            Err(e) => Err(Error::caused("an import batch's task", e)),
        })
    }

    /// Waits for every batch in flight (each commits, or rolls back after one that
    /// failed); the first error.
    pub(super) async fn drain(&mut self) -> Result<()> {
        let mut first = Ok(());
        while let Some(r) = self.finish_oldest().await {
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}
