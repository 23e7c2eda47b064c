//! Direct reads of the SQLite file, for bulk reads on a blocking thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every row (every value
//! copied) to the async side over a channel: for a bulk read of millions of rows that
//! hand-off, not SQLite, is most of the cost (docs/benchmarks.md, the export's profile).
//! A [`DirectSqlite`] opens a connection of its own to the same file (read-only by
//! `query_only`, the same WAL snapshot rules as every other reader), for work that runs
//! whole on one blocking thread and reads rows where they are. Statements come from the
//! same sea-query builders as everywhere else; [`bind`] turns their values into SQLite's.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, OpenFlags, Row};
use sea_orm::sea_query::Value;
use uuid::Uuid;

use crate::service::{Error, Result};

/// Where a SQLite database lives, for connections outside sqlx's pool.
#[derive(Clone, Debug)]
pub struct DirectSqlite {
    path: PathBuf,
    cache_kib: u32,
    /// The URL asked for a read-only database (`mode=ro`).
    read_only: bool,
}

impl DirectSqlite {
    /// The file of a `sqlite:` URL as sqlx reads it (`sqlite://path?options`,
    /// `sqlite:path`, the path percent-decoded), or `None` for an in-memory database,
    /// which no second connection can see.
    pub fn from_url(url: &str, cache_kib: u32) -> Option<Self> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
        let path = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
        if path.is_empty() || path == ":memory:" || params.split('&').any(|p| p == "mode=memory") {
            return None;
        }
        let read_only = params.split('&').any(|p| p == "mode=ro");
        Some(Self { path: PathBuf::from(path.as_ref()), cache_kib, read_only })
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the URL asked for a read-only database.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// A new read-only connection (the file must exist), with the pool's page cache size
    /// and busy timeout.
    pub fn open_reader(&self) -> Result<Connection> {
        let mode = if self.read_only { OpenFlags::SQLITE_OPEN_READ_ONLY } else { OpenFlags::SQLITE_OPEN_READ_WRITE };
        let conn = self
            .open(mode, Duration::from_secs(10), "PRAGMA query_only = ON;")
            .map_err(|e| Error::caused("open SQLite", e))?;
        warm(&conn).map_err(|e| Error::caused("open SQLite", e))?;
        Ok(conn)
    }

    /// The read-write connection of the direct writer (the file must exist and be in WAL
    /// mode), waiting up to `busy` for another process's write lock. Its commits never
    /// checkpoint the WAL: [`super::wal_checkpoint`] does, on a thread of its own. A WAL
    /// emptied by a checkpoint is cut back to 64 MiB when it starts over.
    pub fn open_writer(&self, busy: Duration) -> rusqlite::Result<Connection> {
        self.open(
            OpenFlags::SQLITE_OPEN_READ_WRITE,
            busy,
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA journal_size_limit = 67108864;",
        )
    }

    /// A read-write connection that only checkpoints the WAL. It waits at most 20 ms for a
    /// lock: a checkpoint that would wait longer, for a reader or for the writer, does what
    /// it can instead and leaves the rest to the next one.
    pub fn open_checkpointer(&self) -> rusqlite::Result<Connection> {
        self.open(OpenFlags::SQLITE_OPEN_READ_WRITE, Duration::from_millis(20), "")
    }

    fn open(&self, mode: OpenFlags, busy: Duration, pragmas: &str) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(&self.path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(busy)?;
        conn.execute_batch(&format!("{pragmas} PRAGMA cache_size = -{};", self.cache_kib))?;
        // The request path runs a few hundred distinct statements (rusqlite keeps 16).
        conn.set_prepared_statement_cache_capacity(256);
        Ok(conn)
    }
}

/// Has `conn` parse the database's schema if it has not yet, or if it changed since it did.
/// A connection does so before its first statement after a change (about a millisecond
/// here): at start-up and after migrations, not in the first request that reads on it.
pub fn warm(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
}

/// Direct read-only connections kept for reads on the request path: a read runs whole on
/// a blocking thread (one hand-off there and one back, whatever the number of rows).
/// Connections open on first use, up to the pool's size, and stay.
#[derive(Debug)]
pub struct DirectPool {
    direct: DirectSqlite,
    idle: std::sync::Mutex<Vec<Connection>>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl DirectPool {
    /// A pool of at most `size` connections to `direct`'s file.
    pub fn new(direct: DirectSqlite, size: u32) -> Self {
        let size = usize::try_from(size.max(1)).unwrap_or(1);
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(size));
        Self { direct, idle: std::sync::Mutex::new(Vec::new()), permits }
    }

    /// The file the pool's connections read.
    pub fn file(&self) -> &DirectSqlite {
        &self.direct
    }

    /// Runs `read` with an idle connection of the pool (or a new one), then returns it to
    /// the pool. The caller holds a permit.
    fn with_connection<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(c) => c,
            None => self.direct.open_reader()?,
        };
        let out = read(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        out
    }

    /// Runs `read` with a connection of the pool on a blocking thread.
    pub async fn run<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // The permit goes with the blocking task: a caller that stops waiting (a closed
        // request) does not free it before the connection is back in the pool.
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| Error::caused("direct SQLite pool", e))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            pool.with_connection(read)
        })
        .await
        .map_err(|e| Error::internal(format!("a direct SQLite read: {e}")))?
    }
}

/// A sea-query value as SQLite stores it, the way sqlx binds it: booleans and integers as
/// integers, UUIDs as 16-byte blobs, JSON as text.
pub fn bind(value: &Value) -> Result<Sql> {
    fn int<T: TryInto<i64>>(v: Option<T>) -> Result<Sql> {
        match v {
            None => Ok(Sql::Null),
            Some(v) => v.try_into().map(Sql::Integer).map_err(|_| Error::internal("an integer beyond i64 bound")),
        }
    }
    Ok(match value {
        Value::Bool(v) => v.map_or(Sql::Null, |b| Sql::Integer(i64::from(b))),
        Value::TinyInt(v) => int(*v)?,
        Value::SmallInt(v) => int(*v)?,
        Value::Int(v) => int(*v)?,
        Value::BigInt(v) => int(*v)?,
        Value::TinyUnsigned(v) => int(*v)?,
        Value::SmallUnsigned(v) => int(*v)?,
        Value::Unsigned(v) => int(*v)?,
        Value::BigUnsigned(v) => int(*v)?,
        Value::Float(v) => v.map_or(Sql::Null, |f| Sql::Real(f64::from(f))),
        Value::Double(v) => v.map_or(Sql::Null, Sql::Real),
        Value::String(v) => v.clone().map_or(Sql::Null, Sql::Text),
        Value::Char(v) => v.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        Value::Bytes(v) => v.clone().map_or(Sql::Null, Sql::Blob),
        Value::Json(v) => v.as_ref().map_or(Sql::Null, |j| Sql::Text(j.to_string())),
        Value::Uuid(v) => v.map_or(Sql::Null, |u| Sql::Blob(u.as_bytes().to_vec())),
        other => return Err(Error::internal(format!("a value SQLite reads do not bind: {other:?}"))),
    })
}

/// The values of a built statement, bound.
pub fn bind_all(values: Option<&sea_orm::sea_query::Values>) -> Result<Vec<Sql>> {
    values.map_or(Ok(Vec::new()), |v| v.0.iter().map(bind).collect())
}

/// A reading error of the direct connection.
pub fn read_error(e: rusqlite::Error) -> Error {
    Error::caused("SQLite read", e)
}

/// Column `i` of `row` as a UUID (a 16-byte blob).
pub fn uuid(row: &Row<'_>, i: usize) -> Result<Uuid> {
    match row.get_ref(i).map_err(read_error)? {
        ValueRef::Blob(b) => Uuid::from_slice(b).map_err(|e| Error::caused("a UUID column", e)),
        _ => Err(Error::internal(format!("column {i} is not a UUID"))),
    }
}

/// Column `i` of `row` as a JSON document stored as text, or `None` when NULL.
pub fn json(row: &Row<'_>, i: usize) -> Result<Option<serde_json::Value>> {
    match row.get_ref(i).map_err(read_error)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            serde_json::from_slice(t).map(Some).map_err(|e| Error::caused("a JSON column", e))
        }
        _ => Err(Error::internal(format!("column {i} is not JSON"))),
    }
}

/// Column `i` of `row` as `T`.
pub fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, i: usize) -> Result<T> {
    row.get(i).map_err(read_error)
}

/// The index of each named column of a prepared statement, in the order given.
pub fn columns<const N: usize>(stmt: &rusqlite::Statement<'_>, names: [&str; N]) -> Result<[usize; N]> {
    prefixed_columns(stmt, "", names)
}

/// [`columns`] of `names` each with `prefix` before it (the `A_`, `B_` of a select of a
/// model with another), matched as SQLite matches names (ASCII case ignored). Each search
/// starts after the column found last: names listed in the select's order are found in one
/// pass over its columns, not one pass per name.
pub fn prefixed_columns<const N: usize>(
    stmt: &rusqlite::Statement<'_>,
    prefix: &str,
    names: [&str; N],
) -> Result<[usize; N]> {
    let all: Vec<&str> = stmt.column_names();
    let is = |column: &str, name: &str| {
        column.len() == prefix.len() + name.len()
            && column.is_char_boundary(prefix.len())
            && column[..prefix.len()].eq_ignore_ascii_case(prefix)
            && column[prefix.len()..].eq_ignore_ascii_case(name)
    };
    let mut out = [0; N];
    let mut next = 0;
    for (slot, name) in out.iter_mut().zip(names) {
        let found = (next..all.len()).chain(0..next).find(|&i| all.get(i).is_some_and(|c| is(c, name)));
        let Some(i) = found else {
            return Err(read_error(rusqlite::Error::InvalidColumnName(format!("{prefix}{name}"))));
        };
        *slot = i;
        next = i + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_order_and_case() {
        let conn = Connection::open_in_memory().unwrap();
        let stmt = conn.prepare("SELECT 1 AS A_id, 2 AS A_name, 3 AS B_id, 4 AS b_Name").unwrap();
        assert_eq!(prefixed_columns(&stmt, "B_", ["id", "name"]).unwrap(), [2, 3]);
        assert_eq!(prefixed_columns(&stmt, "a_", ["NAME", "id"]).unwrap(), [1, 0]);
        assert_eq!(columns(&stmt, ["B_id", "A_id", "b_name"]).unwrap(), [2, 0, 3]);
        assert!(columns(&stmt, ["missing"]).is_err());
        assert!(prefixed_columns(&stmt, "C_", ["id"]).is_err());
    }

    #[test]
    fn the_file_of_each_url_form() {
        let f = |u| DirectSqlite::from_url(u, 2048).map(|d| d.path);
        assert_eq!(f("sqlite:///tmp/a.db?mode=rwc"), Some(PathBuf::from("/tmp/a.db")));
        assert_eq!(f("sqlite://data/a.db"), Some(PathBuf::from("data/a.db")));
        assert_eq!(f("sqlite:a.db"), Some(PathBuf::from("a.db")));
        assert_eq!(f("sqlite:///tmp/my%20data/a%3Fb.db?mode=rwc"), Some(PathBuf::from("/tmp/my data/a?b.db")));
        assert_eq!(f("sqlite::memory:"), None);
        assert_eq!(f("sqlite://file?mode=memory"), None);
        assert_eq!(f("postgres://x/y"), None);
    }

    #[test]
    fn values_bind_as_sqlx_binds_them() {
        let id = Uuid::now_v7();
        assert_eq!(bind(&Value::Uuid(Some(id))).ok(), Some(Sql::Blob(id.as_bytes().to_vec())));
        assert_eq!(bind(&Value::Bool(Some(true))).ok(), Some(Sql::Integer(1)));
        assert_eq!(bind(&Value::BigInt(None)).ok(), Some(Sql::Null));
        assert_eq!(bind(&Value::String(Some("a".into()))).ok(), Some(Sql::Text("a".into())));
        assert!(bind(&Value::BigUnsigned(Some(u64::MAX))).is_err());
    }
}
