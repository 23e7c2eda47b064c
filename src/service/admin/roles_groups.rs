//! Roles and groups, and the links between them and users. Both kinds share one table
//! shape (`id, key, name, description`), so one implementation serves both.

use crate::domain::ids::{GroupId, RoleId, TypedId, UserId};
use crate::domain::key::validate_key;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::domain::text::{check_list, check_text};
use crate::service::RolesGroups;
use crate::service::admin::user_rows::admin_user_row;
use crate::service::admin::users::User;
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use crate::service::store::time::time_of;
use crate::service::store::time::{micros, now};
use crate::service::{Audit, Error, Result, conflict_on_unique};
use entity::user;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict, Query, SelectStatement};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Role or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A role.
    Role,
    /// A group.
    Group,
}

/// The ID of a role or a group: which table it names travels with its type.
pub trait KeyedId: TypedId {
    /// Role or group.
    const KIND: Kind;
}

impl KeyedId for RoleId {
    const KIND: Kind = Kind::Role;
}

impl KeyedId for GroupId {
    const KIND: Kind = Kind::Group;
}

impl Kind {
    /// Table name.
    pub fn table(self) -> &'static str {
        match self {
            Self::Role => "roles",
            Self::Group => "groups",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Group => "group",
        }
    }
    fn not_found(self, what: impl std::fmt::Display) -> Error {
        match self {
            Self::Role => Error::not_found(reason::ROLE_NOT_FOUND, format!("role {what} does not exist")),
            Self::Group => Error::not_found(reason::GROUP_NOT_FOUND, format!("group {what} does not exist")),
        }
    }
    fn duplicate(self, key: &str) -> Error {
        match self {
            Self::Role => {
                Error::conflict(reason::ROLE_DUPLICATE_KEY, format!("a role with key {} already exists", quoted(key)))
            }
            Self::Group => {
                Error::conflict(reason::GROUP_DUPLICATE_KEY, format!("a group with key {} already exists", quoted(key)))
            }
        }
    }
}

/// A many-to-many link table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// users ↔ roles.
    UserRole,
    /// users ↔ groups.
    UserGroup,
    /// groups ↔ roles.
    GroupRole,
}

impl Link {
    /// (table, left column, right column).
    pub fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::UserRole => ("user_roles", "user_id", "role_id"),
            Self::UserGroup => ("user_groups", "user_id", "group_id"),
            Self::GroupRole => ("group_roles", "group_id", "role_id"),
        }
    }
}

/// Filters of the `roles` and `groups` queries and of nested lists.
#[derive(Debug, Clone, Default)]
pub struct KeyedFilter {
    /// Prefix of key or name (case-insensitive).
    pub search: Option<String>,
    /// IDs to leave out.
    pub excluded: Vec<Uuid>,
    /// Only roles of this group (for roles) or groups having this role (for groups).
    pub linked_to: Option<Uuid>,
}

fn select_keyed(kind: Kind) -> SelectStatement {
    let t = kind.table();
    Query::select()
        .columns([(t, "id"), (t, "key"), (t, "name"), (t, "description"), (t, "created_at"), (t, "updated_at")])
        .from(t)
        .to_owned()
}

async fn fetch(conn: &impl ConnectionTrait, q: &SelectStatement) -> Result<Vec<Keyed>> {
    let rows = conn.query_all(q).await?;
    rows.iter().map(|r| KeyedRow::from_query_result(r, "").map(Keyed::from).map_err(Error::from)).collect()
}

/// Loads rows of `kind` by key inside `conn`; every key must exist.
async fn by_keys(conn: &impl ConnectionTrait, kind: Kind, keys: &[String]) -> Result<Vec<Keyed>> {
    let mut q = select_keyed(kind);
    q.and_where(Expr::col((kind.table(), "key")).is_in(keys.to_vec()));
    let rows = fetch(conn, &q).await?;
    if let Some(missing) = keys.iter().find(|k| !rows.iter().any(|r| &r.key == *k)) {
        return Err(kind.not_found(quoted(missing).to_string()));
    }
    Ok(rows)
}

async fn by_id(conn: &impl ConnectionTrait, kind: Kind, id: Uuid) -> Result<Keyed> {
    let mut q = select_keyed(kind);
    q.and_where(Expr::col((kind.table(), "id")).eq(id));
    fetch(conn, &q).await?.into_iter().next().ok_or_else(|| kind.not_found(id))
}

async fn by_key(conn: &impl ConnectionTrait, kind: Kind, key: &str) -> Result<Keyed> {
    Ok(by_keys(conn, kind, &[key.to_owned()]).await?.remove(0))
}

fn filter_stmt(kind: Kind, f: &KeyedFilter) -> SelectStatement {
    let t = kind.table();
    let mut q = select_keyed(kind);
    if let Some(kw) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("{}%", like_escape(&kw.to_lowercase()));
        q.cond_where(
            sea_orm::sea_query::Condition::any()
                .add(Expr::expr(Func::lower(Expr::col((t, "key")))).like(LikeExpr::new(pattern.clone()).escape('\\')))
                .add(Expr::expr(Func::lower(Expr::col((t, "name")))).like(LikeExpr::new(pattern).escape('\\'))),
        );
    }
    if !f.excluded.is_empty() {
        q.and_where(Expr::col((t, "id")).is_not_in(f.excluded.clone()));
    }
    if let Some(other) = f.linked_to {
        let (link, l, r) = Link::GroupRole.parts();
        let (mine, theirs) = if kind == Kind::Role { (r, l) } else { (l, r) };
        q.and_where(
            Expr::col((t, "id"))
                .in_subquery(Query::select().column(mine).from(link).and_where(Expr::col(theirs).eq(other)).to_owned()),
        );
    }
    q
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as the escape character.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl RolesGroups<'_> {
    /// Creates a role or group.
    pub async fn create(
        &self,
        audit: &Audit,
        kind: Kind,
        key: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Keyed> {
        validate_key(kind.name(), key)?;
        check_text("name", name.as_deref().unwrap_or(""))?;
        check_text("description", description.as_deref().unwrap_or(""))?;
        let t = now();
        let id = Uuid::now_v7();
        self.write(async |tx| {
            let txn = tx.conn();
            let stmt = Query::insert()
                .into_table(kind.table())
                .columns(["id", "key", "name", "description", "created_at", "updated_at"])
                .values([
                    id.into(),
                    key.into(),
                    name.filter(|s| !s.is_empty()).into(),
                    description.filter(|s| !s.is_empty()).into(),
                    micros(t).into(),
                    micros(t).into(),
                ])
                .map_err(Error::internal)?
                .to_owned();
            txn.execute(&stmt).await.map_err(|e| match conflict_on_unique(e, reason::DUPLICATE, "") {
                Error::Conflict { .. } => kind.duplicate(key),
                other => other,
            })?;
            let row = by_id(txn, kind, id).await?;
            tx.record(audit, None, json!({kind.name(): row_json(&row)})).await?;
            Ok(row)
        })
        .await
    }

    /// Updates a role or group: `None` keeps a field; an empty name or description clears it.
    pub async fn update<I: KeyedId>(
        &self,
        audit: &Audit,
        id: I,
        key: Option<String>,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Keyed> {
        let (kind, id) = (I::KIND, id.uuid());
        if let Some(k) = &key {
            validate_key(kind.name(), k)?;
        }
        check_text("name", name.as_deref().unwrap_or(""))?;
        check_text("description", description.as_deref().unwrap_or(""))?;
        self.write(async |tx| {
            let txn = tx.conn();
            let old = by_id(txn, kind, id).await?;
            let new_key = key.unwrap_or(old.key.clone());
            let mut stmt = Query::update();
            stmt.table(kind.table())
                .value("key", new_key.clone())
                .value("updated_at", micros(now()))
                .and_where(Expr::col("id").eq(id));
            if let Some(n) = name {
                stmt.value("name", Some(n).filter(|s| !s.is_empty()));
            }
            if let Some(d) = description {
                stmt.value("description", Some(d).filter(|s| !s.is_empty()));
            }
            txn.execute(&stmt).await.map_err(|e| match conflict_on_unique(e, reason::DUPLICATE, "") {
                Error::Conflict { .. } => kind.duplicate(&new_key),
                other => other,
            })?;
            let row = by_id(txn, kind, id).await?;
            tx.record(audit, None, json!({kind.name(): row_json(&row), "original": row_json(&old)})).await?;
            Ok(row)
        })
        .await
    }

    /// Deletes a role or group and its links.
    pub async fn delete<I: KeyedId>(&self, audit: &Audit, id: I) -> Result<()> {
        let (kind, id) = (I::KIND, id.uuid());
        self.write(async |tx| {
            let txn = tx.conn();
            let old = by_id(txn, kind, id).await?;
            txn.execute(&Query::delete().from_table(kind.table()).and_where(Expr::col("id").eq(id)).to_owned()).await?;
            tx.record(audit, None, json!({kind.name(): row_json(&old)})).await?;
            Ok(())
        })
        .await
    }

    /// Lists roles or groups ordered by key.
    pub async fn list(&self, kind: Kind, f: &KeyedFilter, args: &PageArgs) -> Result<Page<Keyed>> {
        let plan = args.plan()?;
        check_text("searchKeyword", f.search.as_deref().unwrap_or(""))?;
        check_list("excludedIDs", f.excluded.len())?;
        let mut q = filter_stmt(kind, f);
        let ks = Keyset { table: kind.table(), column: "key", desc: false, nullable: false, kind: SortKind::Key };
        ks.apply_stmt(&mut q, &plan)?;
        let rows = fetch(&self.db.reader(), &q).await?;
        Ok(ks.finish(&plan, rows, |r| Cursor::key(&r.key, r.id)))
    }

    /// Counts roles or groups matching `f`.
    pub async fn count(&self, kind: Kind, f: &KeyedFilter) -> Result<u64> {
        Ok(self.db.count_rows(filter_stmt(kind, f)).await?)
    }

    /// Loads roles or groups by ID.
    pub async fn by_ids<I: KeyedId>(&self, ids: &[I]) -> Result<Vec<Keyed>> {
        let kind = I::KIND;
        let mut q = select_keyed(kind);
        q.and_where(Expr::col((kind.table(), "id")).is_in(ids.iter().map(|i| i.uuid())));
        fetch(&self.db.reader(), &q).await
    }

    /// Loads one role or group by key.
    pub async fn by_key(&self, kind: Kind, key: &str) -> Result<Keyed> {
        by_key(&self.db.reader(), kind, key).await
    }

    /// Adds or removes links between one role/group (by key) and users (by ID).
    pub async fn link_users(
        &self,
        audit: &Audit,
        kind: Kind,
        key: &str,
        user_ids: &[UserId],
        add: bool,
    ) -> Result<Keyed> {
        let link = if kind == Kind::Role { Link::UserRole } else { Link::UserGroup };
        check_list("userIDs", user_ids.len())?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = by_key(txn, kind, key).await?;
            let found = user::Entity::find()
                .filter(Expr::col(user::Column::Id).is_in(user_ids.to_vec()))
                .select_only()
                .column(user::Column::Id)
                .into_tuple::<Uuid>()
                .all(txn)
                .await?;
            if let Some(missing) = user_ids.iter().find(|u| !found.contains(&u.uuid())) {
                return Err(Error::not_found(reason::USER_NOT_FOUND, format!("user {missing} does not exist")));
            }
            let pairs: Vec<(Uuid, Uuid)> = user_ids.iter().map(|u| (u.uuid(), row.id)).collect();
            set_links(txn, link, &pairs, add).await?;
            if user_ids.is_empty() {
                tx.record(audit, None, json!({kind.name(): row_json(&row), "user_ids": []})).await?;
            }
            for uid in user_ids {
                tx.record(audit, Some(uid.uuid()), json!({kind.name(): row_json(&row), "user_id": uid})).await?;
            }
            Ok(row)
        })
        .await
    }

    /// Adds or removes links between one user and roles or groups (by key).
    pub async fn link_user(
        &self,
        audit: &Audit,
        user_id: UserId,
        kind: Kind,
        keys: &[String],
        add: bool,
    ) -> Result<User> {
        let link = if kind == Kind::Role { Link::UserRole } else { Link::UserGroup };
        check_list("keys", keys.len())?;
        self.write(async |tx| {
            let txn = tx.conn();
            let user = admin_user_row(txn, user_id.uuid()).await?;
            let rows = by_keys(txn, kind, keys).await?;
            let pairs: Vec<(Uuid, Uuid)> = rows.iter().map(|r| (user_id.uuid(), r.id)).collect();
            set_links(txn, link, &pairs, add).await?;
            let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
            tx.record(audit, Some(user_id.uuid()), json!({format!("{}_keys", kind.name()): keys})).await?;
            Ok(user.into())
        })
        .await
    }

    /// Adds or removes links between one role or group (by key) and groups or roles (by key).
    pub async fn link_role_group(
        &self,
        audit: &Audit,
        kind: Kind,
        key: &str,
        other_keys: &[String],
        add: bool,
    ) -> Result<Keyed> {
        let other = if kind == Kind::Role { Kind::Group } else { Kind::Role };
        check_list("keys", other_keys.len())?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = by_key(txn, kind, key).await?;
            let others = by_keys(txn, other, other_keys).await?;
            let pairs: Vec<(Uuid, Uuid)> =
                others.iter().map(|o| if kind == Kind::Role { (o.id, row.id) } else { (row.id, o.id) }).collect();
            set_links(txn, Link::GroupRole, &pairs, add).await?;
            let keys: Vec<&str> = others.iter().map(|r| r.key.as_str()).collect();
            tx.record(audit, None, json!({kind.name(): row_json(&row), format!("{}_keys", other.name()): keys}))
                .await?;
            Ok(row)
        })
        .await
    }

    /// Counts rows of a link table for one side (used by nested connections' totalCount).
    pub async fn count_links(&self, link: Link, right_side: bool, id: Uuid) -> Result<u64> {
        let (table, l, r) = link.parts();
        let q = Query::select()
            .expr(Expr::val(1))
            .from(table)
            .and_where(Expr::col(if right_side { r } else { l }).eq(id))
            .to_owned();
        Ok(self.db.count_rows(q).await?)
    }
}

async fn set_links(conn: &impl ConnectionTrait, link: Link, pairs: &[(Uuid, Uuid)], add: bool) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let (table, l, r) = link.parts();
    if add {
        let t = now();
        let mut stmt = Query::insert();
        stmt.into_table(table).columns([l, r, "created_at"]);
        for (a, b) in pairs {
            stmt.values([(*a).into(), (*b).into(), micros(t).into()]).map_err(Error::internal)?;
        }
        stmt.on_conflict(OnConflict::columns([l, r]).do_nothing().to_owned());
        conn.execute(&stmt).await?;
    } else {
        for (a, b) in pairs {
            conn.execute(
                &Query::delete()
                    .from_table(table)
                    .and_where(Expr::col(l).eq(*a))
                    .and_where(Expr::col(r).eq(*b))
                    .to_owned(),
            )
            .await?;
        }
    }
    Ok(())
}

fn row_json(k: &Keyed) -> serde_json::Value {
    json!({"id": k.id, "key": k.key, "name": k.name, "description": k.description})
}

/// A role or a group: both are addressed by a unique key.
#[derive(Debug, Clone)]
pub struct Keyed {
    /// ID.
    pub id: Uuid,
    /// Unique key.
    pub key: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A `roles` or `groups` row as stored.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub(in crate::service) struct KeyedRow {
    pub id: Uuid,
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<KeyedRow> for Keyed {
    fn from(r: KeyedRow) -> Self {
        Self {
            id: r.id,
            key: r.key,
            name: r.name,
            description: r.description,
            created_at: time_of(r.created_at),
            updated_at: time_of(r.updated_at),
        }
    }
}
