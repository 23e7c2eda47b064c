//! Writes to a SQLite file on the calling thread, not on sqlx's connection thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement and
//! every row across threads: two to three context switches per statement, the largest cost
//! of a sign-in after the signatures (docs/benchmarks.md). SQLite itself takes a few
//! microseconds for the statements of a sign-in. The direct writer is one read-write
//! connection behind an async mutex: a write transaction takes the mutex, and each of its
//! statements then runs at once where it is called.
//!
//! Its transactions ([`DirectTxn`]) and single writes ([`DirectSingle`]) are reached through
//! connection types of sea-orm's trait of our own ([`super::connections`]): each statement
//! runs on the file and hands sea-orm the rows (see [`super::direct_statements`]).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sea_orm::{DbErr, ExecResult, QueryResult, Statement};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::direct_sqlite::DirectSqlite;
use super::direct_statements::{count, exec_error, executed, is_busy, results};

/// How long a write waits for another process's write lock on the file.
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// How long a write waits for the writer (sqlx's pool waits as long for a connection).
const ACQUIRE_WAIT: Duration = Duration::from_secs(30);

/// The one read-write connection of a SQLite file, for write transactions and single
/// writes.
#[derive(Debug)]
pub(in crate::service) struct DirectWriter {
    conn: Arc<Mutex<Connection>>,
    statements: Arc<AtomicU64>,
    acquire_wait: Duration,
}

impl DirectWriter {
    /// Opens the writer of `file` (already in WAL mode), counting its statements in
    /// `statements`.
    pub(in crate::service) fn open(file: &DirectSqlite, statements: Arc<AtomicU64>) -> Result<Self, DbErr> {
        let conn = file.open_writer(BUSY_WAIT).map_err(|e| exec_error(&e))?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), statements, acquire_wait: ACQUIRE_WAIT })
    }

    /// The writer's connection, for [`super::direct_readers`] to read on while no one
    /// writes (its page cache stays valid across its own commits).
    pub(in crate::service) fn shared(&self) -> Arc<Mutex<Connection>> {
        self.conn.clone()
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`): waits for the writer, then for the
    /// file's write lock, without blocking the thread while another process holds it.
    pub(in crate::service) async fn transaction(&self) -> Result<DirectTxn, DbErr> {
        let guard = self.take().await?;
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            guard.busy_timeout(Duration::ZERO).map_err(|e| exec_error(&e))?;
            let began = guard.execute_batch("BEGIN IMMEDIATE");
            guard.busy_timeout(BUSY_WAIT).map_err(|e| exec_error(&e))?;
            match began {
                Ok(()) => break,
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => return Err(exec_error(&e)),
            }
        }
        self.count("BEGIN IMMEDIATE");
        Ok(DirectTxn { conn: std::sync::Mutex::new(Some(guard)), statements: self.statements.clone() })
    }

    /// A connection for single statements outside a transaction: it holds the writer
    /// until dropped, so keep it for one statement (or a few that belong together).
    pub(in crate::service) async fn single(&self) -> Result<DirectSingle, DbErr> {
        let guard = self.take().await?;
        Ok(DirectSingle { conn: std::sync::Mutex::new(guard), statements: self.statements.clone() })
    }

    /// The writer, once the transaction or single write that holds it is done; an error
    /// after as long as sqlx's pool waits for a connection (a caller that asks for the
    /// writer while it holds it would otherwise wait forever).
    async fn take(&self) -> Result<OwnedMutexGuard<Connection>, DbErr> {
        tokio::time::timeout(self.acquire_wait, self.conn.clone().lock_owned())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout))
    }

    fn count(&self, sql: &str) {
        count(&self.statements, sql, Duration::ZERO);
    }
}

/// The writer, lent to a run of single statements outside a transaction (each one commits
/// by itself); reached through [`super::connections::WriteConn`].
#[derive(Debug)]
pub(in crate::service) struct DirectSingle {
    /// Locked only to run a statement: sea-orm's connections must be shareable between
    /// threads, and a SQLite connection is not.
    conn: std::sync::Mutex<OwnedMutexGuard<Connection>>,
    statements: Arc<AtomicU64>,
}

impl DirectSingle {
    /// Runs `stmt`, its rows unread.
    pub(in crate::service) fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        executed(&conn, stmt, &self.statements)
    }

    /// Runs `sql`, statements without values.
    pub(in crate::service) fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
    }

    /// The rows of `stmt`.
    pub(in crate::service) fn query(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        results(&conn, stmt, &self.statements)
    }
}

/// The writer, lent to one write transaction until it commits or is dropped (which rolls
/// it back); reached through [`super::connections::TxConn`].
#[derive(Debug)]
pub(in crate::service) struct DirectTxn {
    /// `None` once the transaction has ended. Locked only to run a statement, as in
    /// [`DirectSingle`].
    conn: std::sync::Mutex<Option<OwnedMutexGuard<Connection>>>,
    statements: Arc<AtomicU64>,
}

impl DirectTxn {
    fn with<T>(&self, run: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        run(conn.as_deref().ok_or_else(|| DbErr::Custom("the write transaction has ended".into()))?)
    }

    /// Runs `stmt`, its rows unread.
    pub(in crate::service) fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.with(|conn| executed(conn, stmt, &self.statements))
    }

    /// Runs `sql`, statements without values. A `COMMIT` or `ROLLBACK` here would end the
    /// transaction behind its owner's back: commit with [`Self::commit`], roll back by
    /// dropping.
    pub(in crate::service) fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let word = sql.trim().trim_end_matches(';').to_ascii_uppercase();
        if ["COMMIT", "ROLLBACK", "END"].contains(&word.as_str()) {
            return Err(DbErr::Custom(format!("{word} inside a unit of work: it ends when the unit of work does")));
        }
        self.execute(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
    }

    /// The rows of `stmt`.
    pub(in crate::service) fn query(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.with(|conn| results(conn, stmt, &self.statements))
    }

    /// The rows of `stmt` (a `SELECT`, or a write with `RETURNING`) as `make`'s reader
    /// reads them, typed where they are read (no map of values per row).
    pub(in crate::service) fn read<T>(
        &self,
        stmt: Statement,
        make: fn(&rusqlite::Statement<'_>) -> crate::service::Result<super::direct_rows::Reader<T>>,
    ) -> crate::service::Result<Vec<T>> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(conn) = conn.as_deref() else {
            return Err(crate::service::Error::internal("a read in a write transaction that has ended"));
        };
        super::direct_rows::all_counted(conn, stmt, make, &self.statements)
    }

    /// Commits, and gives the writer back. A commit that fails is rolled back.
    pub(in crate::service) fn commit(self) -> Result<(), DbErr> {
        self.end("COMMIT").map_err(|e| exec_error(&e))
    }

    /// Ends the transaction with `sql` (`COMMIT` or `ROLLBACK`) and gives the writer back.
    fn end(&self, sql: &str) -> Result<(), rusqlite::Error> {
        let taken = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let Some(conn) = taken else { return Ok(()) };
        let ended = conn.execute_batch(sql);
        if !conn.is_autocommit() {
            // A COMMIT that failed can leave the transaction open: undo it before the
            // writer goes back, so that the next transaction starts clean.
            let _ = conn.execute_batch("ROLLBACK");
        }
        count(&self.statements, sql, Duration::ZERO);
        ended
    }
}

impl Drop for DirectTxn {
    fn drop(&mut self) {
        let _ = self.end("ROLLBACK");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::store::connections::TxConn;
    use crate::service::store::direct_statements::sql_err;
    use sea_orm::{ConnectionTrait, DbBackend, SqlErr, Statement};

    async fn writer() -> (tempfile::TempDir, DirectWriter) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let c = Connection::open(&path).expect("create");
        c.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (id integer PRIMARY KEY, k text NOT NULL UNIQUE, b boolean)",
        )
        .expect("schema");
        let url = format!("sqlite://{}", path.display());
        let file = DirectSqlite::from_url(&url, 256).expect("file");
        (dir, DirectWriter::open(&file, Arc::new(AtomicU64::new(0))).expect("writer"))
    }

    fn insert(k: &str) -> Statement {
        Statement::from_sql_and_values(DbBackend::Sqlite, "INSERT INTO t (k, b) VALUES (?, ?)", [k.into(), true.into()])
    }

    async fn keys(w: &DirectWriter) -> Vec<String> {
        let c = super::super::connections::WriteConn::Direct(w.single().await.expect("writer"));
        let rows = c.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT k FROM t ORDER BY k")).await;
        rows.expect("rows").iter().map(|r| r.try_get::<String>("", "k").expect("k")).collect()
    }

    #[tokio::test]
    async fn commit_keeps_drop_undoes_and_a_duplicate_is_a_unique_violation() {
        let (_dir, w) = writer().await;
        let txn = TxConn::Direct(w.transaction().await.expect("begin"));
        txn.execute_raw(insert("a")).await.expect("insert");
        txn.execute_unprepared("COMMIT").await.expect_err("a COMMIT statement is refused");
        txn.commit().await.expect("commit");

        let txn = TxConn::Direct(w.transaction().await.expect("begin"));
        txn.execute_raw(insert("b")).await.expect("insert");
        drop(txn);
        assert_eq!(keys(&w).await, ["a"], "a dropped transaction leaves nothing");

        let txn = TxConn::Direct(w.transaction().await.expect("begin"));
        let e = txn.execute_raw(insert("a")).await.expect_err("duplicate");
        assert!(matches!(sql_err(&e), Some(SqlErr::UniqueConstraintViolation(_))), "{e}");
        drop(txn);

        // A boolean column reads as a boolean, an integer key as i64.
        let c = super::super::connections::WriteConn::Direct(w.single().await.expect("writer"));
        let row = c.query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT id, b FROM t")).await;
        let row = row.expect("query").expect("one row");
        assert!(row.try_get::<bool>("", "b").expect("b"));
        assert_eq!(row.try_get::<i64>("", "id").expect("id"), 1);
    }

    #[tokio::test]
    async fn a_writer_asked_for_while_held_errs_after_the_wait_instead_of_hanging() {
        let (_dir, mut w) = writer().await;
        w.acquire_wait = Duration::from_millis(50);
        let held = w.single().await.expect("writer");
        let e = w.single().await.expect_err("held");
        assert!(matches!(e, DbErr::ConnectionAcquire(_)), "{e}");
        drop(held);
        w.single().await.expect("free again");
    }

    #[tokio::test]
    async fn columns_read_by_position_come_in_select_order() {
        let (_dir, w) = writer().await;
        let c = super::super::connections::WriteConn::Direct(w.single().await.expect("writer"));
        c.execute_raw(insert("a")).await.expect("insert");
        let row = c.query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT k, id FROM t")).await;
        let row = row.expect("query").expect("one row");
        assert_eq!(row.try_get_by_index::<String>(0).expect("k first"), "a");
        assert_eq!(row.try_get_by_index::<i64>(1).expect("id second"), 1);
    }

    #[tokio::test]
    async fn two_result_columns_of_one_name_are_refused() {
        let (_dir, w) = writer().await;
        let c = super::super::connections::WriteConn::Direct(w.single().await.expect("writer"));
        let e = c.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT k, k FROM t")).await;
        assert!(e.expect_err("duplicate names").to_string().contains("alias one"));
    }
}
