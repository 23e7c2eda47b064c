//! Group commit for refresh-token rotation: the writes of many concurrent refresh grants
//! go into one transaction (one commit, one fsync on PostgreSQL), and each request waits
//! until its own writes are committed before it answers.

use crate::service::Db;
use crate::service::store::group_commit::{BatchError, GroupCommit};
use crate::service::store::refresh_claim::ClaimBatcher;
use entity::{refresh_token, session};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{DbBackend, EntityTrait, QueryFilter};
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
}

const MAX_BATCH: usize = 256;

/// Sends rotations to the group-commit writer, and on PostgreSQL claims to theirs.
#[derive(Clone)]
pub struct RefreshBatcher {
    rotations: GroupCommit<Rotation, Outcome>,
    claims: Option<ClaimBatcher>,
}

impl RefreshBatcher {
    /// Starts the writer tasks on `db`.
    pub fn start(db: Db) -> Self {
        let claims =
            (db.reader().get_database_backend() == DbBackend::Postgres).then(|| ClaimBatcher::start(db.clone()));
        Self { rotations: GroupCommit::start(db, MAX_BATCH, write_in_transaction), claims }
    }

    /// PostgreSQL: the writer of the common refresh, read and written in one statement.
    pub fn claims(&self) -> Option<&ClaimBatcher> {
        self.claims.as_ref()
    }

    /// Queues a rotation and waits until it is committed.
    pub async fn rotate(&self, r: Rotation) -> crate::service::Result<Outcome> {
        self.rotations.submit(r).await
    }
}

/// The batch in one transaction, job by job (on PostgreSQL, only what the claims of
/// [`super::refresh_claim`] did not take: retries within the grace window, grants that do not
/// rotate, tokens rotated by a concurrent request).
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
