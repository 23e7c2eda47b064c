//! What a refresh grant reads: its session (the grant), the session's user and the user's
//! effective role keys, in one statement, by the grant's ID or, for a token issued before
//! grant tokens ([`crate::service::oauth::grant_token`]), by the token's digest.

use entity::{refresh_token, session};
use sea_orm::sea_query::{
    Asterisk, Condition, Expr, ExprTrait, IntoTableRef, JoinType, PostgresQueryBuilder, Query, SelectStatement,
    SqliteQueryBuilder,
};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, QueryResult};

/// A refresh token, its session, the user and the user's role keys (sorted, distinct).
pub(in crate::service) type GrantRow = (refresh_token::Model, session::Model, entity::user::Model, Vec<String>);

/// A grant (its session), the user and the user's role keys (sorted, distinct).
pub(in crate::service) type SessionGrant = (session::Model, entity::user::Model, Vec<String>);

/// Comma-separated role keys of `users`.`id` from `link` (role keys never hold commas).
fn role_keys_sql(backend: DbBackend, from: &str) -> String {
    let agg = match backend {
        DbBackend::Postgres => "string_agg(r.\"key\", ',')",
        _ => "group_concat(r.\"key\", ',')",
    };
    format!("(SELECT {agg} FROM {from})")
}

/// Adds the role keys of the statement's `users` row to `q`: columns `direct_roles` and
/// `group_roles`, read back with [`role_keys_of`].
pub(in crate::service) fn add_role_keys(q: &mut SelectStatement, backend: DbBackend) {
    let direct = role_keys_sql(
        backend,
        "\"user_roles\" ur JOIN \"roles\" r ON r.\"id\" = ur.\"role_id\" WHERE ur.\"user_id\" = \"users\".\"id\"",
    );
    let via_groups = role_keys_sql(
        backend,
        "\"user_groups\" ug JOIN \"group_roles\" gr ON gr.\"group_id\" = ug.\"group_id\" \
         JOIN \"roles\" r ON r.\"id\" = gr.\"role_id\" WHERE ug.\"user_id\" = \"users\".\"id\"",
    );
    q.expr_as(Expr::cust(direct), "direct_roles").expr_as(Expr::cust(via_groups), "group_roles");
}

/// The user's effective role keys (sorted, distinct) from a row that [`add_role_keys`] added
/// them to.
pub(in crate::service) fn role_keys_of(row: &QueryResult) -> Result<Vec<String>, sea_orm::DbErr> {
    Ok(role_keys([row.try_get("", "direct_roles")?, row.try_get("", "group_roles")?]))
}

/// The role keys (sorted, distinct) in the two comma-separated lists that [`add_role_keys`]
/// selects, however they were read.
pub(in crate::service) fn role_keys(lists: [Option<String>; 2]) -> Vec<String> {
    let mut roles: Vec<String> =
        lists.iter().flatten().flat_map(|l| l.split(',')).filter(|k| !k.is_empty()).map(str::to_owned).collect();
    roles.sort();
    roles.dedup();
    roles
}

/// `SELECT` of a grant row (columns `t_*`, `s_*`, `u_*`, `direct_roles`, `group_roles`) from
/// `refresh_tokens` joined with `sessions` and `users`, where `condition` holds. The tables
/// keep their names, so `condition` names them (`"refresh_tokens"."token_hash" = $1`, in
/// `Expr::cust`). Values in `condition` are written into the SQL, so that the statement's own
/// parameters are the only ones.
///
/// On PostgreSQL the session and the user are joined as lateral subqueries that the planner
/// cannot flatten (`OFFSET 0`), so every plan starts from the token, found by its digest,
/// and reaches the session and the user by their keys. Joined freely, the planner may start
/// from the users instead, when its statistics say there are few: for a user with many
/// sessions it then walked all of them and probed the token index once for each (in the
/// refresh benchmark, 31 probes per claim and twice the statement's time).
fn grant_select(backend: DbBackend, condition: Condition) -> String {
    let q = query(backend, true, condition);
    match backend {
        DbBackend::Postgres => q.to_string(PostgresQueryBuilder),
        _ => q.to_string(SqliteQueryBuilder),
    }
}

/// `SELECT` of a grant (columns `s_*`, `u_*`, `direct_roles` and `group_roles`) from `sessions`
/// joined with `users`, where `condition` holds (as in [`grant_select`]). On PostgreSQL the
/// user is a lateral subquery, so every plan starts from the session.
pub(in crate::service) fn session_grant_query(backend: DbBackend, condition: Condition) -> SelectStatement {
    query(backend, false, condition)
}

/// [`grant_select`] (`from_token`) or [`session_grant_query`] as a statement.
fn query(backend: DbBackend, from_token: bool, condition: Condition) -> SelectStatement {
    use sea_orm::{IdenStatic, Iterable};
    let session_of_token = Expr::col((session::Entity, session::Column::Id))
        .equals((refresh_token::Entity, refresh_token::Column::SessionId));
    let user_of_session =
        Expr::col((entity::user::Entity, entity::user::Column::Id)).equals((session::Entity, session::Column::UserId));
    let mut q = Query::select();
    if from_token {
        q.from(refresh_token::Entity);
        if backend == DbBackend::Postgres {
            q.join_lateral(
                JoinType::InnerJoin,
                row_by_key(session::Entity, session_of_token),
                session::Entity,
                Expr::cust("TRUE"),
            );
        } else {
            q.inner_join(session::Entity, session_of_token);
        }
    } else {
        q.from(session::Entity);
    }
    if backend == DbBackend::Postgres {
        q.join_lateral(
            JoinType::InnerJoin,
            row_by_key(entity::user::Entity, user_of_session),
            entity::user::Entity,
            Expr::cust("TRUE"),
        );
    } else {
        q.inner_join(entity::user::Entity, user_of_session);
    }
    q.cond_where(condition);
    if from_token {
        for c in refresh_token::Column::iter() {
            q.expr_as(Expr::col((refresh_token::Entity, c)), format!("t_{}", c.as_str()));
        }
    }
    for c in session::Column::iter() {
        q.expr_as(Expr::col((session::Entity, c)), format!("s_{}", c.as_str()));
    }
    for c in entity::user::Column::iter() {
        q.expr_as(Expr::col((entity::user::Entity, c)), format!("u_{}", c.as_str()));
    }
    add_role_keys(&mut q, backend);
    q
}

/// `SELECT * FROM table WHERE on OFFSET 0`: a subquery the planner keeps apart
/// (PostgreSQL).
fn row_by_key(table: impl IntoTableRef, on: Expr) -> SelectStatement {
    let mut sub = Query::select();
    sub.column(Asterisk).from(table).and_where(on).offset(0);
    sub
}

/// The SQL of [`token_session_user`] for `backend`, built once per process: the statement
/// has some fifty aliased columns, and building it for every refresh showed in profiles.
fn token_session_user_sql(backend: DbBackend) -> &'static str {
    use std::sync::OnceLock;
    static POSTGRES: OnceLock<String> = OnceLock::new();
    static SQLITE: OnceLock<String> = OnceLock::new();
    let (cell, param) = if backend == DbBackend::Postgres { (&POSTGRES, "$1") } else { (&SQLITE, "?") };
    cell.get_or_init(|| {
        let by_digest = Expr::cust(format!("\"refresh_tokens\".\"token_hash\" = {param}"));
        grant_select(backend, Condition::all().add(by_digest))
    })
}

/// A refresh token issued before grant tokens, with its session, the session's user and the
/// user's effective role keys, by the token's digest, in one round trip.
pub(in crate::service) async fn token_session_user(
    conn: &impl ConnectionTrait,
    digest: Vec<u8>,
) -> crate::service::Result<Option<GrantRow>> {
    let backend = conn.get_database_backend();
    let stmt = sea_orm::Statement::from_sql_and_values(backend, token_session_user_sql(backend), [digest.into()]);
    match conn.query_one_raw(stmt).await? {
        Some(row) => Ok(Some(grant_of(&row)?)),
        None => Ok(None),
    }
}

/// The SQL of [`session_grant`] for `backend`, built once per process.
fn session_grant_sql(backend: DbBackend) -> &'static str {
    use std::sync::OnceLock;
    static POSTGRES: OnceLock<String> = OnceLock::new();
    static SQLITE: OnceLock<String> = OnceLock::new();
    let (cell, param) = if backend == DbBackend::Postgres { (&POSTGRES, "$1") } else { (&SQLITE, "?") };
    cell.get_or_init(|| {
        let by_id = Condition::all().add(Expr::cust(format!("\"sessions\".\"id\" = {param}")));
        let q = session_grant_query(backend, by_id);
        match backend {
            DbBackend::Postgres => q.to_string(PostgresQueryBuilder),
            _ => q.to_string(SqliteQueryBuilder),
        }
    })
}

/// A grant with its user and the user's effective role keys, by the grant's ID: one round
/// trip on the hot path. On a SQLite file it is read on the calling thread and typed where
/// it is read ([`crate::service::Db::read_typed`]).
pub(in crate::service) async fn session_grant(
    db: &crate::service::Db,
    id: uuid::Uuid,
) -> crate::service::Result<Option<SessionGrant>> {
    let reader = db.reader();
    let backend = reader.get_database_backend();
    let stmt = sea_orm::Statement::from_sql_and_values(backend, session_grant_sql(backend), [id.into()]);
    match db.read_typed(stmt, super::direct_rows::session_grants_of) {
        Ok(rows) => Ok(rows?.pop()),
        Err(stmt) => match reader.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(session_grant_of(&row)?)),
            None => Ok(None),
        },
    }
}

/// A grant from a result of [`session_grant_query`].
pub(in crate::service) fn session_grant_of(row: &QueryResult) -> Result<SessionGrant, sea_orm::DbErr> {
    Ok((
        session::Model::from_query_result(row, "s_")?,
        entity::user::Model::from_query_result(row, "u_")?,
        role_keys_of(row)?,
    ))
}

/// A grant row from a result of [`grant_select`].
pub(in crate::service) fn grant_of(row: &QueryResult) -> Result<GrantRow, sea_orm::DbErr> {
    Ok((
        refresh_token::Model::from_query_result(row, "t_")?,
        session::Model::from_query_result(row, "s_")?,
        entity::user::Model::from_query_result(row, "u_")?,
        role_keys_of(row)?,
    ))
}
