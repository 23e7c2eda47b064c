//! Import jobs as stored: creation, the lease that keeps imports to one at a time, progress
//! and the summary, cancellation, and reading a job with its details.

use entity::{job_lock, user_import, user_import_result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::write::RecordResult;
use super::{ImportDetail, ImportJob, ImportOptions};
use crate::domain::reason;
use crate::service::store::time::{micros, now};
use crate::service::{Error, Result};

/// The lock row imports share.
pub(super) const LOCK: &str = "user_import";
/// How long a lease lasts without renewal; a process that died frees it after this.
pub(super) const LEASE_MICROS: i64 = 30_000_000;

pub(super) fn job_of(m: user_import::Model) -> ImportJob {
    let options: ImportOptions = serde_json::from_value(m.options).unwrap_or_default();
    ImportJob {
        id: m.id,
        created_at: m.created_at,
        started_at: m.started_at,
        completed_at: m.completed_at,
        status: m.status,
        options,
        total: m.total,
        processed: m.processed,
        inserted: m.inserted,
        updated: m.updated,
        skipped: m.skipped,
        failed: m.failed,
        error: m.error,
        cancel_requested: m.cancel_requested,
    }
}

pub(super) fn new_job(options: &ImportOptions) -> user_import::ActiveModel {
    user_import::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(micros(now())),
        started_at: Set(None),
        completed_at: Set(None),
        status: Set("pending".into()),
        options: Set(serde_json::to_value(options).unwrap_or(Value::Null)),
        total: Set(0),
        processed: Set(0),
        inserted: Set(0),
        updated: Set(0),
        skipped: Set(0),
        failed: Set(0),
        error: Set(None),
        cancel_requested: Set(false),
    }
}

pub(super) async fn load(conn: &impl ConnectionTrait, id: Uuid) -> Result<user_import::Model> {
    user_import::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(reason::USER_IMPORT_NOT_FOUND, format!("import {id} does not exist")))
}

/// Why an interrupted job stopped.
pub(super) const INTERRUPTED: &str =
    "the server stopped during the import; `processed` records are in, the rest are not";

/// Whether `owner` holds an unexpired import lease.
pub(super) async fn holds_lock(conn: &impl ConnectionTrait, owner: Uuid) -> Result<bool> {
    let t = micros(now());
    Ok(job_lock::Entity::find()
        .filter(Expr::col(job_lock::Column::Name).eq(LOCK))
        .filter(Expr::col(job_lock::Column::Owner).eq(owner.to_string()))
        .filter(Expr::col(job_lock::Column::HeldUntil).gte(t))
        .one(conn)
        .await?
        .is_some())
}

/// Takes the import lease for `owner` when it is free or expired. Jobs the previous
/// holder left `running` are marked `interrupted`: their `processed` says where they
/// stopped. One UPDATE decides between racing processes.
pub(super) async fn try_lock(conn: &impl ConnectionTrait, owner: Uuid) -> Result<bool> {
    let t = micros(now());
    let won = job_lock::Entity::update_many()
        .col_expr(job_lock::Column::Owner, Expr::value(owner.to_string()))
        .col_expr(job_lock::Column::HeldUntil, Expr::value(t + LEASE_MICROS))
        .filter(Expr::col(job_lock::Column::Name).eq(LOCK))
        .filter(
            Expr::col(job_lock::Column::Owner)
                .is_null()
                .or(Expr::col(job_lock::Column::HeldUntil).lt(t))
                .or(Expr::col(job_lock::Column::Owner).eq(owner.to_string())),
        )
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if won {
        user_import::Entity::update_many()
            .col_expr(user_import::Column::Status, Expr::value("interrupted"))
            .col_expr(user_import::Column::CompletedAt, Expr::value(t))
            .col_expr(user_import::Column::Error, Expr::value(INTERRUPTED))
            .filter(Expr::col(user_import::Column::Status).eq("running"))
            .filter(Expr::col(user_import::Column::Id).ne(owner))
            .exec(conn)
            .await?;
    }
    Ok(won)
}

/// Renews the lease; false when another process took it (this one was presumed dead).
pub(super) async fn renew(conn: &impl ConnectionTrait, owner: Uuid) -> Result<bool> {
    let t = micros(now());
    Ok(job_lock::Entity::update_many()
        .col_expr(job_lock::Column::HeldUntil, Expr::value(t + LEASE_MICROS))
        .filter(Expr::col(job_lock::Column::Name).eq(LOCK))
        .filter(Expr::col(job_lock::Column::Owner).eq(owner.to_string()))
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

/// Frees the lease if `owner` holds it.
pub(super) async fn unlock(conn: &impl ConnectionTrait, owner: Uuid) -> Result<()> {
    job_lock::Entity::update_many()
        .col_expr(job_lock::Column::Owner, Expr::value(Option::<String>::None))
        .col_expr(job_lock::Column::HeldUntil, Expr::value(Option::<i64>::None))
        .filter(Expr::col(job_lock::Column::Name).eq(LOCK))
        .filter(Expr::col(job_lock::Column::Owner).eq(owner.to_string()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets a job's status (and, when it ends, its completion time and error).
pub(super) async fn set_status(
    conn: &impl ConnectionTrait,
    id: Uuid,
    status: &str,
    error: Option<String>,
) -> Result<()> {
    let t = micros(now());
    let mut q = user_import::Entity::update_many()
        .col_expr(user_import::Column::Status, Expr::value(status))
        .filter(Expr::col(user_import::Column::Id).eq(id));
    if status == "running" {
        q = q.col_expr(user_import::Column::StartedAt, Expr::value(t));
    } else {
        q = q.col_expr(user_import::Column::CompletedAt, Expr::value(t));
    }
    if let Some(e) = error {
        q = q.col_expr(user_import::Column::Error, Expr::value(e));
    }
    q.exec(conn).await?;
    Ok(())
}

/// Adds a batch's outcomes to the job's counters and progress. It locks the job's row
/// until the transaction ends: a batch does it last, after the batch before it committed.
pub(super) async fn count_results(conn: &impl ConnectionTrait, id: Uuid, results: &[RecordResult]) -> Result<()> {
    use super::write::Outcome;
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count() as i64;
    let processed = results.iter().map(|r| r.idx + 1).max().unwrap_or(0);
    let col = |c: user_import::Column, n: i64| Expr::col(c).add(n);
    user_import::Entity::update_many()
        .col_expr(user_import::Column::Inserted, col(user_import::Column::Inserted, count(Outcome::Inserted)))
        .col_expr(user_import::Column::Updated, col(user_import::Column::Updated, count(Outcome::Updated)))
        .col_expr(user_import::Column::Skipped, col(user_import::Column::Skipped, count(Outcome::Skipped)))
        .col_expr(user_import::Column::Failed, col(user_import::Column::Failed, count(Outcome::Failed)))
        .col_expr(user_import::Column::Processed, Expr::value(processed))
        .col_expr(user_import::Column::Total, Expr::value(processed))
        .filter(Expr::col(user_import::Column::Id).eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Writes a batch's per-record outcomes (the job's details).
pub(super) async fn save_results(conn: &impl ConnectionTrait, id: Uuid, results: &[RecordResult]) -> Result<()> {
    let rows: Vec<user_import_result::ActiveModel> = results
        .iter()
        .map(|r| user_import_result::ActiveModel {
            job_id: Set(id),
            idx: Set(r.idx),
            outcome: Set(r.outcome.as_str().into()),
            user_id: Set(r.user_id),
            record: Set(r.record.clone().map(without_nul)),
            warnings: Set((!r.warnings.is_empty())
                .then(|| without_nul(Value::Array(r.warnings.iter().map(|w| json!({"message": w})).collect())))),
            errors: Set((!r.errors.is_empty()).then(|| without_nul(Value::Array(r.errors.clone())))),
        })
        .collect();
    crate::service::store::bulk::insert_rows(conn, rows).await?;
    Ok(())
}

/// `value` with every NUL character in its strings and keys replaced by U+FFFD: a failed
/// record (or an error quoting it) may hold NUL, which PostgreSQL's `jsonb` refuses.
fn without_nul(value: Value) -> Value {
    let clean = |s: String| if s.contains('\0') { s.replace('\0', "\u{fffd}") } else { s };
    match value {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nul).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (clean(k), without_nul(v))).collect()),
        other => other,
    }
}

/// Whether cancellation was asked for.
pub(super) async fn cancel_requested(conn: &impl ConnectionTrait, id: Uuid) -> Result<bool> {
    Ok(user_import::Entity::find_by_id(id)
        .select_only()
        .column(user_import::Column::CancelRequested)
        .into_tuple::<bool>()
        .one(conn)
        .await?
        .unwrap_or(true))
}

/// A page of a job's per-record outcomes, in record order.
pub(super) async fn details(
    conn: &impl ConnectionTrait,
    id: Uuid,
    offset: u64,
    limit: u64,
) -> Result<Vec<ImportDetail>> {
    let rows = user_import_result::Entity::find()
        .filter(Expr::col(user_import_result::Column::JobId).eq(id))
        .filter(Expr::col(user_import_result::Column::Idx).gte(offset as i64))
        .order_by_asc(user_import_result::Column::Idx)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ImportDetail {
            index: r.idx,
            outcome: r.outcome,
            user_id: r.user_id,
            record: r.record,
            warnings: r.warnings,
            errors: r.errors,
        })
        .collect())
}

/// Asks a pending or running job to stop; a pending one stops at once.
pub(super) async fn request_cancel(conn: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    let job = load(conn, id).await?;
    if !matches!(job.status.as_str(), "pending" | "running") {
        return Err(Error::invalid(
            reason::INVALID_USER_IMPORT,
            format!("import {id} is {} and cannot be cancelled", job.status),
        ));
    }
    let mut am: user_import::ActiveModel = job.into();
    am.cancel_requested = Set(true);
    am.update(conn).await?;
    Ok(())
}
