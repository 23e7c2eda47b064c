//! On PostgreSQL, a page of users read together with their roles and groups in one
//! statement.
//!
//! Read apart, a page and its links are two statements: two round trips, and on
//! PostgreSQL two rounds of protocol, wake-ups and executor start-up, which cost it more
//! CPU than running them. Here each user's roles or groups are a column of the page's own
//! rows: a correlated subquery per row that aggregates the joined links into one JSON
//! array. PostgreSQL evaluates it only for the rows the page returns.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{Column, Row};
use sea_orm::{ConnectionTrait, QuerySelect, QueryTrait};

use super::lookups::{Linked, Owner, by_key, direct_link, keyed_columns};
use super::roles_groups::{Keyed, KeyedRow};
use crate::service::Db;
use crate::service::store::pg_rows::{Reader, get, read_all, users_of};
use crate::service::{Error, Result};
use entity::user;

/// The prefix of the columns that hold each user's links, numbered in the order asked.
const PREFIX: &str = "linked_";

/// The roles or groups that `owner` links to the `users` row of the enclosing select, as
/// one `json` column (an array of [`KeyedRow`]s, each an array of its fields; NULL for
/// none). `None` for links not held directly.
fn linked_json(owner: Owner) -> Option<Expr> {
    let (table, user, named, kind) = direct_link(owner)?;
    let t = kind.table();
    let fields: Vec<String> = keyed_columns(t).iter().map(|(t, c)| format!(r#""{t}"."{c}""#)).collect();
    Some(Expr::cust(format!(
        r#"(SELECT json_agg(json_build_array({})) FROM "{table}" JOIN "{t}" ON "{t}"."id" = "{table}"."{named}" WHERE "{table}"."{user}" = "users"."id")"#,
        fields.join(", ")
    )))
}

/// Whether [`users_with_links`] can read the lists of `owners`: on PostgreSQL, for links
/// held directly.
pub(in crate::service) fn readable(db: &Db, owners: &[Owner]) -> bool {
    !owners.is_empty()
        && db.reader().get_database_backend() == sea_orm::DbBackend::Postgres
        && owners.iter().all(|o| direct_link(*o).is_some())
}

/// The users `q` selects, each with the lists of every one of `owners`, in one statement.
/// Only where [`readable`] says so.
pub(in crate::service) async fn users_with_links(
    db: &Db,
    mut q: sea_orm::Select<user::Entity>,
    owners: &[Owner],
) -> Result<(Vec<user::Model>, Linked)> {
    for (i, owner) in owners.iter().enumerate() {
        let column = linked_json(*owner).ok_or_else(|| Error::internal("links not held directly"))?;
        q = q.column_as(column, format!("{PREFIX}{i}"));
    }
    let rows = db.reader().query_all_raw(q.build(sea_orm::DbBackend::Postgres)).await?;
    let read = read_all(&rows, users_linked_of).ok_or_else(|| Error::internal("PostgreSQL rows expected"))??;
    let mut models = Vec::with_capacity(read.len());
    let mut linked: Linked = owners.iter().map(|_| HashMap::with_capacity(read.len())).collect();
    for (model, lists) in read {
        if lists.len() != owners.len() {
            return Err(Error::internal("a linked column missing"));
        }
        for (map, list) in linked.iter_mut().zip(lists) {
            map.insert(model.id, list);
        }
        models.push(model);
    }
    Ok((models, linked.into_iter().map(by_key).collect()))
}

/// The reader of users rows followed by their `linked_…` columns, in order.
fn users_linked_of(row: &PgRow) -> Result<Reader<(user::Model, Vec<Vec<Keyed>>)>> {
    let user = users_of(row)?;
    let lists: Vec<usize> =
        row.columns().iter().filter(|c| c.name().starts_with(PREFIX)).map(|c| c.ordinal()).collect();
    Ok(Box::new(move |r| {
        let lists = lists.iter().map(|&i| list_of(r, i)).collect::<Result<_>>()?;
        Ok((user(r)?, lists))
    }))
}

/// One `linked_…` column: the roles or groups it holds, unsorted.
fn list_of(row: &PgRow, i: usize) -> Result<Vec<Keyed>> {
    let rows: Option<Json<Vec<KeyedRow>>> = get(row, i)?;
    Ok(rows.map(|j| j.0).unwrap_or_default().into_iter().map(Keyed::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{PostgresQueryBuilder, Query};
    use uuid::Uuid;

    #[test]
    fn a_direct_link_is_one_correlated_json_column() {
        let Some(column) = linked_json(Owner::UserRoles) else { panic!("roles are held directly") };
        let sql = Query::select().expr(column).from("users").to_string(PostgresQueryBuilder);
        assert!(sql.contains(r#"FROM "user_roles" JOIN "roles" ON "roles"."id" = "user_roles"."role_id""#), "{sql}");
        assert!(sql.contains(r#"WHERE "user_roles"."user_id" = "users"."id""#), "{sql}");
        assert!(
            sql.contains(r#"json_build_array("roles"."id", "roles"."key", "roles"."name", "roles"."description", "roles"."created_at", "roles"."updated_at")"#),
            "{sql}"
        );
    }

    #[test]
    fn roles_through_groups_are_not_read_this_way() {
        assert!(linked_json(Owner::UserGroupRoles).is_none());
    }

    #[test]
    fn a_keyed_row_reads_from_its_json_array() {
        let id = Uuid::now_v7();
        let json = format!(r#"[["{id}", "admin", null, "d", 1700000000000000, 1700000000000001]]"#);
        let rows: Vec<KeyedRow> = serde_json::from_str(&json).expect("parses");
        assert_eq!(rows[0].id, id);
        assert_eq!(rows[0].key, "admin");
        assert_eq!(rows[0].name, None);
        assert_eq!(rows[0].description.as_deref(), Some("d"));
        assert_eq!(rows[0].updated_at, 1700000000000001);
    }
}
