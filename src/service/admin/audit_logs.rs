//! The audit log as the Admin API reads it: filters, pages and counts. Rows are written
//! by the unit of work (`unit_of_work/audit_row.rs`).

use crate::domain::ids::{AuditLogId, TypedId, UserId};
use crate::domain::text::check_list;
use crate::service::AuditLogs;
use crate::service::Result;
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use crate::service::store::time::micros;
use crate::service::store::time::time_of;
use entity::audit_log;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use time::OffsetDateTime;

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
    pub user_ids: Vec<UserId>,
    /// Users with these email login IDs (OR-ed with `user_ids`).
    pub emails: Vec<String>,
    /// Users with these phone login IDs (OR-ed with `user_ids`).
    pub phones: Vec<String>,
    /// Newest first (the default) or oldest first.
    pub ascending: bool,
}

impl AuditLogs<'_> {
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
            users.extend(self.users().user_ids_by_unique_keys(&keys).await?);
        }
        if !f.user_ids.is_empty() || by_recipient {
            cond = cond.add(Expr::col(audit_log::Column::UserId).is_in(users));
        }
        Ok(cond)
    }

    /// Lists audit log entries, newest first unless `ascending`.
    pub async fn list(&self, f: &AuditFilter, args: &PageArgs) -> Result<Page<AuditLog>> {
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
        let rows: Vec<AuditLog> = q.all(&self.db.reader()).await?.into_iter().map(AuditLog::from).collect();
        Ok(ks.finish(&plan, rows, |r| Cursor::time(Some(r.created_at), r.id.uuid())))
    }

    /// Counts audit log entries matching `f`.
    pub async fn count(&self, f: &AuditFilter) -> Result<u64> {
        let cond = self.audit_condition(f).await?;
        Ok(audit_log::Entity::find().filter(cond).count(&self.db.reader()).await?)
    }

    /// Loads audit log entries by ID.
    pub async fn by_ids(&self, ids: &[AuditLogId]) -> Result<Vec<AuditLog>> {
        let rows = audit_log::Entity::find()
            .filter(Expr::col(audit_log::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(AuditLog::from).collect())
    }
}

/// An audit log entry.
#[derive(Debug, Clone)]
pub struct AuditLog {
    /// ID.
    pub id: AuditLogId,
    /// When.
    pub created_at: OffsetDateTime,
    /// Activity type, e.g. `admin_api.mutation.create_user.executed`.
    pub activity_type: String,
    /// Affected user.
    pub user_id: Option<UserId>,
    /// Who acted.
    pub actor: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// OAuth client.
    pub client_id: Option<String>,
    /// The whole event.
    pub data: Value,
}

impl From<entity::audit_log::Model> for AuditLog {
    fn from(m: entity::audit_log::Model) -> Self {
        Self {
            id: m.id.into(),
            created_at: time_of(m.created_at),
            activity_type: m.activity_type,
            user_id: m.user_id.map(UserId::from),
            actor: m.actor,
            ip_address: m.ip_address,
            user_agent: m.user_agent,
            client_id: m.client_id,
            data: m.data,
        }
    }
}
