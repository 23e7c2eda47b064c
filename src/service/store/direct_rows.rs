//! Rows of a direct SQLite connection ([`super::direct_sqlite`]) as the models the sqlx
//! path reads: a reader per statement finds its columns by name once, then reads each row.

use rusqlite::{Connection, Row, Statement};
use uuid::Uuid;

use super::direct_sqlite::{bind_all, columns, get, json, read_error, uuid};
use crate::service::Result;
use entity::{authenticator, identity, user};

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

pub fn users_of(stmt: &Statement<'_>) -> Result<Reader<user::Model>> {
    let [
        id,
        created_at,
        updated_at,
        last_login_at,
        standard_attributes,
        custom_attributes,
        name_key,
        is_disabled,
        disable_reason,
        is_deactivated,
        is_anonymous,
        is_anonymized,
        delete_at,
        delete_reason,
        anonymize_at,
        temporarily_disabled_from,
        temporarily_disabled_until,
        account_valid_from,
        account_valid_until,
        mfa_grace_period_end_at,
        anonymized_at,
    ] = columns(
        stmt,
        [
            "id",
            "created_at",
            "updated_at",
            "last_login_at",
            "standard_attributes",
            "custom_attributes",
            "name_key",
            "is_disabled",
            "disable_reason",
            "is_deactivated",
            "is_anonymous",
            "is_anonymized",
            "delete_at",
            "delete_reason",
            "anonymize_at",
            "temporarily_disabled_from",
            "temporarily_disabled_until",
            "account_valid_from",
            "account_valid_until",
            "mfa_grace_period_end_at",
            "anonymized_at",
        ],
    )?;
    Ok(Box::new(move |r| {
        Ok(user::Model {
            id: uuid(r, id)?,
            created_at: get(r, created_at)?,
            updated_at: get(r, updated_at)?,
            last_login_at: get(r, last_login_at)?,
            standard_attributes: json(r, standard_attributes)?.unwrap_or_default(),
            custom_attributes: json(r, custom_attributes)?.unwrap_or_default(),
            name_key: get(r, name_key)?,
            is_disabled: get(r, is_disabled)?,
            disable_reason: get(r, disable_reason)?,
            is_deactivated: get(r, is_deactivated)?,
            is_anonymous: get(r, is_anonymous)?,
            is_anonymized: get(r, is_anonymized)?,
            delete_at: get(r, delete_at)?,
            delete_reason: get(r, delete_reason)?,
            anonymize_at: get(r, anonymize_at)?,
            temporarily_disabled_from: get(r, temporarily_disabled_from)?,
            temporarily_disabled_until: get(r, temporarily_disabled_until)?,
            account_valid_from: get(r, account_valid_from)?,
            account_valid_until: get(r, account_valid_until)?,
            mfa_grace_period_end_at: get(r, mfa_grace_period_end_at)?,
            anonymized_at: get(r, anonymized_at)?,
        })
    }))
}

pub fn identities_of(stmt: &Statement<'_>) -> Result<Reader<identity::Model>> {
    let [
        id,
        user_id,
        kind,
        login_id_key,
        login_id_type,
        value,
        original_value,
        unique_key,
        details,
        created_at,
        updated_at,
    ] = columns(
        stmt,
        [
            "id",
            "user_id",
            "kind",
            "login_id_key",
            "login_id_type",
            "value",
            "original_value",
            "unique_key",
            "details",
            "created_at",
            "updated_at",
        ],
    )?;
    Ok(Box::new(move |r| {
        Ok(identity::Model {
            id: uuid(r, id)?,
            user_id: uuid(r, user_id)?,
            kind: get(r, kind)?,
            login_id_key: get(r, login_id_key)?,
            login_id_type: get(r, login_id_type)?,
            value: get(r, value)?,
            original_value: get(r, original_value)?,
            unique_key: get(r, unique_key)?,
            details: json(r, details)?,
            created_at: get(r, created_at)?,
            updated_at: get(r, updated_at)?,
        })
    }))
}

pub fn authenticators_of(stmt: &Statement<'_>) -> Result<Reader<authenticator::Model>> {
    let [
        id,
        user_id,
        kind,
        factor,
        is_default,
        password_hash,
        expire_after,
        oob_target,
        display_name,
        totp_secret,
        totp_last_step,
        passkey_credential_id,
        created_at,
        updated_at,
    ] = columns(
        stmt,
        [
            "id",
            "user_id",
            "kind",
            "factor",
            "is_default",
            "password_hash",
            "expire_after",
            "oob_target",
            "display_name",
            "totp_secret",
            "totp_last_step",
            "passkey_credential_id",
            "created_at",
            "updated_at",
        ],
    )?;
    Ok(Box::new(move |r| {
        Ok(authenticator::Model {
            id: uuid(r, id)?,
            user_id: uuid(r, user_id)?,
            kind: get(r, kind)?,
            factor: get(r, factor)?,
            is_default: get(r, is_default)?,
            password_hash: get(r, password_hash)?,
            expire_after: get(r, expire_after)?,
            oob_target: get(r, oob_target)?,
            display_name: get(r, display_name)?,
            totp_secret: get(r, totp_secret)?,
            totp_last_step: get(r, totp_last_step)?,
            passkey_credential_id: get(r, passkey_credential_id)?,
            created_at: get(r, created_at)?,
            updated_at: get(r, updated_at)?,
        })
    }))
}

/// `(user_id, key)`: the first two columns.
pub fn keys_of(_: &Statement<'_>) -> Result<Reader<(Uuid, String)>> {
    Ok(Box::new(|r| Ok((uuid(r, 0)?, get(r, 1)?))))
}
