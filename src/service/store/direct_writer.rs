//! Writes to a SQLite file on the calling thread, not on sqlx's connection thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement and
//! every row across threads: two to three context switches per statement, the largest cost
//! of a sign-in after the signatures (docs/benchmarks.md). SQLite itself takes a few
//! microseconds for the statements of a sign-in. The direct writer is one read-write
//! connection behind an async mutex: a write transaction takes the mutex, and each of its
//! statements then runs at once where it is called.
//!
//! It plugs into sea-orm through the mock driver's trait ([`MockDatabaseTrait`]): a
//! transaction is an ordinary `DatabaseTransaction` over a connection whose "mock" runs the
//! statement on the real file and hands sea-orm the rows (typed by [`column_kinds`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use sea_orm::{
    DatabaseConnection, DatabaseConnectionType, DatabaseTransaction, DbBackend, DbErr, ExecResult, MockDatabase,
    MockDatabaseConnection, MockDatabaseTrait, MockExecResult, QueryResult, RuntimeErr, SqlErr, Statement,
    TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::column_kinds;
use super::direct_sqlite::{DirectSqlite, bind_all};

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
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(file.path(), flags).map_err(|e| exec_error(&e))?;
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{};",
            file.cache_kib()
        ))
        .map_err(|e| exec_error(&e))?;
        conn.busy_timeout(BUSY_WAIT).map_err(|e| exec_error(&e))?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Self { conn: Arc::new(Mutex::new(conn)), statements, acquire_wait: ACQUIRE_WAIT })
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`): waits for the writer, then for the
    /// file's write lock, without blocking the thread while another process holds it.
    pub(in crate::service) async fn transaction(&self) -> Result<DatabaseTransaction, DbErr> {
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
        let conn = connection(Direct {
            conn: Some(guard),
            in_transaction: true,
            depth: 0,
            statements: self.statements.clone(),
        });
        conn.begin().await
    }

    /// A connection for single statements outside a transaction: it holds the writer
    /// until dropped, so keep it for one statement (or a few that belong together).
    pub(in crate::service) async fn single(&self) -> Result<DatabaseConnection, DbErr> {
        let guard = self.take().await?;
        Ok(connection(Direct {
            conn: Some(guard),
            in_transaction: false,
            depth: 0,
            statements: self.statements.clone(),
        }))
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

fn connection(direct: Direct) -> DatabaseConnection {
    DatabaseConnectionType::MockDatabaseConnection(Arc::new(MockDatabaseConnection::new(direct))).into()
}

/// Counts a statement as sqlx's metric callback does for the pooled connections (the
/// change-generation bookkeeping is left out of the count there too).
fn count(statements: &AtomicU64, sql: &str, elapsed: Duration) {
    if !sql.contains("change_generations") {
        statements.fetch_add(1, Ordering::Relaxed);
    }
    tracing::trace!(target: "authgraph::sql", elapsed_us = elapsed.as_micros() as u64, sql = %sql);
}

/// The writer, lent to one transaction or one run of single statements.
struct Direct {
    /// `None` once the transaction has ended.
    conn: Option<OwnedMutexGuard<Connection>>,
    in_transaction: bool,
    depth: u32,
    statements: Arc<AtomicU64>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct").field("open", &self.conn.is_some()).field("depth", &self.depth).finish()
    }
}

impl Direct {
    fn conn(&self) -> Result<&Connection, DbErr> {
        if self.depth > 1 {
            return Err(DbErr::Custom("nested transactions are not supported by the SQLite writer".into()));
        }
        self.conn.as_deref().ok_or_else(|| DbErr::Custom("the write transaction has ended".into()))
    }

    /// Ends the transaction with `sql` (`COMMIT` or `ROLLBACK`) and gives the writer back.
    fn end(&mut self, sql: &str) -> Result<(), rusqlite::Error> {
        let Some(conn) = self.conn.take() else { return Ok(()) };
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

impl Drop for Direct {
    fn drop(&mut self) {
        if self.in_transaction && self.conn.is_some() {
            let _ = self.end("ROLLBACK");
        }
    }
}

impl MockDatabaseTrait for Direct {
    fn execute(&mut self, _counter: usize, stmt: Statement) -> Result<ExecResult, DbErr> {
        if self.in_transaction && stmt.sql == "COMMIT" {
            self.end("COMMIT").map_err(|e| exec_error(&e))?;
            return exec_result(stmt, 0, 0);
        }
        let started = Instant::now();
        let conn = self.conn()?;
        let (changed, last_id) = execute(conn, &stmt).map_err(|e| exec_error(&e))?;
        count(&self.statements, &stmt.sql, started.elapsed());
        exec_result(stmt, last_id, changed)
    }

    fn query(&mut self, _counter: usize, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let conn = self.conn()?;
        results(conn, stmt, &self.statements)
    }

    fn begin(&mut self) {
        self.depth += 1;
    }

    fn commit(&mut self) {
        if self.depth == 1
            && let Err(e) = self.end("COMMIT")
        {
            // Reached only by a commit that did not go through `Db::commit` first.
            tracing::error!(error = %e, "committing a SQLite write failed; it was rolled back");
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn rollback(&mut self) {
        if self.depth <= 1 {
            let _ = self.end("ROLLBACK");
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn drain_transaction_log(&mut self) -> Vec<sea_orm::Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn ping(&self) -> Result<(), DbErr> {
        Ok(())
    }
}

/// The rows of `stmt` on `conn`, as sea-orm's query results; counted.
pub(super) fn results(conn: &Connection, stmt: Statement, statements: &AtomicU64) -> Result<Vec<QueryResult>, DbErr> {
    let started = Instant::now();
    let rows = query(conn, &stmt).map_err(|e| match e {
        Failure::Sqlite(e) => {
            tracing::debug!(target: "authgraph::sql", error = %e, sql = %stmt.sql, "a direct read failed");
            query_error(&e)
        }
        Failure::Decode(m) => DbErr::Type(m),
    })?;
    count(statements, &stmt.sql, started.elapsed());
    MockDatabase::new(DbBackend::Sqlite).append_query_results([rows]).query(0, stmt)
}

fn exec_result(stmt: Statement, last_insert_id: u64, rows_affected: u64) -> Result<ExecResult, DbErr> {
    MockDatabase::new(DbBackend::Sqlite)
        .append_exec_results([MockExecResult { last_insert_id, rows_affected }])
        .execute(0, stmt)
}

/// Runs a statement that returns no rows (or whose rows nobody reads); returns the rows it
/// changed and the last inserted rowid.
fn execute(conn: &Connection, stmt: &Statement) -> Result<(u64, u64), rusqlite::Error> {
    match &stmt.values {
        None => conn.execute_batch(&stmt.sql)?,
        Some(_) => {
            let mut s = conn.prepare_cached(&stmt.sql)?;
            bind(&mut s, stmt)?;
            let mut rows = s.raw_query();
            while rows.next()?.is_some() {}
        }
    }
    Ok((conn.changes(), u64::try_from(conn.last_insert_rowid()).unwrap_or(0)))
}

enum Failure {
    Sqlite(rusqlite::Error),
    Decode(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// The rows of a query, each column a value of the kind its field decodes.
fn query(conn: &Connection, stmt: &Statement) -> Result<Vec<BTreeMap<String, sea_orm::Value>>, Failure> {
    let mut s = conn.prepare_cached(&stmt.sql)?;
    bind(&mut s, stmt)?;
    let decl: Vec<Option<String>> = s.columns().iter().map(|c| c.decl_type().map(str::to_owned)).collect();
    let columns: Vec<(String, Option<column_kinds::Kind>)> = s
        .columns_with_metadata()
        .iter()
        .zip(&decl)
        .map(|(c, d)| (c.name().to_owned(), column_kinds::of(c.table_name(), c.origin_name(), d.as_deref())))
        .collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = columns.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(Failure::Decode(format!("two result columns are named {dup}: alias one")));
    }
    // sea-orm reads a model's fields by name and a tuple's by position, the position
    // counted in the row's map, which is sorted by key. So each value is also kept under a
    // key made of its position, which sorts before every column name.
    let positions: Vec<String> = (0..columns.len()).map(|i| format!("\u{1}{i:05}")).collect();
    let mut out = Vec::new();
    let mut rows = s.raw_query();
    while let Some(row) = rows.next()? {
        let mut values = BTreeMap::new();
        for (i, (name, kind)) in columns.iter().enumerate() {
            let v = column_kinds::value(*kind, row.get_ref(i)?).map_err(|m| Failure::Decode(format!("{name}: {m}")))?;
            values.insert(positions[i].clone(), v.clone());
            values.insert(name.clone(), v);
        }
        out.push(values);
    }
    Ok(out)
}

fn bind(s: &mut rusqlite::CachedStatement<'_>, stmt: &Statement) -> Result<(), rusqlite::Error> {
    let values = bind_all(stmt.values.as_ref()).map_err(|e| {
        rusqlite::Error::ToSqlConversionFailure(Box::<dyn std::error::Error + Send + Sync>::from(e.describe()))
    })?;
    for (i, v) in values.iter().enumerate() {
        s.raw_bind_parameter(i + 1, v)?;
    }
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// The prefix of a direct writer's error: SQLite's extended result code follows it.
const CODE_PREFIX: &str = "SQLite error ";

fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, m) => {
            format!("{CODE_PREFIX}{}: {}", f.extended_code, m.clone().unwrap_or_else(|| f.to_string()))
        }
        other => other.to_string(),
    }
}

fn exec_error(e: &rusqlite::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::Internal(message(e)))
}

fn query_error(e: &rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(message(e)))
}

/// The constraint a failed write violated, from sqlx's error or the direct writer's.
pub(in crate::service) fn sql_err(e: &DbErr) -> Option<SqlErr> {
    if let Some(found) = e.sql_err() {
        return Some(found);
    }
    let (DbErr::Exec(RuntimeErr::Internal(m)) | DbErr::Query(RuntimeErr::Internal(m))) = e else { return None };
    let rest = m.strip_prefix(CODE_PREFIX)?;
    let (code, text) = rest.split_once(": ")?;
    match code {
        // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
        "1555" | "2067" => Some(SqlErr::UniqueConstraintViolation(text.to_owned())),
        // SQLITE_CONSTRAINT_FOREIGNKEY
        "787" => Some(SqlErr::ForeignKeyConstraintViolation(text.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

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
        let c = w.single().await.expect("writer");
        let rows = c.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT k FROM t ORDER BY k")).await;
        rows.expect("rows").iter().map(|r| r.try_get::<String>("", "k").expect("k")).collect()
    }

    #[tokio::test]
    async fn commit_keeps_drop_undoes_and_a_duplicate_is_a_unique_violation() {
        let (_dir, w) = writer().await;
        let txn = w.transaction().await.expect("begin");
        txn.execute_raw(insert("a")).await.expect("insert");
        txn.execute_unprepared("COMMIT").await.expect("commit");
        txn.commit().await.expect("sea-orm's commit after ours");

        let txn = w.transaction().await.expect("begin");
        txn.execute_raw(insert("b")).await.expect("insert");
        drop(txn);
        assert_eq!(keys(&w).await, ["a"], "a dropped transaction leaves nothing");

        let txn = w.transaction().await.expect("begin");
        let e = txn.execute_raw(insert("a")).await.expect_err("duplicate");
        assert!(matches!(sql_err(&e), Some(SqlErr::UniqueConstraintViolation(_))), "{e}");
        drop(txn);

        // A boolean column reads as a boolean, an integer key as i64.
        let c = w.single().await.expect("writer");
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
        let c = w.single().await.expect("writer");
        c.execute_raw(insert("a")).await.expect("insert");
        let row = c.query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT k, id FROM t")).await;
        let row = row.expect("query").expect("one row");
        assert_eq!(row.try_get_by_index::<String>(0).expect("k first"), "a");
        assert_eq!(row.try_get_by_index::<i64>(1).expect("id second"), 1);
    }

    #[tokio::test]
    async fn two_result_columns_of_one_name_are_refused() {
        let (_dir, w) = writer().await;
        let c = w.single().await.expect("writer");
        let e = c.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT k, k FROM t")).await;
        assert!(e.expect_err("duplicate names").to_string().contains("alias one"));
    }
}
