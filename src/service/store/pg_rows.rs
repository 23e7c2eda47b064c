//! PostgreSQL rows read by column position, the positions found by name once per result.
//!
//! sea-orm's `FromQueryResult` looks every column up by name in every row, and for each
//! NULL it meets it formats the column's name into an error that `Option` then discards.
//! A page of 50 users with their roles and groups met about 650 NULLs: a sixth of the
//! request's instructions went to formatting those names. The readers here are built with
//! the same [`model_reader!`] as SQLite's direct rows, and a NULL is just `None`.

use sea_orm::QueryResult;
use sea_orm::sqlx::postgres::{PgRow, Postgres};
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{Column, Decode, Row, Type};

use super::direct_rows::{model_reader, session_grant_reader, session_model_reader, user_model_reader};
use super::grant_row::SessionGrant;
use crate::service::{Error, Result};
use entity::user;

/// A row reader built for one result: finds its columns once, then reads each row.
pub type Reader<T> = Box<dyn Fn(&PgRow) -> Result<T>>;

/// `rows` read with the reader `make` builds from the first of them, or `None` if they
/// are not PostgreSQL rows (the caller reads them through sea-orm).
pub fn read_all<T>(rows: &[QueryResult], make: fn(&PgRow) -> Result<Reader<T>>) -> Option<Result<Vec<T>>> {
    let Some(first) = rows.first() else { return Some(Ok(Vec::new())) };
    let read = match make(first.try_as_pg_row()?) {
        Ok(read) => read,
        Err(e) => return Some(Err(e)),
    };
    Some(rows.iter().map(|r| read(pg(r)?)).collect())
}

fn pg(row: &QueryResult) -> Result<&PgRow> {
    row.try_as_pg_row().ok_or_else(|| Error::internal("a row of another database"))
}

fn read_error(e: sea_orm::sqlx::Error) -> Error {
    Error::caused("PostgreSQL read", e)
}

/// The position of each named column of `row`'s result, in the order given.
pub fn columns<const N: usize>(row: &PgRow, names: [&str; N]) -> Result<[usize; N]> {
    let mut out = [0; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = row.try_column(name).map_err(read_error)?.ordinal();
    }
    Ok(out)
}

/// Column `i` of `row` as `T` (an `Option` for a column that may be NULL).
pub fn get<T: for<'r> Decode<'r, Postgres> + Type<Postgres>>(row: &PgRow, i: usize) -> Result<T> {
    row.try_get(i).map_err(read_error)
}

/// A UUID column.
pub fn uuid(row: &PgRow, i: usize) -> Result<uuid::Uuid> {
    get(row, i)
}

/// A JSON column that is never NULL (a NULL reads as JSON `null`).
pub fn json_value(row: &PgRow, i: usize) -> Result<serde_json::Value> {
    Ok(get::<Option<Json<serde_json::Value>>>(row, i)?.map(|j| j.0).unwrap_or_default())
}

/// `users` rows as [`user::Model`].
pub fn users_of(row: &PgRow) -> Result<Reader<user::Model>> {
    user_model_reader!(PgRow, row)
}

/// The position of each column `prefix` + name of `row`'s result, in the order given.
fn prefixed_columns<const N: usize>(row: &PgRow, prefix: &str, names: [&str; N]) -> Result<[usize; N]> {
    let all = row.columns();
    let mut out = [0; N];
    for (slot, name) in out.iter_mut().zip(names) {
        let is = |c: &&sea_orm::sqlx::postgres::PgColumn| {
            let c = c.name();
            c.len() == prefix.len() + name.len() && c.starts_with(prefix) && c.ends_with(name)
        };
        *slot = all
            .iter()
            .find(is)
            .map(Column::ordinal)
            .ok_or_else(|| Error::internal(format!("no column {prefix}{name}")))?;
    }
    Ok(out)
}

/// A UUID column that may be NULL.
fn opt_uuid(row: &PgRow, i: usize) -> Result<Option<uuid::Uuid>> {
    get(row, i)
}

/// A JSON column that may be NULL.
fn opt_json(row: &PgRow, i: usize) -> Result<Option<serde_json::Value>> {
    Ok(get::<Option<Json<serde_json::Value>>>(row, i)?.map(|j| j.0))
}

/// The rows of a grant's select ([`super::grant_row::session_grant_query`]: columns `s_*`,
/// `u_*`, `direct_roles` and `group_roles`) as [`SessionGrant`]s.
pub fn session_grants_of(row: &PgRow) -> Result<Reader<SessionGrant>> {
    session_grant_reader!(PgRow, &PgRow, row)
}
