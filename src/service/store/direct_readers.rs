//! Reads of a SQLite file on the calling thread, like the direct writer's writes: a
//! point read takes SQLite microseconds, and sqlx's hand-off of the statement to a
//! connection thread and of each row back costs more than that (docs/benchmarks.md).
//!
//! A few read-only connections, each behind a sea-orm connection of its own (sea-orm runs
//! one statement at a time per connection): [`DirectReaders::get`] hands out one that is
//! not reading now, so reads on different threads run side by side.
//!
//! A read runs on the writer's connection instead when no one holds it at that moment.
//! A connection drops its whole page cache when it finds that another connection wrote
//! since its last read, and on a busy server that is every read of a reader; the writer
//! never finds that of its own commits, so its cache stays warm.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use rusqlite::Connection;
use sea_orm::{
    DatabaseConnection, DatabaseConnectionType, DbErr, ExecResult, MockDatabaseConnection, MockDatabaseTrait,
    QueryResult, Statement,
};
use tokio::sync::Mutex;

use super::direct_sqlite::DirectSqlite;
use super::direct_statements::{results, sqlite_mock_common};

/// The read-only connections.
#[derive(Debug)]
pub(in crate::service) struct DirectReaders {
    readers: Vec<(DatabaseConnection, Arc<AtomicBool>)>,
    next: AtomicUsize,
}

impl DirectReaders {
    /// Opens `n` (at least 1) read-only connections to `file`; reads also run on
    /// `writer` (the direct writer's connection) whenever it is free.
    pub(in crate::service) fn open(
        file: &DirectSqlite,
        n: u32,
        statements: Arc<AtomicU64>,
        writer: Option<Arc<Mutex<Connection>>>,
    ) -> Result<Self, DbErr> {
        let mut readers = Vec::new();
        for _ in 0..n.max(1) {
            let conn = file.open_reader().map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(e.describe())))?;
            let busy = Arc::new(AtomicBool::new(false));
            let reader = Reader { conn, busy: busy.clone(), statements: statements.clone(), writer: writer.clone() };
            let db: DatabaseConnection =
                DatabaseConnectionType::MockDatabaseConnection(Arc::new(MockDatabaseConnection::new(reader))).into();
            readers.push((db, busy));
        }
        Ok(Self { readers, next: AtomicUsize::new(0) })
    }

    /// A connection to read with: one not reading at this moment if there is one, else the
    /// next in turn (its read then waits for the one in progress).
    pub(in crate::service) fn get(&self) -> DatabaseConnection {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        let free = (0..n).map(|i| &self.readers[(start + i) % n]).find(|(_, busy)| !busy.load(Ordering::Relaxed));
        free.unwrap_or(&self.readers[start % n]).0.clone()
    }
}

/// One read-only connection, as sea-orm's "mock".
struct Reader {
    conn: Connection,
    busy: Arc<AtomicBool>,
    statements: Arc<AtomicU64>,
    /// The direct writer's connection, read on when free.
    writer: Option<Arc<Mutex<Connection>>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("busy", &self.busy.load(Ordering::Relaxed)).finish()
    }
}

impl MockDatabaseTrait for Reader {
    fn execute(&mut self, _counter: usize, _stmt: Statement) -> Result<ExecResult, DbErr> {
        Err(DbErr::Custom("a write on a read-only connection: writes go through the writer".into()))
    }

    fn query(&mut self, _counter: usize, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        // Only a plain SELECT goes to the writer: anything else fails here, read-only.
        if let Some(writer) = &self.writer
            && is_select(&stmt.sql)
            && let Ok(conn) = writer.try_lock()
        {
            return results(&conn, stmt, &self.statements);
        }
        self.busy.store(true, Ordering::Relaxed);
        let out = results(&self.conn, stmt, &self.statements);
        self.busy.store(false, Ordering::Relaxed);
        out
    }

    fn begin(&mut self) {}

    fn commit(&mut self) {}

    fn rollback(&mut self) {}

    sqlite_mock_common!();
}

/// Whether `sql` is a plain `SELECT` (no `WITH`, which may wrap a write).
fn is_select(sql: &str) -> bool {
    sql.trim_start().get(..7).is_some_and(|head| head.eq_ignore_ascii_case("select "))
}

#[cfg(test)]
mod tests {
    use super::is_select;

    #[test]
    fn only_a_plain_select_may_run_on_the_writer() {
        assert!(is_select("SELECT \"users\".\"id\" FROM \"users\""));
        assert!(is_select("  select 1"));
        assert!(!is_select("WITH x AS (SELECT 1) DELETE FROM users"));
        assert!(!is_select("INSERT INTO users DEFAULT VALUES RETURNING id"));
        assert!(!is_select("UPDATE users SET name = 'x' RETURNING *"));
        assert!(!is_select("SELECTED"));
        assert!(!is_select(""));
    }
}
