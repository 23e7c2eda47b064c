//! Group commit for refresh-token rotation: the writes of many concurrent refresh grants
//! go into one transaction (one commit, one fsync on PostgreSQL), and each request waits
//! until its own writes are committed before it answers.

use crate::service::Db;
use crate::service::store::group_commit::{BatchError, GroupCommit};
use entity::{refresh_token, session};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use serde_json::json;
use std::collections::HashSet;
use uuid::Uuid;

/// One grant's writes.
pub struct Rotation {
    /// The grant.
    pub session_id: Uuid,
    /// The presented token, marked rotated when a new one replaces it.
    pub old_token_id: Uuid,
    /// The presented token had not been rotated yet when it was read.
    pub first_use: bool,
    /// The replacement, if the application rotates tokens.
    pub new_token: Option<refresh_token::ActiveModel>,
    /// Record the last access (at most once a minute per grant).
    pub touch: Option<(i64, Option<String>)>,
    /// Now (UTC micros).
    pub at: i64,
}

/// What happened to a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written.
    Done,
    /// The grant was revoked meanwhile, or the token was rotated by a concurrent request.
    Refused,
    /// The write failed (PostgreSQL, after other rotations of the batch were committed);
    /// [`RefreshBatcher::rotate`] reports it as an error, never as an outcome.
    Failed,
}

const MAX_BATCH: usize = 256;

/// Sends rotations to the group-commit writer.
#[derive(Clone)]
pub struct RefreshBatcher(GroupCommit<Rotation, Outcome>);

impl RefreshBatcher {
    /// Starts the writer task on `db`.
    pub fn start(db: Db) -> Self {
        Self(GroupCommit::start(db, MAX_BATCH, write))
    }

    /// Queues a rotation and waits until it is committed.
    pub async fn rotate(&self, r: Rotation) -> crate::service::Result<Outcome> {
        match self.0.submit(r).await? {
            Outcome::Failed => Err(crate::service::Error::internal("refresh-token rotation failed")),
            outcome => Ok(outcome),
        }
    }
}

async fn write(db: Db, jobs: Vec<Rotation>) -> Result<Vec<Outcome>, BatchError> {
    if db.reader().get_database_backend() == DbBackend::Postgres {
        return write_pg(db, jobs).await;
    }
    write_in_transaction(db, jobs).await
}

/// PostgreSQL: the common case, a first use of a rotating grant with no access time to
/// record, as one statement for the whole batch (its own transaction: no `BEGIN` and
/// `COMMIT` round trips); the other jobs, and those whose token was rotated or whose grant
/// was revoked meanwhile, then go through [`write_in_transaction`], as if they had come
/// after the first ones.
async fn write_pg(db: Db, jobs: Vec<Rotation>) -> Result<Vec<Outcome>, BatchError> {
    let mut seen = HashSet::new();
    let fast: Vec<usize> = (0..jobs.len())
        .filter(|&i| {
            let j = &jobs[i];
            j.new_token.is_some() && j.first_use && j.touch.is_none() && seen.insert(j.old_token_id)
        })
        .collect();
    let claimed = if fast.is_empty() {
        HashSet::new()
    } else {
        let conn = db.writer().await.map_err(BatchError::new)?;
        rotate_pg(&conn, fast.iter().map(|&i| &jobs[i])).await.map_err(BatchError::new)?
    };
    let done: HashSet<usize> = fast.into_iter().filter(|&i| claimed.contains(&jobs[i].old_token_id)).collect();
    let mut outcomes = vec![Outcome::Done; jobs.len()];
    let (mut rest, mut rest_at) = (Vec::new(), Vec::new());
    for (i, job) in jobs.into_iter().enumerate() {
        if !done.contains(&i) {
            rest.push(job);
            rest_at.push(i);
        }
    }
    if !rest.is_empty() {
        match write_in_transaction(db, rest).await {
            Ok(rest) => {
                for (i, outcome) in rest_at.into_iter().zip(rest) {
                    outcomes[i] = outcome;
                }
            }
            // The first uses are committed and stand; only the others failed.
            Err(e) => {
                tracing::error!(error = %e, "refresh-token rotations failed");
                for i in rest_at {
                    outcomes[i] = Outcome::Failed;
                }
            }
        }
    }
    Ok(outcomes)
}

/// PostgreSQL, one statement: marks each presented token rotated while it is unrotated
/// and its grant live, and inserts the replacement of each token it marked. Returns the
/// IDs of the tokens it marked. The jobs' tokens must be distinct.
async fn rotate_pg<'a>(
    conn: &impl ConnectionTrait,
    jobs: impl Iterator<Item = &'a Rotation>,
) -> Result<HashSet<Uuid>, sea_orm::DbErr> {
    use sea_orm::ActiveValue::Set;
    let mut rows = Vec::new();
    for j in jobs {
        let Some(new) = &j.new_token else { continue };
        let (Set(id), Set(hash)) = (&new.id, &new.token_hash) else { continue };
        rows.push(json!([j.old_token_id, j.session_id, j.at, id, crate::crypto::hex(hash)]));
    }
    let sql = "WITH j AS (SELECT (v->>0)::uuid AS old, (v->>1)::uuid AS sid, (v->>2)::bigint AS at, \
               (v->>3)::uuid AS new_id, decode(v->>4, 'hex') AS hash FROM jsonb_array_elements($1::jsonb) AS v), \
               u AS (UPDATE refresh_tokens AS t SET rotated_at = j.at FROM j \
               WHERE t.id = j.old AND t.session_id = j.sid AND t.rotated_at IS NULL \
               AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = j.sid AND s.revoked_at IS NULL) RETURNING t.id), \
               i AS (INSERT INTO refresh_tokens (id, session_id, token_hash, created_at) \
               SELECT j.new_id, j.sid, j.hash, j.at FROM j WHERE j.old IN (SELECT id FROM u)) \
               SELECT id FROM u";
    let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, [serde_json::Value::Array(rows).into()]);
    let mut ids = HashSet::new();
    for row in conn.query_all_raw(stmt).await? {
        ids.insert(row.try_get_by_index::<Uuid>(0)?);
    }
    Ok(ids)
}

/// The batch in one transaction, job by job (on PostgreSQL, only what [`rotate_pg`] did not
/// take: retries, grants whose last access is due, tokens rotated or grants revoked
/// meanwhile).
async fn write_in_transaction(db: Db, jobs: Vec<Rotation>) -> Result<Vec<Outcome>, BatchError> {
    let s = BatchError::new;
    let txn = db.transaction().await.map_err(s)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut inserts: Vec<refresh_token::ActiveModel> = Vec::new();
    for job in jobs {
        // The presented token is marked rotated only while it is unrotated and its grant
        // is live: one conditional statement checks both.
        let live = Query::select()
            .expr(Expr::val(1))
            .from(session::Entity)
            .and_where(Expr::col(session::Column::Id).eq(job.session_id))
            .and_where(Expr::col(session::Column::RevokedAt).is_null())
            .to_owned();
        let guarded = || {
            refresh_token::Entity::update_many()
                .filter(Expr::col(refresh_token::Column::Id).eq(job.old_token_id))
                .filter(Expr::exists(live.clone()))
        };
        let mut done = false;
        let mut first = false;
        if job.new_token.is_some() && job.first_use {
            done = guarded()
                .col_expr(refresh_token::Column::RotatedAt, Expr::value(job.at))
                .filter(Expr::col(refresh_token::Column::RotatedAt).is_null())
                .exec(&txn)
                .await
                .map_err(s)?
                .rows_affected
                > 0;
            first = done;
        }
        if !done {
            // No rotation, a retry within the grace window, or a concurrent request that
            // rotated the token first (also a retry): only check that the grant is live.
            done = guarded()
                .col_expr(refresh_token::Column::CreatedAt, Expr::col(refresh_token::Column::CreatedAt))
                .exec(&txn)
                .await
                .map_err(s)?
                .rows_affected
                > 0;
        }
        if !done {
            outcomes.push(Outcome::Refused);
            continue;
        }
        if job.new_token.is_some() && !first {
            // A retry within the grace window gets a new token, and every other live token
            // of the grant is marked rotated: if the retry was an attacker's, the client's
            // next use of its own token is reuse and ends the grant (no silent fork).
            refresh_token::Entity::update_many()
                .col_expr(refresh_token::Column::RotatedAt, Expr::value(job.at))
                .filter(Expr::col(refresh_token::Column::SessionId).eq(job.session_id))
                .filter(Expr::col(refresh_token::Column::RotatedAt).is_null())
                .exec(&txn)
                .await
                .map_err(s)?;
            for row in &mut inserts {
                if matches!(&row.session_id, sea_orm::ActiveValue::Set(id) if *id == job.session_id) {
                    row.rotated_at = sea_orm::Set(Some(job.at));
                }
            }
        }
        if let Some((t, ip)) = job.touch {
            session::Entity::update_many()
                .col_expr(session::Column::LastAccessedAt, Expr::value(t))
                .col_expr(session::Column::LastAccessedByIp, Expr::value(ip))
                .filter(Expr::col(session::Column::Id).eq(job.session_id))
                .exec(&txn)
                .await
                .map_err(s)?;
        }
        if let Some(row) = job.new_token {
            inserts.push(row);
        }
        outcomes.push(Outcome::Done);
    }
    // SQLite allows 32,766 bound values per statement; a token row binds 5.
    for chunk in inserts.chunks(1000) {
        refresh_token::Entity::insert_many(chunk.to_vec()).exec(&txn).await.map_err(s)?;
    }
    db.commit(txn).await.map_err(s)?;
    Ok(outcomes)
}
