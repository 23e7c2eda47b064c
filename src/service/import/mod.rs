//! Bulk user import: Authgear's import records (NDJSON, CSV or a JSON request's
//! `records`) written in batches of up to [`BATCH`] records, each batch one transaction
//! with its users, its outcomes, the job's progress and an audit row. One import runs at
//! a time per database (a lease row); a job can be cancelled between batches; a process
//! that dies leaves whole batches in and the job `interrupted` at `processed`.

mod jobs;
mod prepare;
pub mod record;
pub mod source;
mod turns;
mod write;

use std::collections::HashSet;

use entity::{group, role};
use sea_orm::{EntityTrait, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub use prepare::Identifier;
use prepare::{Keys, Prepared, RecordError};
pub use source::{Format, RecordStream};
pub use write::Outcome;
use write::RecordResult;

use crate::domain::reason;
use crate::service::{Audit, Error, Imports, Result};

/// Records per batch (one transaction).
pub const BATCH: usize = 4000;

/// How an import treats existing users, and whether it writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportOptions {
    /// Update users that exist (by `identifier`) with the fields a record names; without
    /// it they are skipped.
    pub upsert: bool,
    /// The login ID that finds an existing user.
    pub identifier: Identifier,
    /// Validate and report every record's outcome without changing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// Where the records came from (`request`, `ndjson`, `csv`, a file name).
    #[serde(default)]
    pub source: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { upsert: false, identifier: Identifier::Email, dry_run: false, source: String::new() }
    }
}

/// An import job and its summary.
#[derive(Debug, Clone)]
pub struct ImportJob {
    /// Job ID.
    pub id: Uuid,
    /// Created (microseconds).
    pub created_at: i64,
    /// Started running (microseconds).
    pub started_at: Option<i64>,
    /// Ended (microseconds).
    pub completed_at: Option<i64>,
    /// `pending`, `running`, `completed`, `cancelled`, `interrupted` or `failed`.
    pub status: String,
    /// Its options.
    pub options: ImportOptions,
    /// Records read so far.
    pub total: i64,
    /// Records whose outcome is committed.
    pub processed: i64,
    /// New users.
    pub inserted: i64,
    /// Updated users.
    pub updated: i64,
    /// Existing users left alone.
    pub skipped: i64,
    /// Records not imported.
    pub failed: i64,
    /// Why the job stopped early.
    pub error: Option<String>,
    /// Cancellation was asked for.
    pub cancel_requested: bool,
}

/// The outcome of one record.
#[derive(Debug, Clone)]
pub struct ImportDetail {
    /// The record's index (0-based).
    pub index: i64,
    /// `inserted`, `updated`, `skipped` or `failed`.
    pub outcome: String,
    /// The user it made or found.
    pub user_id: Option<Uuid>,
    /// The failed record, secrets redacted.
    pub record: Option<Value>,
    /// `[{message}]`.
    pub warnings: Option<Value>,
    /// Authgear's API errors.
    pub errors: Option<Value>,
}

/// A batch transaction that must not commit (a dry run), or failed.
enum Stop {
    Rollback(Vec<RecordResult>),
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

impl Imports<'_> {
    /// Creates a pending job (audited); [`Imports::run`] then imports its records.
    pub async fn create(&self, audit: &Audit, options: ImportOptions) -> Result<ImportJob> {
        crate::domain::text::check_text("source", &options.source)?;
        self.write(async |tx| {
            let m = sea_orm::ActiveModelTrait::insert(jobs::new_job(&options), tx.conn()).await?;
            let payload = json!({"import_id": m.id, "upsert": options.upsert,
                "identifier": options.identifier.as_str(), "dry_run": options.dry_run});
            tx.record(audit, None, payload).await?;
            Ok(jobs::job_of(m))
        })
        .await
    }

    /// Creates a job and runs it in the background over `records`; returns it pending.
    pub async fn start(&self, audit: &Audit, options: ImportOptions, records: RecordStream) -> Result<ImportJob> {
        let job = self.create(audit, options).await?;
        let services: crate::service::Services = (**self).clone();
        let id = job.id;
        // Jobs started here run in the order they were started: each waits for the turn of
        // the one before (its sender goes when that job's task ends, however it ends).
        let (done, turn) = tokio::sync::oneshot::channel::<()>();
        let previous = match self.import_turn.lock() {
            Ok(mut last) => last.replace(turn),
            Err(poisoned) => poisoned.into_inner().replace(turn),
        };
        tokio::spawn(async move {
            if let Some(previous) = previous {
                services.imports().wait_turn(id, previous).await;
            }
            if let Err(e) = services.imports().run(id, records).await {
                tracing::error!(import = %id, error = ?e, "user import stopped");
            }
            drop(done);
        });
        Ok(job)
    }

    /// Waits until the job started before job `id` has ended. A cancel meanwhile shows at
    /// once (the job reads `cancelled`), but the task still waits: the job after it must
    /// not start while the one before runs.
    async fn wait_turn(&self, id: Uuid, mut previous: tokio::sync::oneshot::Receiver<()>) {
        let mut cancelled = false;
        loop {
            tokio::select! {
                _ = &mut previous => return,
                () = tokio::time::sleep(std::time::Duration::from_millis(250)), if !cancelled => {
                    if matches!(jobs::cancel_requested(&self.db.reader(), id).await, Ok(true)) {
                        let marked = self
                            .write_unaudited(async |tx| jobs::set_status(tx.conn(), id, "cancelled", None).await)
                            .await;
                        cancelled = marked.is_ok();
                    }
                }
            }
        }
    }

    /// A job, if it exists. A `running` job whose process no longer holds the lease (it
    /// died) reads as `interrupted`.
    pub async fn get(&self, id: Uuid) -> Result<Option<ImportJob>> {
        let mut job = match jobs::load(&self.db.reader(), id).await {
            Ok(m) => jobs::job_of(m),
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if job.status == "running" && !jobs::holds_lock(&self.db.reader(), id).await? {
            // A job that just ended frees the lease after its status changed: read the
            // status again after the lease to tell that from a dead process.
            job = jobs::job_of(jobs::load(&self.db.reader(), id).await?);
            if job.status == "running" {
                job.status = "interrupted".into();
                job.error = Some(jobs::INTERRUPTED.into());
            }
        }
        Ok(Some(job))
    }

    /// A page of a job's per-record outcomes from record `offset`.
    pub async fn details(&self, id: Uuid, offset: u64, limit: u64) -> Result<Vec<ImportDetail>> {
        // PostgreSQL's LIMIT and OFFSET are signed: a larger bound is "all" (the driver
        // refuses an unsigned value above it).
        let bound = |n: u64| n.min(i64::MAX as u64);
        jobs::details(&self.db.reader(), id, bound(offset), bound(limit)).await
    }

    /// Asks a job to stop after the batches being written (audited).
    pub async fn cancel(&self, audit: &Audit, id: Uuid) -> Result<ImportJob> {
        self.write(async |tx| {
            jobs::request_cancel(tx.conn(), id).await?;
            tx.record(audit, None, json!({"import_id": id})).await?;
            Ok::<_, Error>(())
        })
        .await?;
        self.get(id).await?.ok_or_else(|| Error::not_found(reason::USER_IMPORT_NOT_FOUND, "the import is gone"))
    }

    /// Runs job `id` over `records`: waits for the import lease, then writes the records
    /// batch by batch until they end, the job is cancelled, or something fails inside.
    pub async fn run(&self, id: Uuid, mut records: RecordStream) -> Result<ImportJob> {
        loop {
            if jobs::cancel_requested(&self.db.reader(), id).await? {
                self.write_unaudited(async |tx| jobs::set_status(tx.conn(), id, "cancelled", None).await).await?;
                return self.finished(id).await;
            }
            if self.write_unaudited(async |tx| jobs::try_lock(tx.conn(), id).await).await? {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let result = self.run_locked(id, &mut records).await;
        // Whatever happened, the lease goes (if this process still holds it).
        let unlocked = self.write_unaudited(async |tx| jobs::unlock(tx.conn(), id).await).await;
        if let Err(e) = result {
            tracing::error!(import = %id, error = ?e, "user import failed");
            let message = match &e {
                Error::Internal(_) => "the import failed inside the server; see the server log".to_owned(),
                other => other.describe(),
            };
            self.write_unaudited(async |tx| jobs::set_status(tx.conn(), id, "failed", Some(message.clone())).await)
                .await?;
        }
        unlocked?;
        self.finished(id).await
    }

    async fn finished(&self, id: Uuid) -> Result<ImportJob> {
        self.get(id).await?.ok_or_else(|| Error::not_found(reason::USER_IMPORT_NOT_FOUND, "the import is gone"))
    }

    async fn run_locked(&self, id: Uuid, records: &mut RecordStream) -> Result<()> {
        let job = jobs::job_of(jobs::load(&self.db.reader(), id).await?);
        self.write_unaudited(async |tx| jobs::set_status(tx.conn(), id, "running", None).await).await?;
        let keys = self.key_maps().await?;
        let mut idx = job.processed;
        // Records of the previous run of this job (none for a new one) are skipped.
        for _ in 0..job.processed {
            if records.recv().await.is_none() {
                break;
            }
        }
        let mut pipeline = turns::Pipeline::default();
        let fed = self.feed(&job, &keys, records, &mut idx, &mut pipeline).await;
        // Whatever stopped the loop, every batch in flight ends before the job's status
        // changes.
        let drained = pipeline.drain().await;
        let cancelled = fed?;
        drained?;
        if cancelled {
            self.write_unaudited(async |tx| jobs::set_status(tx.conn(), id, "cancelled", None).await).await?;
            return Ok(());
        }
        let done = self.finished(id).await?;
        let audit = system_audit("user_import.completed");
        self.write(async |tx| {
            jobs::set_status(tx.conn(), id, "completed", None).await?;
            let payload = json!({"import_id": id, "summary": {"total": done.total, "inserted": done.inserted,
                "updated": done.updated, "skipped": done.skipped, "failed": done.failed}});
            tx.record(&audit, None, payload).await?;
            Ok(())
        })
        .await
    }

    /// Batches in flight at once: two on PostgreSQL (each keeps a backend busy), one on
    /// SQLite (one writer).
    fn window(&self) -> usize {
        let postgres = self.db.reader().get_database_backend() == sea_orm::DbBackend::Postgres;
        if postgres && self.config.database_max_connections >= 4 { 2 } else { 1 }
    }

    /// Reads the records batch by batch and starts each batch's task, the next batch read
    /// and checked while the ones before are written. True when the job was cancelled.
    async fn feed(
        &self,
        job: &ImportJob,
        keys: &Keys,
        records: &mut RecordStream,
        idx: &mut i64,
        pipeline: &mut turns::Pipeline,
    ) -> Result<bool> {
        let window = self.window();
        let mut before: Option<tokio::sync::oneshot::Receiver<()>> = None;
        loop {
            let batch = self.next_batch(job, keys, records, idx).await;
            if batch.is_empty() {
                return Ok(false);
            }
            let first = *idx - batch.len() as i64;
            let batch_keys = turns::batch_keys(&batch);
            while pipeline.full(window, &batch_keys) {
                match pipeline.finish_oldest().await {
                    Some(r) => r?,
                    None => break,
                }
            }
            if jobs::cancel_requested(&self.db.reader(), job.id).await? {
                return Ok(true);
            }
            let (done, next_turn) = tokio::sync::oneshot::channel();
            let mut turn = turns::Turn::after(before.replace(next_turn));
            let services: crate::service::Services = (**self).clone();
            let job = job.clone();
            let task = tokio::spawn(async move {
                let committed = services.imports().commit(&job, first, batch, &mut turn).await;
                // A batch commits after the one before it, and so does the one after it.
                let committed = match committed {
                    Ok(()) => turn.wait().await,
                    Err(e) => Err(e),
                };
                if committed.is_ok() {
                    let _ = done.send(());
                }
                committed
            });
            pipeline.push(batch_keys, task);
            // On SQLite a batch's statements run on their task's thread and never wait:
            // give this thread's other tasks their turn between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Reads the next batch (whole, [`BATCH`] records, unless the input ends: a job stops
    /// and resumes at a multiple of `BATCH` however fast the reader runs) and checks each
    /// record; `idx` counts the records read. Empty at the end of the input.
    async fn next_batch(
        &self,
        job: &ImportJob,
        keys: &Keys,
        records: &mut RecordStream,
        idx: &mut i64,
    ) -> Vec<Result<Prepared, (Option<Value>, RecordError)>> {
        let mut items = Vec::with_capacity(BATCH);
        while items.len() < BATCH {
            let room = BATCH - items.len();
            if records.recv_many(&mut items, room).await == 0 {
                break;
            }
        }
        items
            .into_iter()
            .map(|item| {
                let i = *idx;
                *idx += 1;
                match item {
                    Ok(raw) => prepare::prepare(&self.config, &self.master_key, keys, job.options.identifier, i, &raw)
                        .map_err(|e| (Some(record::redacted(&raw)), e)),
                    Err(why) => Err((None, RecordError::new(reason::INVALID_IMPORT_RECORD, why))),
                }
            })
            .collect()
    }

    async fn key_maps(&self) -> Result<Keys> {
        let roles = role::Entity::find()
            .select_only()
            .column(role::Column::Key)
            .column(role::Column::Id)
            .into_tuple::<(String, Uuid)>()
            .all(&self.db.reader())
            .await?;
        let groups = group::Entity::find()
            .select_only()
            .column(group::Column::Key)
            .column(group::Column::Id)
            .into_tuple::<(String, Uuid)>()
            .all(&self.db.reader())
            .await?;
        Ok(Keys { roles: roles.into_iter().collect(), groups: groups.into_iter().collect() })
    }

    /// Writes one read batch: records that failed their checks, and the rest in runs
    /// without a repeated login ID (a repeat must see the earlier record's user).
    async fn commit(
        &self,
        job: &ImportJob,
        first: i64,
        prepared: Vec<Result<Prepared, (Option<Value>, RecordError)>>,
        turn: &mut turns::Turn,
    ) -> Result<()> {
        let mut early = Vec::new();
        let mut run: Vec<Prepared> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (offset, p) in prepared.into_iter().enumerate() {
            match p {
                Err((record, e)) => early.push(RecordResult::failed(first + offset as i64, record, e.to_json())),
                Ok(p) => {
                    let keys: Vec<String> = p.user_keys().collect();
                    if keys.iter().any(|k| seen.contains(k)) {
                        self.commit_run(job, std::mem::take(&mut run), std::mem::take(&mut early), turn).await?;
                        seen.clear();
                    }
                    seen.extend(keys);
                    run.push(p);
                }
            }
        }
        self.commit_run(job, run, early, turn).await
    }

    /// One transaction: the run's users, the outcomes (with `early` failures), progress
    /// and an audit row. A unique-key race with a concurrent writer (a key the run's
    /// look-up did not see yet) retries the run once, when the look-up sees the other
    /// writer's key and fails only its record, then the records one by one.
    async fn commit_run(
        &self,
        job: &ImportJob,
        run: Vec<Prepared>,
        early: Vec<RecordResult>,
        turn: &mut turns::Turn,
    ) -> Result<()> {
        if run.is_empty() && early.is_empty() {
            return Ok(());
        }
        let mut attempt = self.commit_once(job, &run, early.clone(), turn).await;
        if matches!(attempt, Err(Error::Conflict { .. })) && run.len() > 1 {
            tracing::info!(import_id = %job.id, records = run.len(), "import run met a concurrent writer's key; retrying it");
            attempt = self.commit_once(job, &run, early.clone(), turn).await;
        }
        match attempt {
            Err(Error::Conflict { .. }) if run.len() > 1 => {
                let mut early = Some(early);
                for p in run {
                    let e = early.take().unwrap_or_default();
                    match self.commit_once(job, std::slice::from_ref(&p), e.clone(), turn).await {
                        Err(Error::Conflict { reason, message }) => {
                            let mut e = e;
                            e.push(RecordResult::failed(
                                p.idx,
                                Some(p.redacted.clone()),
                                RecordError::new(reason, message).to_json(),
                            ));
                            self.commit_once(job, &[], e, turn).await?;
                        }
                        other => other?,
                    }
                }
                Ok(())
            }
            Err(Error::Conflict { reason, message }) => {
                let mut early = early;
                for p in &run {
                    early.push(RecordResult::failed(
                        p.idx,
                        Some(p.redacted.clone()),
                        RecordError::new(reason, message.clone()).to_json(),
                    ));
                }
                self.commit_once(job, &[], early, turn).await
            }
            other => other,
        }
    }

    async fn commit_once(
        &self,
        job: &ImportJob,
        run: &[Prepared],
        early: Vec<RecordResult>,
        turn: &mut turns::Turn,
    ) -> Result<()> {
        let identifier = job.options.identifier.login_key();
        let upsert = job.options.upsert;
        let mut results = if job.options.dry_run && !run.is_empty() {
            // Everything is written, then rolled back: the outcomes are what a real run
            // would give, conflicts included.
            let attempt = self
                .write_unaudited(async |tx| {
                    let r = write::write_batch(tx.conn(), run, identifier, upsert).await?;
                    Err::<(), Stop>(Stop::Rollback(r))
                })
                .await;
            match attempt {
                Err(Stop::Rollback(r)) => r,
                Err(Stop::Failed(e)) => return Err(e),
                Ok(()) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let audit = system_audit("user_import.batch_committed");
        self.write(async |tx| {
            let conn = tx.conn();
            if !job.options.dry_run && !run.is_empty() {
                results = write::write_batch(conn, run, identifier, upsert).await?;
            }
            results.extend(early.iter().cloned());
            results.sort_by_key(|r| r.idx);
            jobs::save_results(conn, job.id, &results).await?;
            let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
            let payload = json!({
                "import_id": job.id,
                "from": results.first().map(|r| r.idx),
                "to": results.last().map(|r| r.idx),
                "inserted": count(Outcome::Inserted),
                "updated": count(Outcome::Updated),
                "skipped": count(Outcome::Skipped),
                "failed": count(Outcome::Failed),
                "dry_run": job.options.dry_run,
            });
            tx.record(&audit, None, payload).await?;
            // The rows the batch before also locks, after it committed (see `turns`).
            turn.wait().await?;
            if !jobs::renew(conn, job.id).await? {
                return Err(Error::internal("the import lease was taken by another process"));
            }
            jobs::count_results(conn, job.id, &results).await?;
            Ok(())
        })
        .await
    }
}

fn system_audit(activity: &str) -> Audit {
    Audit {
        actor: crate::service::Actor {
            subject: Some("system".into()),
            triggered_by: crate::service::TriggeredBy::System,
            ..Default::default()
        },
        activity: activity.into(),
    }
}
