//! Running sea-query statements on a direct SQLite connection, for the direct writer and
//! the direct readers: binding values as sqlx binds them, turning rows into sea-orm's query
//! results (each value typed by [`column_kinds`]), counting statements as the sqlx pools
//! count theirs, and SQLite's errors as sea-orm's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sea_orm::{
    DbBackend, DbErr, ExecResult, MockDatabase, MockDatabaseTrait, MockExecResult, QueryResult, RuntimeErr, SqlErr,
    Statement,
};

use super::column_kinds;
use super::direct_sqlite::bind_all;

/// Counts a statement as sqlx's metric callback does for the pooled connections (the
/// change-generation bookkeeping is left out of the count there too).
pub(super) fn count(statements: &AtomicU64, sql: &str, elapsed: Duration) {
    if !sql.contains("change_generations") {
        statements.fetch_add(1, Ordering::Relaxed);
    }
    tracing::trace!(target: "authgraph::sql", elapsed_us = elapsed.as_micros() as u64, sql = %sql);
}

/// The rows of `stmt` on `conn`, as sea-orm's query results; counted.
pub(super) fn results(conn: &Connection, stmt: Statement, statements: &AtomicU64) -> Result<Vec<QueryResult>, DbErr> {
    let started = Instant::now();
    let rows = query(conn, &stmt).map_err(|e| match e {
        Failure::Sqlite(e) => {
            tracing::debug!(target: "authgraph::sql", error = %e, sql = %stmt.sql, "a direct read failed");
            query_error(&e)
        }
        Failure::Value(m) => DbErr::Type(m),
    })?;
    count(statements, &stmt.sql, started.elapsed());
    MockDatabase::new(DbBackend::Sqlite).append_query_results([rows]).query(0, stmt)
}

/// Runs `stmt` on `conn` (its rows, if any, unread); counted.
pub(super) fn executed(conn: &Connection, stmt: Statement, statements: &AtomicU64) -> Result<ExecResult, DbErr> {
    let started = Instant::now();
    let (changed, last_id) = execute(conn, &stmt).map_err(|e| match e {
        Failure::Sqlite(e) => exec_error(&e),
        Failure::Value(m) => DbErr::Type(m),
    })?;
    count(statements, &stmt.sql, started.elapsed());
    exec_result(stmt, last_id, changed)
}

/// sea-orm's result of a statement that changed `rows_affected` rows.
pub(super) fn exec_result(stmt: Statement, last_insert_id: u64, rows_affected: u64) -> Result<ExecResult, DbErr> {
    MockDatabase::new(DbBackend::Sqlite)
        .append_exec_results([MockExecResult { last_insert_id, rows_affected }])
        .execute(0, stmt)
}

enum Failure {
    Sqlite(rusqlite::Error),
    Value(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

fn params(stmt: &Statement) -> Result<rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>>, Failure> {
    let values = bind_all(stmt.values.as_ref()).map_err(|e| Failure::Value(e.describe()))?;
    Ok(rusqlite::params_from_iter(values))
}

/// Runs a statement whose rows nobody reads; returns the rows it changed and the last
/// inserted rowid.
fn execute(conn: &Connection, stmt: &Statement) -> Result<(u64, u64), Failure> {
    match &stmt.values {
        None => conn.execute_batch(&stmt.sql)?,
        Some(_) => {
            let mut s = conn.prepare_cached(&stmt.sql)?;
            let mut rows = s.query(params(stmt)?)?;
            while rows.next()?.is_some() {}
        }
    }
    Ok((conn.changes(), u64::try_from(conn.last_insert_rowid()).unwrap_or(0)))
}

/// The rows of a query, each column a value of the kind its field decodes.
fn query(conn: &Connection, stmt: &Statement) -> Result<Vec<BTreeMap<String, sea_orm::Value>>, Failure> {
    let mut s = conn.prepare_cached(&stmt.sql)?;
    let columns = columns(&s, &stmt.sql)?;
    let mut out = Vec::new();
    let mut rows = s.query(params(stmt)?)?;
    let mut read: Vec<Option<sea_orm::Value>> = Vec::with_capacity(columns.named.len());
    while let Some(row) = rows.next()? {
        read.clear();
        for (i, (name, kind)) in columns.named.iter().enumerate() {
            let v = column_kinds::value(*kind, row.get_ref(i)?).map_err(|m| Failure::Value(format!("{name}: {m}")))?;
            read.push(Some(v));
        }
        // The keys in their map's order: the map is then built in one pass, not by a
        // search per key.
        let mut pairs = Vec::with_capacity(columns.order.len());
        for &(key, column, last) in &columns.order {
            let slot = &mut read[column];
            let v = if last { slot.take() } else { slot.clone() };
            let key = match key {
                Key::Position => columns.positions[column].clone(),
                Key::Name => columns.named[column].0.clone(),
            };
            pairs.push((key, v.unwrap_or(sea_orm::Value::Bool(None))));
        }
        out.push(pairs.into_iter().collect());
    }
    Ok(out)
}

/// A statement's result columns as its rows are read: each one's name and the kind its
/// values decode to, the key of its position, and the order of all keys in a row's map.
struct Columns {
    named: Vec<(String, Option<column_kinds::Kind>)>,
    positions: Vec<String>,
    /// Each key of a row's map in sorted order: which key of which column, and whether it
    /// is that column's last key (its value is then moved, not copied).
    order: Vec<(Key, usize, bool)>,
}

/// Which of a column's two keys.
#[derive(Clone, Copy)]
enum Key {
    Position,
    Name,
}

/// How many statements' columns [`columns`] keeps.
const COLUMNS_KEPT: usize = 4096;

/// The columns of `s`, whose text is `sql`. They depend on the text and the schema only,
/// and the schema does not change while the process serves, so they are described once
/// per text (describing them took several microseconds per statement) and kept for the
/// first [`COLUMNS_KEPT`] texts; others are described each time.
fn columns(s: &rusqlite::Statement<'_>, sql: &str) -> Result<Arc<Columns>, Failure> {
    type Kept = RwLock<HashMap<String, Arc<Columns>>>;
    static KEPT: LazyLock<Kept> = LazyLock::new(Kept::default);
    if let Some(found) = KEPT.read().ok().and_then(|kept| kept.get(sql).cloned()) {
        return Ok(found);
    }
    let described = Arc::new(describe(s)?);
    if let Ok(mut kept) = KEPT.write()
        && kept.len() < COLUMNS_KEPT
    {
        kept.insert(sql.to_owned(), Arc::clone(&described));
    }
    Ok(described)
}

fn describe(s: &rusqlite::Statement<'_>) -> Result<Columns, Failure> {
    let decl: Vec<Option<String>> = s.columns().iter().map(|c| c.decl_type().map(str::to_owned)).collect();
    let named: Vec<(String, Option<column_kinds::Kind>)> = s
        .columns_with_metadata()
        .iter()
        .zip(&decl)
        .map(|(c, d)| (c.name().to_owned(), column_kinds::of(c.table_name(), c.origin_name(), d.as_deref())))
        .collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = named.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(Failure::Value(format!("two result columns are named {dup}: alias one")));
    }
    // sea-orm reads a model's fields by name and a tuple's by position, the position
    // counted in the row's map, which is sorted by key. So each value is also kept under a
    // key made of its position, which sorts before every column name.
    let positions: Vec<String> = (0..named.len()).map(|i| format!("\u{1}{i:05}")).collect();
    let mut keys: Vec<(&str, Key, usize)> =
        positions.iter().enumerate().map(|(i, p)| (p.as_str(), Key::Position, i)).collect();
    keys.extend(named.iter().enumerate().map(|(i, (n, _))| (n.as_str(), Key::Name, i)));
    keys.sort_by(|a, b| a.0.cmp(b.0));
    let mut order: Vec<(Key, usize, bool)> = Vec::with_capacity(keys.len());
    for (at, &(_, key, column)) in keys.iter().enumerate() {
        let last = !keys[at + 1..].iter().any(|&(_, _, c)| c == column);
        order.push((key, column, last));
    }
    Ok(Columns { named, positions, order })
}

/// Whether SQLite answered that another connection holds the lock.
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// The prefix of a direct connection's error: SQLite's extended result code follows it.
const CODE_PREFIX: &str = "SQLite error ";

fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, m) => {
            format!("{CODE_PREFIX}{}: {}", f.extended_code, m.clone().unwrap_or_else(|| f.to_string()))
        }
        other => other.to_string(),
    }
}

/// A failed write or connection setup, as sea-orm's error.
pub(super) fn exec_error(e: &rusqlite::Error) -> DbErr {
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
