//! Bulk inserts of many rows of one table. PostgreSQL gets each chunk of rows as one JSON
//! parameter (an array of rows, each an array of values) unpacked by
//! `jsonb_array_elements`, which it plans in microseconds: a multi-row
//! `VALUES` list with thousands of parameters took it 40–50 ms to parse and plan per
//! statement, which capped an import at a few thousand users per second. SQLite, whose
//! statements cost little to prepare, gets multi-row `VALUES` within its parameter bound.

use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ColumnType, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait,
    IdenStatic, Iterable, Statement,
};
use serde_json::Value as Json;
use std::sync::atomic::{AtomicBool, Ordering};

/// Rows per SQLite statement: well under its 32,766 bound parameters for any table here.
const SQLITE_ROWS: usize = 400;
/// Bytes of JSON per PostgreSQL statement (one parameter) over TLS. sqlx leaves Nagle's
/// algorithm on its sockets and writes each TLS record (16 KiB of plaintext at most) with a
/// call of its own: a message of several records has its last, partial segment held until
/// the server's delayed acknowledgement comes, 40 ms later. A statement that fits in one
/// record (its parameter, and under 100 bytes of Bind, Execute, Close and Sync) goes out at
/// once.
pub(in crate::service) const TLS_BYTES: usize = 15_000;
/// Bytes per statement without TLS: a message goes out in one write whatever its length,
/// and fewer, longer statements cost PostgreSQL less.
const PLAIN_BYTES: usize = 4_000_000;

/// Whether this process's PostgreSQL connections use TLS: set when the pool connects (all
/// its connections share one `sslmode`); until then, as if they did.
static POSTGRES_TLS: AtomicBool = AtomicBool::new(true);

/// Records whether the PostgreSQL connections use TLS (see [`TLS_BYTES`]).
pub(in crate::service) fn set_postgres_tls(tls: bool) {
    POSTGRES_TLS.store(tls, Ordering::Relaxed);
}

fn postgres_bytes() -> usize {
    if POSTGRES_TLS.load(Ordering::Relaxed) { TLS_BYTES } else { PLAIN_BYTES }
}

/// Bytes of text one row may carry in a bulk insert: on PostgreSQL over TLS, enough to
/// leave its statement within one TLS record with its escaping (see [`TLS_BYTES`]);
/// unbounded elsewhere.
pub(in crate::service) fn value_budget(backend: DbBackend) -> usize {
    if backend == DbBackend::Postgres && POSTGRES_TLS.load(Ordering::Relaxed) { TLS_BYTES * 2 / 3 } else { usize::MAX }
}

/// Inserts `rows` (every column set) in as few statements as the backend allows.
pub(in crate::service) async fn insert_rows<A>(conn: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    insert_rows_with(conn, rows, None).await
}

/// A column that a PostgreSQL table has and its entity does not map, with a value for each
/// row: its name, its SQL type, the values.
pub(in crate::service) struct Extra {
    pub name: &'static str,
    pub sql_type: &'static str,
    pub values: Vec<Json>,
}

/// [`insert_rows`] with a value of `extra`'s column for each row, on PostgreSQL (elsewhere
/// `extra` is left out).
pub(in crate::service) async fn insert_rows_with<A>(
    conn: &impl ConnectionTrait,
    rows: Vec<A>,
    extra: Option<Extra>,
) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    if conn.get_database_backend() != DbBackend::Postgres {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<A> = rows.by_ref().take(SQLITE_ROWS).collect();
            <A::Entity as EntityTrait>::insert_many(chunk).exec_without_returning(conn).await?;
        }
        return Ok(());
    }
    let columns: Vec<<A::Entity as EntityTrait>::Column> = <A::Entity as EntityTrait>::Column::iter().collect();
    let table = <A::Entity as Default>::default().table_name().to_owned();
    let mut names = Vec::with_capacity(columns.len());
    let mut select = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let text = format!("(x->>{i})");
        let expr = match c.def().get_column_type() {
            ColumnType::Uuid => format!("{text}::uuid"),
            ColumnType::BigInteger => format!("{text}::bigint"),
            ColumnType::Integer => format!("{text}::integer"),
            ColumnType::Boolean => format!("{text}::boolean"),
            // JSON null is SQL NULL, as for every other type.
            ColumnType::Json => format!("NULLIF(x->{i}, 'null')::json"),
            ColumnType::JsonBinary => format!("NULLIF(x->{i}, 'null')"),
            ColumnType::Binary(_) | ColumnType::VarBinary(_) | ColumnType::Blob => format!("decode({text}, 'hex')"),
            _ => text,
        };
        names.push(format!("\"{}\"", c.as_str()));
        select.push(expr);
    }
    let mut extra_values = None;
    if let Some(e) = extra {
        select.push(format!("(x->>{})::{}", names.len(), e.sql_type));
        names.push(format!("\"{}\"", e.name));
        extra_values = Some(e.values.into_iter());
    }
    // Each row is an array of its values in column order: half the bytes of an object with
    // the column names, so half the statements over TLS (see `TLS_BYTES`).
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) SELECT {} FROM jsonb_array_elements($1::jsonb) AS x",
        names.join(", "),
        select.join(", "),
    );
    let budget = postgres_bytes();
    let mut chunk = String::with_capacity(budget.min(1 << 20) + 4096);
    for row in rows {
        let mut values: Vec<Json> = columns
            .iter()
            .map(|c| match row.get(*c) {
                ActiveValue::Set(v) | ActiveValue::Unchanged(v) => json_of(v),
                ActiveValue::NotSet => Json::Null,
            })
            .collect();
        if let Some(extra) = extra_values.as_mut() {
            values.push(extra.next().unwrap_or(Json::Null));
        }
        let one = Json::Array(values).to_string();
        if !chunk.is_empty() && chunk.len() + one.len() + 2 > budget {
            chunk.push(']');
            run(conn, &sql, std::mem::take(&mut chunk)).await?;
        }
        chunk.push(if chunk.is_empty() { '[' } else { ',' });
        chunk.push_str(&one);
    }
    if !chunk.is_empty() {
        chunk.push(']');
        run(conn, &sql, chunk).await?;
    }
    Ok(())
}

async fn run(conn: &impl ConnectionTrait, sql: &str, param: String) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [param.into()])).await.map(|_| ())
}

/// A column value as the insert reads it back (bytes as hex, for `decode`).
fn json_of(v: Value) -> Json {
    match v {
        Value::Bool(Some(b)) => Json::Bool(b),
        Value::Int(Some(i)) => Json::from(i),
        Value::BigInt(Some(i)) => Json::from(i),
        Value::String(Some(s)) => Json::String(s),
        Value::Uuid(Some(u)) => Json::String(u.to_string()),
        Value::Json(Some(j)) => *j,
        Value::Bytes(Some(b)) => Json::String(crate::crypto::hex(b)),
        _ => Json::Null,
    }
}

/// `values` in runs whose [`in_text_list`] parameter stays within one TLS record on
/// PostgreSQL over TLS (see [`TLS_BYTES`]); one run elsewhere.
pub(in crate::service) fn text_list_runs<'a>(backend: DbBackend, values: &'a [&'a str]) -> Vec<&'a [&'a str]> {
    if backend != DbBackend::Postgres {
        return vec![values];
    }
    let budget = postgres_bytes();
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, v) in values.iter().enumerate() {
        // Quotes and a comma; a character JSON escapes takes up to six bytes.
        let len = 3 + v.len() + 5 * v.bytes().filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\').count();
        if i > start && bytes + len > budget {
            runs.push(&values[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += len;
    }
    if start < values.len() {
        runs.push(&values[start..]);
    }
    runs
}

/// `column IN (the strings of values)` with the whole list as one JSON parameter: cheap to
/// plan on PostgreSQL for any length (a list of a thousand parameters took it ~45 ms), and
/// within SQLite's parameter bound.
pub(in crate::service) fn in_text_list(
    backend: DbBackend,
    table: &str,
    column: &str,
    values: &[&str],
) -> sea_orm::sea_query::SimpleExpr {
    let list = Json::Array(values.iter().map(|v| Json::String((*v).to_owned())).collect()).to_string();
    let sql = match backend {
        // `= ANY(ARRAY(…))`, not `IN (SELECT …)`: a semi-join's plan rests on the table's
        // statistics, and a table that grew since its last ANALYZE (an import into a new
        // database) was read whole for every list (70 ms at 200,000 identities against
        // 5 ms); an array of unknown length is probed through the index either way.
        DbBackend::Postgres => {
            format!("\"{table}\".\"{column}\" = ANY(ARRAY(SELECT json_array_elements_text($1::json)))")
        }
        _ => format!("\"{table}\".\"{column}\" IN (SELECT value FROM json_each(?))"),
    };
    sea_orm::sea_query::Expr::cust_with_values(sql, [list])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_split_into_runs_within_one_tls_record_on_postgres() {
        let values: Vec<String> = (0..3000).map(|i| format!("user{i}@example.com")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_eq!(text_list_runs(DbBackend::Sqlite, &refs).len(), 1);
        let runs = text_list_runs(DbBackend::Postgres, &refs);
        assert!(runs.len() > 1);
        assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), refs.len());
        for run in &runs {
            let json = Json::Array(run.iter().map(|v| Json::String((*v).to_owned())).collect()).to_string();
            assert!(json.len() <= TLS_BYTES, "{}", json.len());
        }
        let quotes = ["\"\"\"\"".repeat(1000)];
        let quotes: Vec<&str> = quotes.iter().map(String::as_str).collect();
        assert_eq!(text_list_runs(DbBackend::Postgres, &quotes).len(), 1, "one long value is a run of its own");
        assert!(text_list_runs(DbBackend::Postgres, &[]).is_empty());
    }
}
