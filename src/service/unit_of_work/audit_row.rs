//! The audit log: rows written inside the transaction of the change they record.

use crate::service::store::time::micros;
use crate::service::{Actor, Audit};
use entity::audit_log;
use sea_orm::Set;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest identifier (actor, IP address, client ID, a payload's `*_id` or `login_id`
/// value) an audit row keeps, in characters.
pub const MAX_AUDIT_ID: usize = 256;

/// Longest user agent an audit row keeps, in characters.
pub const MAX_AUDIT_USER_AGENT: usize = 512;

/// Longest other payload string an audit row keeps, in characters.
pub const MAX_AUDIT_TEXT: usize = crate::domain::text::MAX_TEXT;

/// Appended to a value the audit log cut short.
pub const CUT_MARKER: &str = "…[truncated]";

/// `s` cut to at most `max` characters (on a character boundary) and marked as cut.
pub fn bound(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}{CUT_MARKER}", &s[..end]),
        None => s.to_owned(),
    }
}

fn bound_opt(s: &Option<String>, max: usize) -> Option<String> {
    s.as_deref().map(|s| bound(s, max))
}

/// Bounds every string (and key) in a payload: identifiers to [`MAX_AUDIT_ID`], other text
/// to [`MAX_AUDIT_TEXT`]. Whatever a caller submitted (a 1 MB login ID), the row stays small.
/// A payload within the bounds (nearly every one) is left as it is, without a copy.
fn bound_payload(v: &mut Value, max: usize) {
    match v {
        Value::String(s) if s.chars().nth(max).is_some() => *s = bound(s, max),
        Value::Array(items) => items.iter_mut().for_each(|i| bound_payload(i, max)),
        Value::Object(map) if map.keys().any(|k| k.chars().nth(MAX_AUDIT_ID).is_some()) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    bound_payload(&mut v, value_bound(&k, max));
                    (bound(&k, MAX_AUDIT_ID), v)
                })
                .collect();
        }
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| bound_payload(v, value_bound(k, max))),
        _ => {}
    }
}

/// The bound of the value under `key`: identifiers (`id`, `*_id`, `login_id`) get
/// [`MAX_AUDIT_ID`], other values `max`. Judged by the key as the caller gave it.
fn value_bound(key: &str, max: usize) -> usize {
    if key == "id" || key.ends_with("_id") || key == "login_id" { MAX_AUDIT_ID } else { max }
}

/// Builds an audit row: the whole event (type, payload, context) goes into `data`. Every
/// string a caller could supply is bounded (see [`bound`]).
pub fn row(audit: &Audit, user_id: Option<Uuid>, mut payload: Value, at: OffsetDateTime) -> audit_log::Model {
    let a = &Actor {
        subject: bound_opt(&audit.actor.subject, MAX_AUDIT_ID),
        ip: bound_opt(&audit.actor.ip, MAX_AUDIT_ID),
        user_agent: bound_opt(&audit.actor.user_agent, MAX_AUDIT_USER_AGENT),
        client_id: bound_opt(&audit.actor.client_id, MAX_AUDIT_ID),
        triggered_by: audit.actor.triggered_by,
    };
    bound_payload(&mut payload, MAX_AUDIT_TEXT);
    let data = json!({
        "type": audit.activity,
        "payload": payload,
        "context": {
            "timestamp": at.unix_timestamp(),
            "actor": a.subject,
            "user_id": user_id,
            "ip_address": a.ip,
            "user_agent": a.user_agent,
            "client_id": a.client_id,
            "triggered_by": a.triggered_by.as_str(),
        },
    });
    audit_log::Model {
        id: Uuid::now_v7(),
        created_at: micros(at),
        activity_type: audit.activity.clone(),
        user_id,
        actor: a.subject.clone(),
        ip_address: a.ip.clone(),
        user_agent: a.user_agent.clone(),
        client_id: a.client_id.clone(),
        data,
    }
}

/// The statement that inserts `m`, its text built once per kind of database. Nothing is
/// read back: the row is known, and decoding its payload again costs more than the insert.
pub(in crate::service) fn insert_statement(backend: sea_orm::DbBackend, m: audit_log::Model) -> sea_orm::Statement {
    static TEXT: crate::service::store::built_once::BuiltOnce = crate::service::store::built_once::BuiltOnce::new();
    TEXT.insert(backend, active(m))
}

/// The row to insert.
pub fn active(m: audit_log::Model) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        id: Set(m.id),
        created_at: Set(m.created_at),
        activity_type: Set(m.activity_type),
        user_id: Set(m.user_id),
        actor: Set(m.actor),
        ip_address: Set(m.ip_address),
        user_agent: Set(m.user_agent),
        client_id: Set(m.client_id),
        data: Set(m.data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_cuts_on_a_char_boundary_and_marks_the_cut() {
        assert_eq!(bound("abc", 3), "abc");
        assert_eq!(bound("ééé", 2), format!("éé{CUT_MARKER}"));
        let mut v = json!({"login_id": "x".repeat(1000), "note": ["y".repeat(5000)], "k".repeat(300): "z"});
        bound_payload(&mut v, MAX_AUDIT_TEXT);
        assert_eq!(v["login_id"].as_str().map(|s| s.chars().count()), Some(MAX_AUDIT_ID + CUT_MARKER.chars().count()));
        assert!(v["note"][0].as_str().is_some_and(|s| s.ends_with(CUT_MARKER)));
        let long_key = format!("{}{CUT_MARKER}", "k".repeat(MAX_AUDIT_ID));
        assert_eq!(v[long_key.as_str()], "z", "a key past the bound is cut and keeps its value");
        // A long key that names an identifier bounds its value as one, as before the cut.
        let mut ids = json!({format!("{}_id", "k".repeat(300)): "i".repeat(1000)});
        bound_payload(&mut ids, MAX_AUDIT_TEXT);
        let value = ids.as_object().and_then(|m| m.values().next()).and_then(Value::as_str).unwrap_or_default();
        assert_eq!(value.chars().count(), MAX_AUDIT_ID + CUT_MARKER.chars().count());
        let mut within = json!({"a": "b", "list": ["c"]});
        bound_payload(&mut within, MAX_AUDIT_TEXT);
        assert_eq!(within, json!({"a": "b", "list": ["c"]}));
    }
}
