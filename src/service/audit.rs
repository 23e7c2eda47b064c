//! The audit log: rows written inside the transaction of the change they record.

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use super::types::{AuditLog, micros, now};
use super::{Actor, Audit, Result, Services};
use crate::domain::text::check_list;
use entity::audit_log;

/// Writes one audit row on `conn` (the caller's transaction).
pub async fn record(conn: &impl ConnectionTrait, audit: &Audit, user_id: Option<Uuid>, payload: Value) -> Result<()> {
    record_at(conn, audit, user_id, payload, now()).await
}

/// Writes one audit row with an explicit time.
pub async fn record_at(
    conn: &impl ConnectionTrait,
    audit: &Audit,
    user_id: Option<Uuid>,
    payload: Value,
    at: OffsetDateTime,
) -> Result<()> {
    row(audit, user_id, payload, at).insert(conn).await?;
    Ok(())
}

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
fn bound_payload(v: Value, max: usize) -> Value {
    match v {
        Value::String(s) if s.chars().nth(max).is_some() => Value::String(bound(&s, max)),
        Value::Array(items) => Value::Array(items.into_iter().map(|i| bound_payload(i, max)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let inner = if k == "id" || k.ends_with("_id") || k == "login_id" { MAX_AUDIT_ID } else { max };
                    (bound(&k, MAX_AUDIT_ID), bound_payload(v, inner))
                })
                .collect(),
        ),
        other => other,
    }
}

/// Builds an audit row: the whole event (type, payload, context) goes into `data`. Every
/// string a caller could supply is bounded (see [`bound`]).
pub fn row(audit: &Audit, user_id: Option<Uuid>, payload: Value, at: OffsetDateTime) -> audit_log::ActiveModel {
    let a = &Actor {
        subject: bound_opt(&audit.actor.subject, MAX_AUDIT_ID),
        ip: bound_opt(&audit.actor.ip, MAX_AUDIT_ID),
        user_agent: bound_opt(&audit.actor.user_agent, MAX_AUDIT_USER_AGENT),
        client_id: bound_opt(&audit.actor.client_id, MAX_AUDIT_ID),
    };
    let payload = bound_payload(payload, MAX_AUDIT_TEXT);
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
        },
    });
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(micros(at)),
        activity_type: Set(audit.activity.clone()),
        user_id: Set(user_id),
        actor: Set(a.subject.clone()),
        ip_address: Set(a.ip.clone()),
        user_agent: Set(a.user_agent.clone()),
        client_id: Set(a.client_id.clone()),
        data: Set(data),
    }
}

/// Filters of the `auditLogs` query.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Activity types (lower-case dotted form); empty means all.
    pub activity_types: Vec<String>,
    /// Inclusive lower bound.
    pub range_from: Option<OffsetDateTime>,
    /// Exclusive upper bound.
    pub range_to: Option<OffsetDateTime>,
    /// Affected users.
    pub user_ids: Vec<Uuid>,
    /// Users with these email login IDs (OR-ed with `user_ids`).
    pub emails: Vec<String>,
    /// Users with these phone login IDs (OR-ed with `user_ids`).
    pub phones: Vec<String>,
    /// Newest first (the default) or oldest first.
    pub ascending: bool,
}

impl Services {
    async fn audit_condition(&self, f: &AuditFilter) -> Result<Condition> {
        check_list("userIDs", f.user_ids.len())?;
        check_list("emailAddresses", f.emails.len())?;
        check_list("phoneNumbers", f.phones.len())?;
        let mut cond = Condition::all();
        if !f.activity_types.is_empty() {
            cond = cond.add(Expr::col(audit_log::Column::ActivityType).is_in(f.activity_types.clone()));
        }
        if let Some(from) = f.range_from {
            cond = cond.add(Expr::col(audit_log::Column::CreatedAt).gte(micros(from)));
        }
        if let Some(to) = f.range_to {
            cond = cond.add(Expr::col(audit_log::Column::CreatedAt).lt(micros(to)));
        }
        let mut users = f.user_ids.clone();
        let mut keys = Vec::new();
        for e in &f.emails {
            keys.push(crate::domain::login_id::LoginId::lookup_key(&self.config.login_id, "email", e)?);
        }
        for p in &f.phones {
            keys.push(crate::domain::login_id::LoginId::lookup_key(&self.config.login_id, "phone", p)?);
        }
        let by_recipient = !keys.is_empty();
        if by_recipient {
            users.extend(self.user_ids_by_unique_keys(&keys).await?);
        }
        if !f.user_ids.is_empty() || by_recipient {
            cond = cond.add(Expr::col(audit_log::Column::UserId).is_in(users));
        }
        Ok(cond)
    }

    /// Lists audit log entries, newest first unless `ascending`.
    pub async fn audit_logs(&self, f: &AuditFilter, args: &PageArgs) -> Result<Page<AuditLog>> {
        let plan = args.plan()?;
        let cond = self.audit_condition(f).await?;
        let ks = Keyset {
            table: "audit_logs",
            column: "created_at",
            desc: !f.ascending,
            nullable: false,
            kind: SortKind::Time,
        };
        let q = ks.apply(audit_log::Entity::find().filter(cond), &plan)?;
        let rows: Vec<AuditLog> = q.all(&self.db.conn).await?.into_iter().map(AuditLog::from).collect();
        Ok(ks.finish(&plan, rows, |r| Cursor::time(Some(r.created_at), r.id)))
    }

    /// Counts audit log entries matching `f`.
    pub async fn count_audit_logs(&self, f: &AuditFilter) -> Result<u64> {
        let cond = self.audit_condition(f).await?;
        Ok(audit_log::Entity::find().filter(cond).count(&self.db.conn).await?)
    }

    /// Loads audit log entries by ID.
    pub async fn audit_logs_by_ids(&self, ids: &[Uuid]) -> Result<Vec<AuditLog>> {
        let rows = audit_log::Entity::find()
            .filter(Expr::col(audit_log::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.conn)
            .await?;
        Ok(rows.into_iter().map(AuditLog::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_cuts_on_a_char_boundary_and_marks_the_cut() {
        assert_eq!(bound("abc", 3), "abc");
        assert_eq!(bound("ééé", 2), format!("éé{CUT_MARKER}"));
        let v = bound_payload(json!({"login_id": "x".repeat(1000), "note": ["y".repeat(5000)]}), MAX_AUDIT_TEXT);
        assert_eq!(v["login_id"].as_str().map(|s| s.chars().count()), Some(MAX_AUDIT_ID + CUT_MARKER.chars().count()));
        assert!(v["note"][0].as_str().is_some_and(|s| s.ends_with(CUT_MARKER)));
    }
}
