//! Group commit for refresh-token rotation: the writes of many concurrent refresh grants
//! go into one transaction (one commit, one fsync on PostgreSQL), and each request waits
//! until its own writes are committed before it answers.

use crate::service::Db;
use crate::service::store::built_once::BuiltOnce;
use crate::service::store::group_commit::{BatchError, GroupCommit};
use crate::service::store::refresh_claim::ClaimBatcher;
use entity::{refresh_token, session};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Statement};
use uuid::Uuid;

/// One grant's writes.
pub struct Rotation {
    /// The grant.
    pub session_id: Uuid,
    /// What to do with the grant's token generation.
    pub write: TokenWrite,
    /// The presented token, if it is one issued before grant tokens: its first use marks it
    /// rotated (with [`TokenWrite::Rotate`]).
    pub legacy_token_id: Option<Uuid>,
    /// Record the last access (at most once a minute per grant).
    pub touch: Option<(i64, Option<String>)>,
    /// Now (UTC micros).
    pub at: i64,
}

/// What a refresh writes to its grant's token generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenWrite {
    /// Move the grant from this generation, its current one when read, to the next. If a
    /// concurrent refresh moved it first, this one is that refresh's retry and is answered
    /// with the generation it moved to.
    Rotate {
        /// The generation read.
        from: i64,
    },
    /// Keep the generation, which must still be this one: the application does not rotate
    /// its tokens, or this is a retry within the grace window.
    Keep {
        /// The generation read.
        at: i64,
    },
}

/// What happened to a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written: the grant's token generation is now this one.
    Done {
        /// The grant's current generation.
        generation: i64,
    },
    /// The grant was revoked meanwhile, or its token was used again by a concurrent request.
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
/// rotate, tokens issued before grant tokens, grants rotated by a concurrent request).
async fn write_in_transaction(db: Db, jobs: Vec<Rotation>) -> Result<Vec<Outcome>, BatchError> {
    let s = BatchError::new;
    let txn = db.transaction().await.map_err(s)?;
    let backend = txn.get_database_backend();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let (sid, at) = (job.session_id, job.at);
        let generation = match job.write {
            TokenWrite::Keep { at: generation } => {
                txn.query_one_raw(live_at(backend, sid, generation)).await.map_err(s)?.map(|_| generation)
            }
            TokenWrite::Rotate { from } => {
                // A legacy token is marked rotated only while it is unrotated and its grant
                // is live; else a concurrent refresh rotated it and moved the grant.
                let marked = match job.legacy_token_id {
                    Some(token) => {
                        txn.execute_raw(mark_rotated(backend, token, sid, at)).await.map_err(s)?.rows_affected() > 0
                    }
                    None => true,
                };
                let moved =
                    marked && txn.execute_raw(rotate(backend, sid, from, at)).await.map_err(s)?.rows_affected() > 0;
                if moved {
                    Some(from + 1)
                } else {
                    // A concurrent refresh moved the grant first: this is its retry, answered
                    // with the generation it moved to, if the grant is still live.
                    txn.query_one_raw(live_at(backend, sid, from + 1)).await.map_err(s)?.map(|_| from + 1)
                }
            }
        };
        let Some(generation) = generation else {
            outcomes.push(Outcome::Refused);
            continue;
        };
        if let Some((t, ip)) = job.touch {
            session::Entity::update_many()
                .col_expr(session::Column::LastAccessedAt, Expr::value(t))
                .col_expr(session::Column::LastAccessedByIp, Expr::value(ip))
                .filter(Expr::col(session::Column::Id).eq(sid))
                .exec(&txn)
                .await
                .map_err(s)?;
        }
        outcomes.push(Outcome::Done { generation });
    }
    db.commit(txn).await.map_err(s)?;
    Ok(outcomes)
}

/// The grant `sid` moves from generation `from` to the next, if it is still at `from` and
/// live.
fn rotate(backend: DbBackend, sid: Uuid, from: i64, at: i64) -> Statement {
    static TEXT: BuiltOnce = BuiltOnce::new();
    let values = vec![(from + 1).into(), at.into(), sid.into(), from.into()];
    TEXT.statement(backend, values, || {
        session::Entity::update_many()
            .col_expr(session::Column::RefreshGeneration, Expr::value(from + 1))
            .col_expr(session::Column::RefreshRotatedAt, Expr::value(at))
            .filter(Expr::col(session::Column::Id).eq(sid))
            .filter(Expr::col(session::Column::RevokedAt).is_null())
            .filter(Expr::col(session::Column::RefreshGeneration).eq(from))
            .build(backend)
    })
}

/// A row if the grant `sid` is live and at `generation`.
fn live_at(backend: DbBackend, sid: Uuid, generation: i64) -> Statement {
    static TEXT: BuiltOnce = BuiltOnce::new();
    TEXT.statement(backend, vec![1.into(), sid.into(), generation.into()], || {
        let q = Query::select()
            .expr(Expr::val(1))
            .from(session::Entity)
            .and_where(Expr::col(session::Column::Id).eq(sid))
            .and_where(Expr::col(session::Column::RevokedAt).is_null())
            .and_where(Expr::col(session::Column::RefreshGeneration).eq(generation))
            .to_owned();
        backend.build(&q)
    })
}

/// The legacy token `token` of the grant `sid` is marked rotated, if it is not yet and the
/// grant is live.
fn mark_rotated(backend: DbBackend, token: Uuid, sid: Uuid, at: i64) -> Statement {
    let live = Query::select()
        .expr(Expr::val(1))
        .from(session::Entity)
        .and_where(Expr::col(session::Column::Id).eq(sid))
        .and_where(Expr::col(session::Column::RevokedAt).is_null())
        .to_owned();
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(at))
        .filter(Expr::col(refresh_token::Column::Id).eq(token))
        .filter(Expr::col(refresh_token::Column::RotatedAt).is_null())
        .filter(Expr::exists(live))
        .build(backend)
}
