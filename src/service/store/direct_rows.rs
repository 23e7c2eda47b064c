//! Rows of a direct SQLite connection ([`super::direct_sqlite`]) as the models the sqlx
//! path reads: a reader per statement finds its columns by name once, then reads each row.

use rusqlite::{Connection, Row, Statement};
use uuid::Uuid;

use super::direct_sqlite::{bind_all, columns, get, json, prefixed_columns, read_error, uuid};
use crate::service::Result;
use entity::{authenticator, authorization_code, identity, user};

/// A row reader for a prepared statement: finds its columns once, then reads each row.
pub type Reader<T> = Box<dyn Fn(&Row<'_>) -> Result<T>>;

/// Runs `stmt` and reads every row with the reader `make` builds for it.
pub fn all<T>(
    conn: &Connection,
    stmt: sea_orm::Statement,
    make: fn(&Statement<'_>) -> Result<Reader<T>>,
) -> Result<Vec<T>> {
    let mut prepared = conn.prepare_cached(&stmt.sql).map_err(read_error)?;
    let read = make(&prepared)?;
    let params = bind_all(stmt.values.as_ref())?;
    let mut rows = prepared.query(rusqlite::params_from_iter(params)).map_err(read_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(read_error)? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// [`all`], counted in `statements` as every direct statement is (with its time, for the
/// slow-statement log).
pub fn all_counted<T>(
    conn: &Connection,
    stmt: sea_orm::Statement,
    make: fn(&Statement<'_>) -> Result<Reader<T>>,
    statements: &std::sync::atomic::AtomicU64,
) -> Result<Vec<T>> {
    let started = std::time::Instant::now();
    let sql = stmt.sql.clone();
    let rows = all(conn, stmt, make)?;
    super::direct_statements::count(statements, &sql, started.elapsed());
    Ok(rows)
}

/// The reader of a struct whose fields are columns of the same names, each read with the
/// function given (`get`, `uuid`, `json_value`, …): every column is named once. `columns`,
/// `Reader` and the read functions are those in scope where it is used, so that
/// [`super::pg_rows`] reads PostgreSQL rows (`model_reader!(@ PgRow, …)`) the same way.
macro_rules! model_reader {
    ($stmt:expr, $($model:ident)::+ { $($field:ident: $read:expr),* $(,)? }) => {
        model_reader!(@ rusqlite::Row<'_>, $stmt, $($model)::+ { $($field: $read),* })
    };
    (@ $row:ty, $stmt:expr, $($model:ident)::+ { $($field:ident: $read:expr),* $(,)? }) => {{
        let index = columns($stmt, [$(stringify!($field)),*])?;
        let reader: Reader<$($model)::+> = Box::new(move |r: &$row| {
            // Fields are evaluated in the order written, the order of `index`.
            let mut at = index.into_iter();
            Ok($($model)::+ { $($field: $read(r, at.next().unwrap_or_default())?),* })
        });
        Ok(reader)
    }};
}
pub(in crate::service) use model_reader;

/// The reader of `users` rows (`$row`) as [`user::Model`], its columns found in `$stmt`
/// with the `columns`, `Reader`, `uuid`, `get` and `json_value` in scope (SQLite's or
/// PostgreSQL's).
macro_rules! user_model_reader {
    ($row:ty, $stmt:expr) => {
        model_reader!(
            @ $row,
            $stmt,
            user::Model {
                id: uuid,
                created_at: get,
                updated_at: get,
                last_login_at: get,
                standard_attributes: json_value,
                custom_attributes: json_value,
                name_key: get,
                is_disabled: get,
                disable_reason: get,
                is_deactivated: get,
                is_anonymous: get,
                is_anonymized: get,
                delete_at: get,
                delete_reason: get,
                anonymize_at: get,
                temporarily_disabled_from: get,
                temporarily_disabled_until: get,
                account_valid_from: get,
                account_valid_until: get,
                mfa_grace_period_end_at: get,
                anonymized_at: get,
            }
        )
    };
}
pub(in crate::service) use user_model_reader;

/// The reader of `sessions` rows (`$row`) as [`entity::session::Model`], as
/// [`user_model_reader!`] reads users (with `opt_uuid` and `opt_json` in scope too).
macro_rules! session_model_reader {
    ($row:ty, $stmt:expr) => {
        model_reader!(
            @ $row,
            $stmt,
            entity::session::Model {
                id: uuid,
                user_id: uuid,
                kind: get,
                client_id: get,
                idp_session_id: opt_uuid,
                scopes: json_value,
                amr: json_value,
                auth_time: get,
                created_at: get,
                last_accessed_at: get,
                created_by_ip: get,
                last_accessed_by_ip: get,
                user_agent: get,
                expires_at: get,
                revoked_at: get,
                token_hash: get,
                device_info: opt_json,
                identity_id: opt_uuid,
                refresh_generation: get,
                refresh_rotated_at: get,
            }
        )
    };
}
pub(in crate::service) use session_model_reader;

/// A JSON column that may be NULL.
fn opt_json(row: &Row<'_>, i: usize) -> Result<Option<serde_json::Value>> {
    json(row, i)
}

/// The reader of a grant's select ([`super::grant_row::session_grant_query`]: columns
/// `s_*`, `u_*`, `direct_roles` and `group_roles`) for rows `$row` of `$stmt` (a `$source`),
/// with the same functions in scope as [`session_model_reader!`] and `prefixed_columns`.
macro_rules! session_grant_reader {
    ($row:ty, $source:ty, $stmt:expr) => {{
        let session: Result<Reader<entity::session::Model>> = {
            fn columns<const N: usize>(stmt: $source, names: [&str; N]) -> Result<[usize; N]> {
                prefixed_columns(stmt, "s_", names)
            }
            session_model_reader!($row, $stmt)
        };
        let user: Result<Reader<entity::user::Model>> = {
            fn columns<const N: usize>(stmt: $source, names: [&str; N]) -> Result<[usize; N]> {
                prefixed_columns(stmt, "u_", names)
            }
            user_model_reader!($row, $stmt)
        };
        let (session, user) = (session?, user?);
        let [direct, via_groups] = columns($stmt, ["direct_roles", "group_roles"])?;
        let reader: Reader<super::grant_row::SessionGrant> = Box::new(move |r: &$row| {
            let roles = super::grant_row::role_keys([get(r, direct)?, get(r, via_groups)?]);
            Ok((session(r)?, user(r)?, roles))
        });
        Ok(reader)
    }};
}
pub(in crate::service) use session_grant_reader;

/// The rows of a grant's select ([`super::grant_row::session_grant_query`]).
pub fn session_grants_of(stmt: &Statement<'_>) -> Result<Reader<super::grant_row::SessionGrant>> {
    session_grant_reader!(rusqlite::Row<'_>, &Statement<'_>, stmt)
}

/// A JSON column that is never NULL (a NULL reads as JSON `null`).
pub fn json_value(row: &Row<'_>, i: usize) -> Result<serde_json::Value> {
    Ok(json(row, i)?.unwrap_or_default())
}

/// `users` rows as [`user::Model`].
pub fn users_of(stmt: &Statement<'_>) -> Result<Reader<user::Model>> {
    user_model_reader!(rusqlite::Row<'_>, stmt)
}

/// `identities` rows as [`identity::Model`].
pub fn identities_of(stmt: &Statement<'_>) -> Result<Reader<identity::Model>> {
    model_reader!(
        stmt,
        identity::Model {
            id: uuid,
            user_id: uuid,
            kind: get,
            login_id_key: get,
            login_id_type: get,
            value: get,
            original_value: get,
            unique_key: get,
            details: json,
            created_at: get,
            updated_at: get,
        }
    )
}

/// `authenticators` rows as [`authenticator::Model`].
pub fn authenticators_of(stmt: &Statement<'_>) -> Result<Reader<authenticator::Model>> {
    model_reader!(
        stmt,
        authenticator::Model {
            id: uuid,
            user_id: uuid,
            kind: get,
            factor: get,
            is_default: get,
            password_hash: get,
            expire_after: get,
            oob_target: get,
            display_name: get,
            totp_secret: get,
            totp_last_step: get,
            passkey_credential_id: get,
            created_at: get,
            updated_at: get,
        }
    )
}

/// `(user_id, key)`: the first two columns.
pub fn keys_of(_: &Statement<'_>) -> Result<Reader<(Uuid, String)>> {
    Ok(Box::new(|r| Ok((uuid(r, 0)?, get(r, 1)?))))
}

/// Column `i` as a UUID that may be NULL.
fn opt_uuid(row: &Row<'_>, i: usize) -> Result<Option<Uuid>> {
    match row.get_ref(i).map_err(super::direct_sqlite::read_error)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => uuid(row, i).map(Some),
    }
}

/// A code with its user (`B_`, absent if deleted) and the user's role keys (the
/// `direct_roles` and `group_roles` of [`super::grant_row::add_role_keys`]), as the code
/// exchange selects them.
pub type CodeUserRoles = (authorization_code::Model, Option<user::Model>, Vec<String>);

/// The rows of the code exchange's select ([`CodeUserRoles`]).
pub fn code_user_roles_of(stmt: &Statement<'_>) -> Result<Reader<CodeUserRoles>> {
    let code: Result<Reader<authorization_code::Model>> = {
        fn columns<const N: usize>(stmt: &Statement<'_>, names: [&str; N]) -> Result<[usize; N]> {
            prefixed_columns(stmt, "A_", names)
        }
        model_reader!(
            stmt,
            authorization_code::Model {
                id: uuid,
                code_hash: get,
                client_id: get,
                user_id: uuid,
                idp_session_id: uuid,
                redirect_uri: get,
                scopes: json_value,
                nonce: get,
                code_challenge: get,
                auth_time: get,
                amr: json_value,
                created_at: get,
                expires_at: get,
                used_at: get,
                issued_session_id: opt_uuid,
                issued_jti: get,
            }
        )
    };
    let code = code?;
    let user: Result<Reader<user::Model>> = {
        fn columns<const N: usize>(stmt: &Statement<'_>, names: [&str; N]) -> Result<[usize; N]> {
            prefixed_columns(stmt, "B_", names)
        }
        user_model_reader!(rusqlite::Row<'_>, stmt)
    };
    let user = user?;
    let [user_id, direct, via_groups] = columns(stmt, ["B_id", "direct_roles", "group_roles"])?;
    Ok(Box::new(move |r| {
        let code = code(r)?;
        let user = match r.get_ref(user_id).map_err(super::direct_sqlite::read_error)? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(user(r)?),
        };
        let roles = super::grant_row::role_keys([get(r, direct)?, get(r, via_groups)?]);
        Ok((code, user, roles))
    }))
}
