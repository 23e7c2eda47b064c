//! The connections reads, single writes and write transactions go through: on a SQLite
//! file the direct connections, run on the calling thread; elsewhere sqlx's pool.
//!
//! Both are sea-orm connections of their own (they implement its `ConnectionTrait`), so
//! every query builder takes them as it takes a pool. The direct ones skip sea-orm's
//! `DatabaseConnection`: its futures are sized for every driver it was built with and were
//! copied whole on each statement, a tenth of a login's request work outside RSA
//! (docs/benchmarks.md).

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use super::direct_readers::DirectReaders;
use super::direct_writer::{DirectSingle, DirectTxn};

/// Where a read outside a write transaction runs.
#[derive(Clone, Debug)]
pub(in crate::service) enum ReadConn {
    /// A SQLite file's direct connections.
    Direct(Arc<DirectReaders>),
    /// sqlx's pool.
    Pool(DatabaseConnection),
}

/// Where single writes outside a transaction run. On a SQLite file it holds the one
/// writer until dropped.
#[derive(Debug)]
pub(in crate::service) enum WriteConn {
    /// The SQLite file's writer.
    Direct(DirectSingle),
    /// sqlx's pool (or its one-connection writer).
    Pool(DatabaseConnection),
}

/// A write transaction, rolled back when dropped uncommitted.
#[derive(Debug)]
pub(in crate::service) enum TxConn {
    /// The SQLite file's writer, in `BEGIN IMMEDIATE`.
    Direct(DirectTxn),
    /// A transaction of sqlx's pool (or of its one-connection writer).
    Pool(DatabaseTransaction),
}

impl TxConn {
    /// Commits. On a pooled connection the `COMMIT` runs on a task of its own, so that it
    /// completes even when the caller is dropped while it waits (a client that hung up):
    /// dropped with it, the transaction would queue a `ROLLBACK` behind the `COMMIT`, which
    /// PostgreSQL answers with a warning that no transaction is in progress.
    pub(in crate::service) async fn commit(self) -> Result<(), DbErr> {
        match self {
            Self::Direct(t) => t.commit(),
            Self::Pool(t) => match tokio::spawn(t.commit()).await {
                Ok(done) => done,
                Err(e) => Err(DbErr::Custom(format!("the commit's task ended without an answer: {e}"))),
            },
        }
    }

    /// In a SQLite file's transaction, the rows of `stmt` typed by `make`'s reader (see
    /// [`super::db::Db::read_typed`]). Elsewhere `stmt` comes back, for the caller to read
    /// through sea-orm.
    pub(in crate::service) fn read_typed<T>(
        &self,
        stmt: Statement,
        make: fn(&rusqlite::Statement<'_>) -> crate::service::Result<super::direct_rows::Reader<T>>,
    ) -> Result<crate::service::Result<Vec<T>>, Statement> {
        match self {
            Self::Direct(t) => Ok(t.read(stmt, make)),
            Self::Pool(_) => Err(stmt),
        }
    }
}

impl ReadConn {
    /// The database's kind (also `ConnectionTrait`'s, here without importing it).
    pub(in crate::service) fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Direct(_) => DbBackend::Sqlite,
            Self::Pool(c) => c.get_database_backend(),
        }
    }
}

fn read_only() -> DbErr {
    DbErr::Custom("a write on a read-only connection: writes go through the writer".into())
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for ReadConn {
    fn get_database_backend(&self) -> DbBackend {
        ReadConn::get_database_backend(self)
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Direct(_) => Err(read_only()),
            Self::Pool(c) => c.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Direct(_) => Err(read_only()),
            Self::Pool(c) => c.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Direct(r) => Ok(r.query(stmt)?.into_iter().next()),
            Self::Pool(c) => c.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Direct(r) => r.query(stmt),
            Self::Pool(c) => c.query_all_raw(stmt).await,
        }
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for WriteConn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Direct(_) => DbBackend::Sqlite,
            Self::Pool(c) => c.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Direct(w) => w.execute(stmt),
            Self::Pool(c) => c.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Direct(w) => w.execute_unprepared(sql),
            Self::Pool(c) => c.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Direct(w) => Ok(w.query(stmt)?.into_iter().next()),
            Self::Pool(c) => c.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Direct(w) => w.query(stmt),
            Self::Pool(c) => c.query_all_raw(stmt).await,
        }
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for TxConn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Direct(_) => DbBackend::Sqlite,
            Self::Pool(t) => t.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Direct(t) => t.execute(stmt),
            Self::Pool(t) => t.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Direct(t) => t.execute_unprepared(sql),
            Self::Pool(t) => t.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Direct(t) => Ok(t.query(stmt)?.into_iter().next()),
            Self::Pool(t) => t.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Direct(t) => t.query(stmt),
            Self::Pool(t) => t.query_all_raw(stmt).await,
        }
    }
}
