//! Group commit: jobs from many concurrent requests are written in one transaction by a
//! single writer task, and each request waits until its own job is committed. This turns
//! one commit (and on PostgreSQL one fsync) per request into one per batch.

use crate::service::Db;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A batch's failure, shared by every job of the batch.
pub(in crate::service) type BatchError = std::sync::Arc<sea_orm::DbErr>;

type Job<J, O> = (J, oneshot::Sender<Result<O, BatchError>>);

/// A queue into one writer task; cloning shares the queue.
pub struct GroupCommit<J, O> {
    tx: mpsc::Sender<Job<J, O>>,
    load: Arc<Load>,
}

impl<J, O> Clone for GroupCommit<J, O> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), load: self.load.clone() }
    }
}

/// How long a free writer of several waits at most for the jobs it expects (one tick of
/// tokio's timer).
const FILL_WAIT: Duration = Duration::from_millis(1);

/// A free writer waits only when it expects at least this many more jobs: fewer would save
/// little, and with few requests about the cores may have nothing else to do meanwhile.
const FILL_MIN: usize = 8;

/// How long a peak of outstanding jobs counts: the larger of this window's and the last one's.
const PEAK_WINDOW: Duration = Duration::from_millis(100);

/// The jobs between their submission and their answer, which tell a free writer of several
/// how many jobs are still coming.
#[derive(Default)]
struct Load {
    /// Jobs submitted and not yet answered (or given up by their request).
    outstanding: AtomicUsize,
    /// Jobs in the batches that writers are writing.
    in_flight: AtomicUsize,
    /// The most jobs outstanding at once in the current window.
    peak: AtomicUsize,
    /// The same in the window before.
    peak_before: AtomicUsize,
}

impl Load {
    /// The requests that take part in batches at the moment: the recent peak of outstanding
    /// jobs.
    fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed).max(self.peak_before.load(Ordering::Relaxed))
    }

    /// Starts a new window (called by the writer that holds the queue).
    fn next_window(&self) {
        let now = self.outstanding.load(Ordering::Relaxed);
        self.peak_before.store(self.peak.swap(now, Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Counts a submitted job as outstanding until it is answered or its request gives up.
struct Outstanding<'a>(&'a Load);

impl<'a> Outstanding<'a> {
    fn new(load: &'a Load) -> Self {
        let n = load.outstanding.fetch_add(1, Ordering::Relaxed) + 1;
        load.peak.fetch_max(n, Ordering::Relaxed);
        Self(load)
    }
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a writer gathers its batch after the first job.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gathering {
    /// A single writer: lets the requests that are ready to run reach their submit first,
    /// then takes what is queued. On a busy runtime this makes the batch several times
    /// larger (fewer commits and fewer hand-offs to the database per request) for the cost
    /// of one turn of the scheduler.
    SchedulerTurn,
    /// One writer of several: takes what is queued, then waits up to [`FILL_WAIT`] for the
    /// jobs that [`Load`] says are coming (see [`GroupCommit::start_with`]).
    ExpectedJobs,
}

/// The receiving end that the writers share, and when its peak window started.
struct Queue<J, O> {
    rx: mpsc::Receiver<Job<J, O>>,
    window_started: Instant,
}

impl<J: Send + 'static, O: Send + 'static> GroupCommit<J, O> {
    /// Starts the writer: `write` gets up to `max_batch` queued jobs and returns one
    /// outcome per job, in order, or an error that every job of the batch receives.
    pub fn start<F, Fut>(db: Db, max_batch: usize, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, BatchError>> + Send,
    {
        Self::spawn(db, max_batch, 1, Gathering::SchedulerTurn, write)
    }

    /// As [`start`](Self::start), with `writers` tasks taking batches from the one queue:
    /// while one batch waits for its commit, the next is already collected and written.
    /// `write` must then tolerate concurrent batches (conditional statements, whose row
    /// locks order them).
    ///
    /// A free writer takes what is queued without the turn of the scheduler that a single
    /// writer waits for a larger batch: with the batches of several writers in flight, that
    /// turn held the next batch back behind the requests whose tokens were being signed, and
    /// the cores went idle while PostgreSQL ran it (docs/benchmarks.md). It waits instead
    /// for the jobs that are known to be coming, at most [`FILL_WAIT`]: the recent peak of
    /// outstanding jobs, less those in the other writers' batches, counts the requests that
    /// will submit one soon (they are being signed or answered), and it waits only for
    /// [`FILL_MIN`] or more. With 8 clients it never waits; with 32 clients and 16 in flight
    /// it waits for the other 16, so each batch's fixed cost (a statement's start and a
    /// commit) is shared by twice as many jobs. On PostgreSQL's refresh claims at 32
    /// connections that gave 5 % more refreshes per second in the median of five alternated
    /// pairs (from none to 14 %), and nothing at 4 to 16 (docs/benchmarks.md).
    pub fn start_with<F, Fut>(db: Db, max_batch: usize, writers: usize, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, BatchError>> + Send,
    {
        Self::spawn(db, max_batch, writers, Gathering::ExpectedJobs, write)
    }

    /// Starts `writers` tasks, which gather each batch as `gathering` says.
    fn spawn<F, Fut>(db: Db, max_batch: usize, writers: usize, gathering: Gathering, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, BatchError>> + Send,
    {
        let (tx, rx) = mpsc::channel::<Job<J, O>>(4 * max_batch);
        let rx = Arc::new(tokio::sync::Mutex::new(Queue { rx, window_started: Instant::now() }));
        let write = Arc::new(write);
        let load = Arc::new(Load::default());
        for _ in 0..writers.max(1) {
            let (db, rx, write, load) = (db.clone(), rx.clone(), write.clone(), load.clone());
            tokio::spawn(async move {
                while let Some(jobs) = next_batch(&rx, max_batch, gathering, &load).await {
                    let taken = jobs.len();
                    let (items, waiters): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
                    let outcome = write(db.clone(), items).await;
                    load.in_flight.fetch_sub(taken, Ordering::Relaxed);
                    match outcome {
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
        Self { tx, load }
    }

    /// Queues a job and waits until it is committed.
    pub async fn submit(&self, job: J) -> crate::service::Result<O> {
        let _outstanding = Outstanding::new(&self.load);
        let (done, wait) = oneshot::channel();
        self.tx.send((job, done)).await.map_err(|_| crate::service::Error::internal("group-commit writer stopped"))?;
        wait.await
            .map_err(|_| crate::service::Error::internal("group-commit writer stopped"))?
            .map_err(|e| crate::service::Error::caused("batch write", e))
    }
}

/// The next batch: the first job to arrive, then every job already queued (up to `max`).
/// How the rest of the batch is gathered is `gathering`'s. `None` once every sender is gone.
async fn next_batch<J, O>(
    queue: &tokio::sync::Mutex<Queue<J, O>>,
    max: usize,
    gathering: Gathering,
    load: &Load,
) -> Option<Vec<Job<J, O>>> {
    let mut queue = queue.lock().await;
    let first = queue.rx.recv().await?;
    if gathering == Gathering::SchedulerTurn {
        tokio::task::yield_now().await;
    }
    let mut jobs = vec![first];
    take_queued(&mut queue.rx, &mut jobs, max);
    if gathering == Gathering::ExpectedJobs {
        if queue.window_started.elapsed() >= PEAK_WINDOW {
            load.next_window();
            queue.window_started = Instant::now();
        }
        let want = fill_target(load.peak(), load.in_flight.load(Ordering::Relaxed), jobs.len(), max);
        let deadline = Instant::now() + FILL_WAIT;
        while jobs.len() < want {
            match tokio::time::timeout_at(deadline, queue.rx.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) | Err(_) => break,
            }
            take_queued(&mut queue.rx, &mut jobs, max);
        }
    }
    load.in_flight.fetch_add(jobs.len(), Ordering::Relaxed);
    Some(jobs)
}

/// How many jobs a free writer holding `have` waits for: the `peak` of outstanding jobs less
/// those `in_flight` in other batches, at most `max`, if that is [`FILL_MIN`] more than it
/// has; otherwise none (it takes what it has at once).
fn fill_target(peak: usize, in_flight: usize, have: usize, max: usize) -> usize {
    let want = peak.saturating_sub(in_flight).min(max);
    if want >= have + FILL_MIN { want } else { 0 }
}

/// Moves the jobs already queued into `jobs`, up to `max` in all.
fn take_queued<J, O>(rx: &mut mpsc::Receiver<Job<J, O>>, jobs: &mut Vec<Job<J, O>>, max: usize) {
    while jobs.len() < max {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fill_target;

    #[test]
    fn a_free_writer_waits_only_for_many_expected_jobs() {
        // 32 clients, 16 in the other batch, 4 queued: the other 12 are coming.
        assert_eq!(fill_target(32, 16, 4, 256), 16);
        // 8 clients: at most 7 more can come, too few to wait for.
        assert_eq!(fill_target(8, 0, 1, 256), 0);
        assert_eq!(fill_target(8, 5, 3, 256), 0);
        // One client at a time never waits.
        assert_eq!(fill_target(1, 0, 1, 256), 0);
        // Everything expected is already in flight.
        assert_eq!(fill_target(32, 32, 1, 256), 0);
        // Never more than a batch holds.
        assert_eq!(fill_target(1000, 0, 10, 256), 256);
    }

    #[test]
    fn the_peak_of_outstanding_jobs_outlives_one_window_only() {
        let load = super::Load::default();
        let held: Vec<_> = (0..5).map(|_| super::Outstanding::new(&load)).collect();
        assert_eq!(load.peak(), 5);
        drop(held);
        assert_eq!(load.peak(), 5, "the peak stays for the rest of its window");
        load.next_window();
        assert_eq!(load.peak(), 5, "and for the window after");
        load.next_window();
        assert_eq!(load.peak(), 0, "then it is forgotten");
    }
}
