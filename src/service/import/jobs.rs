//! Import jobs as stored: creation, the lease that keeps imports to one at a time, progress
//! and the summary, cancellation, and reading a job with its details.

use entity::{job_lock, user_import, user_import_outcome, user_import_result};
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

/// One record's outcome as a chunk keeps it: `[idx, outcome, user_id, record, warnings,
/// errors]`, trailing nulls left out (an inserted record is `[7,"inserted","…"]`).
fn entry(r: &RecordResult) -> Value {
    let uid = r.user_id.map_or(Value::Null, |u| Value::String(u.to_string()));
    let record = r.record.clone().map_or(Value::Null, without_nul);
    let warnings = if r.warnings.is_empty() {
        Value::Null
    } else {
        without_nul(Value::Array(r.warnings.iter().map(|w| json!({"message": w})).collect()))
    };
    let errors = if r.errors.is_empty() { Value::Null } else { without_nul(Value::Array(r.errors.clone())) };
    let mut e = vec![json!(r.idx), json!(r.outcome.as_str()), uid, record, warnings, errors];
    while e.len() > 3 && e.last() == Some(&Value::Null) {
        e.pop();
    }
    Value::Array(e)
}

/// A record's outcome from its [`entry`].
fn detail_of(e: Value) -> Option<ImportDetail> {
    let Value::Array(a) = e else { return None };
    let mut a = a.into_iter();
    let index = a.next()?.as_i64()?;
    let outcome = a.next()?.as_str()?.to_owned();
    let user_id = a.next().and_then(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()));
    let mut rest = a.map(|v| if Value::is_null(&v) { None } else { Some(v) });
    let (record, warnings, errors) = (rest.next().flatten(), rest.next().flatten(), rest.next().flatten());
    Some(ImportDetail { index, outcome, user_id, record, warnings, errors })
}

fn chunk(id: Uuid, first: i64, last: i64, outcomes: String) -> user_import_outcome::ActiveModel {
    user_import_outcome::ActiveModel {
        job_id: Set(id),
        first_idx: Set(first),
        last_idx: Set(last),
        outcomes: Set(outcomes),
    }
}

/// Writes a batch's per-record outcomes (the job's details) as chunks: one row for the
/// batch, or, on PostgreSQL over TLS, rows small enough that each insert leaves in one
/// TLS record (see `store::bulk`).
pub(super) async fn save_results(conn: &impl ConnectionTrait, id: Uuid, results: &[RecordResult]) -> Result<()> {
    let budget = crate::service::store::bulk::value_budget(conn.get_database_backend());
    let mut rows = Vec::new();
    let (mut text, mut first, mut last) = (String::new(), i64::MAX, i64::MIN);
    for r in results {
        let one = entry(r).to_string();
        if !text.is_empty() && text.len() + one.len() + 2 > budget {
            text.push(']');
            rows.push(chunk(id, first, last, std::mem::take(&mut text)));
            (first, last) = (i64::MAX, i64::MIN);
        }
        text.push(if text.is_empty() { '[' } else { ',' });
        text.push_str(&one);
        (first, last) = (Ord::min(first, r.idx), Ord::max(last, r.idx));
    }
    if !text.is_empty() {
        text.push(']');
        rows.push(chunk(id, first, last, text));
    }
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
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let end = offset.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX));
    // A chunk holds records of one batch: one that reaches `offset` starts after
    // `offset - BATCH`.
    let chunks = user_import_outcome::Entity::find()
        .filter(Expr::col(user_import_outcome::Column::JobId).eq(id))
        .filter(Expr::col(user_import_outcome::Column::FirstIdx).gt(offset.saturating_sub(super::BATCH as i64)))
        .filter(Expr::col(user_import_outcome::Column::FirstIdx).lt(end))
        .filter(Expr::col(user_import_outcome::Column::LastIdx).gte(offset))
        .order_by_asc(user_import_outcome::Column::FirstIdx)
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for c in chunks {
        let entries: Vec<Value> =
            serde_json::from_str(&c.outcomes).map_err(|e| Error::caused("reading an import's outcomes", e))?;
        out.extend(entries.into_iter().filter_map(detail_of).filter(|d| d.index >= offset && d.index < end));
    }
    // Jobs of earlier versions kept a row per record.
    let rows = user_import_result::Entity::find()
        .filter(Expr::col(user_import_result::Column::JobId).eq(id))
        .filter(Expr::col(user_import_result::Column::Idx).gte(offset))
        .order_by_asc(user_import_result::Column::Idx)
        .limit(limit)
        .all(conn)
        .await?;
    out.extend(rows.into_iter().map(|r| ImportDetail {
        index: r.idx,
        outcome: r.outcome,
        user_id: r.user_id,
        record: r.record,
        warnings: r.warnings,
        errors: r.errors,
    }));
    out.sort_by_key(|d| d.index);
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::import::write::Outcome;

    #[test]
    fn an_outcome_reads_back_from_its_chunk_entry() {
        let uid = Uuid::now_v7();
        let inserted = RecordResult {
            idx: 7,
            outcome: Outcome::Inserted,
            user_id: Some(uid),
            record: None,
            warnings: vec![],
            errors: vec![],
        };
        assert_eq!(entry(&inserted), json!([7, "inserted", uid.to_string()]), "trailing nulls are left out");
        let d = detail_of(entry(&inserted)).unwrap();
        assert_eq!((d.index, d.outcome.as_str(), d.user_id), (7, "inserted", Some(uid)));
        assert!(d.record.is_none() && d.warnings.is_none() && d.errors.is_none());

        let failed = RecordResult {
            idx: 9,
            outcome: Outcome::Failed,
            user_id: None,
            record: Some(json!({"email": "a\0b"})),
            warnings: vec!["w".into()],
            errors: vec![json!({"reason": "InvalidEmail"})],
        };
        let text = Value::Array(vec![entry(&failed)]).to_string();
        let back: Vec<Value> = serde_json::from_str(&text).unwrap();
        let d = detail_of(back.into_iter().next().unwrap()).unwrap();
        assert_eq!((d.index, d.outcome.as_str(), d.user_id), (9, "failed", None));
        assert_eq!(d.record, Some(json!({"email": "a\u{fffd}b"})), "NUL is never kept");
        assert_eq!(d.warnings, Some(json!([{"message": "w"}])));
        assert_eq!(d.errors, Some(json!([{"reason": "InvalidEmail"}])));
        assert!(detail_of(json!({"idx": 1})).is_none());
    }
}
