//! The connections reads and single writes outside a transaction go through: on a SQLite
//! file the direct connections, run on the calling thread; elsewhere sqlx's pool.
//!
//! Both are sea-orm connections of their own (they implement its `ConnectionTrait`), so
//! every query builder takes them as it takes a pool. The direct ones skip sea-orm's
//! `DatabaseConnection`: its futures are sized for every driver it was built with and were
//! copied whole on each statement, a tenth of a login's request work outside RSA
//! (docs/benchmarks.md).

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement};

use super::direct_readers::DirectReaders;
use super::direct_writer::DirectSingle;

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
