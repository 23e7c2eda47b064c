//! Bulk inserts of many rows of one table. PostgreSQL gets each chunk of rows as one JSON
//! parameter unpacked by `json_to_recordset`, which it plans in microseconds: a multi-row
//! `VALUES` list with thousands of parameters took it 40–50 ms to parse and plan per
//! statement, which capped an import at a few thousand users per second. SQLite, whose
//! statements cost little to prepare, gets multi-row `VALUES` within its parameter bound.

use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ColumnType, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait,
    IdenStatic, Iterable, Statement,
};
use serde_json::{Map, Value as Json};

/// Rows per SQLite statement: well under its 32,766 bound parameters for any table here.
const SQLITE_ROWS: usize = 400;
/// Rows per PostgreSQL statement (one JSON parameter).
const POSTGRES_ROWS: usize = 5000;

/// Inserts `rows` (every column set) in as few statements as the backend allows.
pub(in crate::service) async fn insert_rows<A>(conn: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), DbErr>
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
    let mut defs = Vec::with_capacity(columns.len());
    for c in &columns {
        let name = c.as_str();
        let (ty, expr) = match c.def().get_column_type() {
            ColumnType::Uuid => ("uuid", format!("x.\"{name}\"")),
            ColumnType::BigInteger => ("bigint", format!("x.\"{name}\"")),
            ColumnType::Integer => ("integer", format!("x.\"{name}\"")),
            ColumnType::Boolean => ("boolean", format!("x.\"{name}\"")),
            ColumnType::Json => ("json", format!("x.\"{name}\"")),
            ColumnType::JsonBinary => ("jsonb", format!("x.\"{name}\"")),
            ColumnType::Binary(_) | ColumnType::VarBinary(_) | ColumnType::Blob => {
                ("text", format!("decode(x.\"{name}\", 'hex')"))
            }
            _ => ("text", format!("x.\"{name}\"")),
        };
        names.push(format!("\"{name}\""));
        select.push(expr);
        defs.push(format!("\"{name}\" {ty}"));
    }
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) SELECT {} FROM json_to_recordset($1::json) AS x({})",
        names.join(", "),
        select.join(", "),
        defs.join(", ")
    );
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Json> = rows
            .by_ref()
            .take(POSTGRES_ROWS)
            .map(|row| {
                let mut obj = Map::with_capacity(columns.len());
                for c in &columns {
                    let v = match row.get(*c) {
                        ActiveValue::Set(v) | ActiveValue::Unchanged(v) => json_of(v),
                        ActiveValue::NotSet => Json::Null,
                    };
                    obj.insert(c.as_str().to_owned(), v);
                }
                Json::Object(obj)
            })
            .collect();
        let param = Json::Array(chunk).to_string();
        conn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql.clone(), [param.into()])).await?;
    }
    Ok(())
}

/// A column value as `json_to_recordset` reads it back (bytes as hex, for `decode`).
fn json_of(v: Value) -> Json {
    match v {
        Value::Bool(Some(b)) => Json::Bool(b),
        Value::Int(Some(i)) => Json::from(i),
        Value::BigInt(Some(i)) => Json::from(i),
        Value::String(Some(s)) => Json::String(s),
        Value::Uuid(Some(u)) => Json::String(u.to_string()),
        Value::Json(Some(j)) => *j,
        Value::Bytes(Some(b)) => Json::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        _ => Json::Null,
    }
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
        DbBackend::Postgres => format!("\"{table}\".\"{column}\" IN (SELECT json_array_elements_text($1::json))"),
        _ => format!("\"{table}\".\"{column}\" IN (SELECT value FROM json_each(?))"),
    };
    sea_orm::sea_query::Expr::cust_with_values(sql, [list])
}
