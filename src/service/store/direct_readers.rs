//! Reads of a SQLite file on the calling thread, like the direct writer's writes: a
//! point read takes SQLite microseconds, and sqlx's hand-off of the statement to a
//! connection thread and of each row back costs more than that (docs/benchmarks.md).
//!
//! A few read-only connections, each behind a lock of its own: a read takes one that is
//! not reading now, so reads on different threads run side by side. They are reached
//! through [`super::connections::ReadConn`], a connection type of sea-orm's trait of its
//! own: a read runs here, on the calling thread, with none of the machinery of sea-orm's
//! connection enum (whose futures are sized for every driver and copied on each call).
//!
//! A read runs on the writer's connection instead when no one holds it at that moment.
//! A connection drops its whole page cache when it finds that another connection wrote
//! since its last read, and on a busy server that is every read of a reader; the writer
//! never finds that of its own commits, so its cache stays warm.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};

use rusqlite::Connection;
use sea_orm::{DbErr, QueryResult, Statement};
use tokio::sync::Mutex;

use super::direct_rows::Reader;
use super::direct_sqlite::DirectSqlite;
use super::direct_statements::results;

/// The read-only connections.
#[derive(Debug)]
pub(in crate::service) struct DirectReaders {
    readers: Vec<std::sync::Mutex<Connection>>,
    next: AtomicUsize,
    statements: Arc<AtomicU64>,
    /// The direct writer's connection, read on when free.
    writer: Option<Arc<Mutex<Connection>>>,
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
            readers.push(std::sync::Mutex::new(conn));
        }
        Ok(Self { readers, next: AtomicUsize::new(0), statements, writer })
    }

    /// Has every reader parse the schema as it is now (after migrations).
    pub(in crate::service) fn warm(&self) -> Result<(), DbErr> {
        for reader in &self.readers {
            let conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
            super::direct_sqlite::warm(&conn).map_err(|e| super::direct_statements::exec_error(&e))?;
        }
        Ok(())
    }

    /// The rows of `stmt`, read on the writer's connection if it is free and `stmt` is a
    /// plain `SELECT`, else on a reader not reading at this moment, else on the next in
    /// turn (the read then waits for the one in progress there). Counted.
    pub(in crate::service) fn query(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        // Only a plain SELECT goes to the writer: anything else fails on a reader, read-only.
        let on_writer = is_select(&stmt.sql);
        self.with_connection(on_writer, |conn| results(conn, stmt, &self.statements))
    }

    /// The rows of `stmt` (a `SELECT`) as `make`'s reader reads them, typed where they are
    /// read (no map of values per row), on a connection chosen as [`Self::query`] chooses
    /// it. Counted.
    pub(in crate::service) fn read<T>(
        &self,
        stmt: Statement,
        make: fn(&rusqlite::Statement<'_>) -> crate::service::Result<Reader<T>>,
    ) -> crate::service::Result<Vec<T>> {
        let on_writer = is_select(&stmt.sql);
        self.with_connection(on_writer, |conn| super::direct_rows::all_counted(conn, stmt, make, &self.statements))
    }

    /// `read` (reads only, `statements` of them, counted) on a connection chosen as
    /// [`Self::query`] chooses it for a `SELECT`: for a few reads bounded by indexes that
    /// belong together (a page's links, then the rows they name).
    pub(in crate::service) fn run<T>(&self, statements: u64, read: impl FnOnce(&Connection) -> T) -> T {
        self.statements.fetch_add(statements, Ordering::Relaxed);
        self.with_connection(true, read)
    }

    fn with_connection<T>(&self, on_writer: bool, read: impl FnOnce(&Connection) -> T) -> T {
        if on_writer
            && let Some(writer) = &self.writer
            && let Ok(conn) = writer.try_lock()
        {
            return read(&conn);
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(conn) = self.readers[(start + i) % n].try_lock() {
                return read(&conn);
            }
        }
        // A panic in a read leaves the connection as sound as after an error.
        let conn = self.readers[start % n].lock().unwrap_or_else(PoisonError::into_inner);
        read(&conn)
    }
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
