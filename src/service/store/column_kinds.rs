//! The sea-query value a SQLite column reads as, for rows read outside sqlx (the direct
//! writer). sea-orm decodes such rows by value variant, strictly: an `i32` field takes
//! only `Value::Int`, a `Uuid` only `Value::Uuid`. SQLite stores all integers alike and
//! UUIDs as blobs, so the variant comes from the entity that declares the column (its
//! table and column, as SQLite reports them for a result column), else from the declared
//! type of a table no entity maps, else, for an expression, from the value itself.

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::types::ValueRef;
use sea_orm::sea_query::{ColumnType, Value};
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable};
use uuid::Uuid;

/// What a column holds, as sea-orm reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `i32`.
    Int,
    /// `i64` (also every time, in microseconds).
    BigInt,
    /// `bool`, stored as 0 or 1.
    Bool,
    /// `Uuid`, stored as 16 bytes.
    Uuid,
    /// `serde_json::Value`, stored as text.
    Json,
    /// `Vec<u8>`.
    Bytes,
    /// `f64`.
    Double,
    /// `String`.
    Text,
}

type Kinds = HashMap<&'static str, HashMap<&'static str, Kind>>;

fn of_type(t: &ColumnType) -> Kind {
    match t {
        ColumnType::TinyInteger | ColumnType::SmallInteger | ColumnType::Integer => Kind::Int,
        ColumnType::BigInteger => Kind::BigInt,
        ColumnType::Boolean => Kind::Bool,
        ColumnType::Uuid => Kind::Uuid,
        ColumnType::Json | ColumnType::JsonBinary => Kind::Json,
        ColumnType::Binary(_) | ColumnType::VarBinary(_) | ColumnType::Blob => Kind::Bytes,
        ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => Kind::Double,
        _ => Kind::Text,
    }
}

fn add<E: EntityTrait>(kinds: &mut Kinds) {
    let table = E::default().table_name();
    let columns = kinds.entry(table).or_default();
    for c in E::Column::iter() {
        columns.insert(c.as_str(), of_type(c.def().get_column_type()));
    }
}

static ENTITIES: LazyLock<Kinds> = LazyLock::new(|| {
    use entity::*;
    let mut k = Kinds::new();
    add::<application::Entity>(&mut k);
    add::<audit_log::Entity>(&mut k);
    add::<authenticator::Entity>(&mut k);
    add::<authorization::Entity>(&mut k);
    add::<authorization_code::Entity>(&mut k);
    add::<client_resource::Entity>(&mut k);
    add::<client_scope::Entity>(&mut k);
    add::<client_secret::Entity>(&mut k);
    add::<consumed_challenge::Entity>(&mut k);
    add::<device_token::Entity>(&mut k);
    add::<fraud_protection_decision::Entity>(&mut k);
    add::<group::Entity>(&mut k);
    add::<group_role::Entity>(&mut k);
    add::<hook_event::Entity>(&mut k);
    add::<hook_script::Entity>(&mut k);
    add::<identity::Entity>(&mut k);
    add::<job_lock::Entity>(&mut k);
    add::<otp_code::Entity>(&mut k);
    add::<password_history::Entity>(&mut k);
    add::<password_reset_code::Entity>(&mut k);
    add::<rate_limit::Entity>(&mut k);
    add::<refresh_token::Entity>(&mut k);
    add::<resource::Entity>(&mut k);
    add::<resource_scope::Entity>(&mut k);
    add::<revoked_token::Entity>(&mut k);
    add::<role::Entity>(&mut k);
    add::<session::Entity>(&mut k);
    add::<signing_key::Entity>(&mut k);
    add::<user::Entity>(&mut k);
    add::<user_export::Entity>(&mut k);
    add::<user_group::Entity>(&mut k);
    add::<user_import::Entity>(&mut k);
    add::<user_import_outcome::Entity>(&mut k);
    add::<user_import_result::Entity>(&mut k);
    add::<user_role::Entity>(&mut k);
    add::<verified_claim::Entity>(&mut k);
    add::<webhook_delivery::Entity>(&mut k);
    k
});

/// The kind of a column declared `decl` (sea-query's SQLite type names) in a table no
/// entity maps.
fn of_declared(decl: &str) -> Kind {
    let d = decl.to_ascii_lowercase();
    if d.starts_with("uuid") {
        Kind::Uuid
    } else if d.starts_with("bool") {
        Kind::Bool
    } else if d.starts_with("json") {
        Kind::Json
    } else if d.contains("int") {
        Kind::BigInt
    } else if d.contains("blob") || d.contains("binary") {
        Kind::Bytes
    } else if d.starts_with("real") || d.starts_with("float") || d.starts_with("double") {
        Kind::Double
    } else {
        Kind::Text
    }
}

/// The kind of a result column that comes from `table`.`column` (declared `decl`), or
/// `None` for an expression.
pub(super) fn of(table: Option<&str>, column: Option<&str>, decl: Option<&str>) -> Option<Kind> {
    if let (Some(t), Some(c)) = (table, column)
        && let Some(k) = ENTITIES.get(t).and_then(|cols| cols.get(c))
    {
        return Some(*k);
    }
    decl.map(of_declared)
}

/// A SQLite value as the sea-query value of its kind (an expression's by its storage
/// class: integers as `i64`).
pub(super) fn value(kind: Option<Kind>, v: ValueRef<'_>) -> Result<Value, String> {
    let text = |t: &[u8]| String::from_utf8(t.to_vec()).map_err(|e| format!("text that is not UTF-8: {e}"));
    Ok(match (kind, v) {
        (Some(Kind::Int), ValueRef::Null) => Value::Int(None),
        (Some(Kind::Bool), ValueRef::Null) => Value::Bool(None),
        (Some(Kind::Uuid), ValueRef::Null) => Value::Uuid(None),
        (Some(Kind::Json), ValueRef::Null) => Value::Json(None),
        (Some(Kind::Bytes), ValueRef::Null) => Value::Bytes(None),
        (Some(Kind::Double), ValueRef::Null) => Value::Double(None),
        (Some(Kind::Text), ValueRef::Null) => Value::String(None),
        (_, ValueRef::Null) => Value::BigInt(None),
        (Some(Kind::Int), ValueRef::Integer(i)) => {
            Value::Int(Some(i32::try_from(i).map_err(|_| format!("{i} is beyond a 32-bit column"))?))
        }
        (Some(Kind::Bool), ValueRef::Integer(i)) => Value::Bool(Some(i != 0)),
        (Some(Kind::Double), ValueRef::Integer(i)) => Value::Double(Some(i as f64)),
        (Some(Kind::Uuid), ValueRef::Blob(b)) => {
            Value::Uuid(Some(Uuid::from_slice(b).map_err(|e| format!("a UUID column: {e}"))?))
        }
        (Some(Kind::Uuid), ValueRef::Text(t)) => {
            Value::Uuid(Some(Uuid::try_parse_ascii(t).map_err(|e| format!("a UUID column: {e}"))?))
        }
        (Some(Kind::Json), ValueRef::Text(t) | ValueRef::Blob(t)) => {
            Value::Json(Some(Box::new(serde_json::from_slice(t).map_err(|e| format!("a JSON column: {e}"))?)))
        }
        (Some(Kind::Text), ValueRef::Blob(b)) => Value::String(Some(text(b)?)),
        (_, ValueRef::Integer(i)) => Value::BigInt(Some(i)),
        (_, ValueRef::Real(f)) => Value::Double(Some(f)),
        (_, ValueRef::Text(t)) => Value::String(Some(text(t)?)),
        (_, ValueRef::Blob(b)) => Value::Bytes(Some(b.to_vec())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_columns_read_as_their_fields_decode() {
        assert_eq!(of(Some("otp_codes"), Some("failed_attempts"), Some("integer")), Some(Kind::Int));
        assert_eq!(of(Some("users"), Some("id"), Some("uuid_text")), Some(Kind::Uuid));
        assert_eq!(of(Some("users"), Some("created_at"), Some("integer")), Some(Kind::BigInt));
        assert_eq!(of(Some("no_entity"), Some("x"), Some("boolean")), Some(Kind::Bool));
        assert_eq!(of(None, None, None), None);
        assert_eq!(value(Some(Kind::Bool), ValueRef::Integer(1)), Ok(Value::Bool(Some(true))));
        assert_eq!(value(None, ValueRef::Integer(7)), Ok(Value::BigInt(Some(7))));
        assert!(value(Some(Kind::Int), ValueRef::Integer(1 << 40)).is_err());
        let id = Uuid::new_v4();
        assert_eq!(value(Some(Kind::Uuid), ValueRef::Blob(id.as_bytes())), Ok(Value::Uuid(Some(id))));
    }
}
