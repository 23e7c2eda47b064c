//! API resources, their scopes, and which applications may get tokens for them.

use crate::domain::ids::{ApplicationId, ResourceId, ScopeId, TypedId};
use crate::domain::oauth::{validate_resource_uri, validate_scope};
use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::domain::text::quoted;
use crate::domain::text::{check_list, check_text};
use crate::service::Resources;
use crate::service::admin::applications::app_row;
use crate::service::admin::escalation;
use crate::service::admin::roles_groups::like_escape;
use crate::service::store::changes;
use crate::service::store::changes::Area;
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use crate::service::store::time::time_of;
use crate::service::store::time::{micros, now};
use crate::service::{Audit, Error, Result, conflict_on_unique};
use entity::{client_resource, client_scope, resource, resource_scope};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Filters of the `resources` query.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    /// Only resources linked to this client ID.
    pub client_id: Option<ApplicationId>,
    /// Prefix of the URI or name (case-insensitive).
    pub search: Option<String>,
}

/// Filters of `Resource.scopes`.
#[derive(Debug, Clone)]
pub struct ScopeFilter {
    /// The resource.
    pub resource_id: ResourceId,
    /// Only scopes granted to this client.
    pub client_id: Option<ApplicationId>,
    /// Prefix of the scope (case-insensitive).
    pub search: Option<String>,
}

async fn resource_row(conn: &impl ConnectionTrait, uri: &str) -> Result<resource::Model> {
    resource::Entity::find()
        .filter(Expr::col(resource::Column::Uri).eq(uri))
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(reason::RESOURCE_NOT_FOUND, format!("no resource has the URI {}", quoted(uri))))
}

fn fixed(r: &resource::Model) -> Result<()> {
    if r.builtin {
        return Err(Error::invalid(
            reason::BUILTIN_RESOURCE,
            "the Admin API resource and its scopes are built in and cannot be changed",
        ));
    }
    Ok(())
}

fn prefix(column: Expr, kw: &str) -> Expr {
    let pattern = format!("{}%", like_escape(&kw.to_lowercase()));
    Expr::expr(Func::lower(column)).like(LikeExpr::new(pattern).escape('\\'))
}

/// `id_col` is among the `column` values of `link_table` rows of application `app`.
fn granted_to(
    app: ApplicationId,
    id_col: (&'static str, &'static str),
    link_table: &'static str,
    column: &'static str,
) -> sea_orm::sea_query::SimpleExpr {
    let linked =
        Query::select().column(column).from(link_table).and_where(Expr::col("application_id").eq(app)).to_owned();
    Expr::col(id_col).in_subquery(linked)
}

fn resource_condition(f: &ResourceFilter) -> Result<Condition> {
    let mut cond = Condition::all();
    if let Some(kw) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        check_text("searchKeyword", kw)?;
        cond = cond.add(
            Condition::any()
                .add(prefix(Expr::col(("resources", "uri")), kw))
                .add(prefix(Expr::col(("resources", "name")), kw)),
        );
    }
    if let Some(app) = f.client_id {
        cond = cond.add(granted_to(app, ("resources", "id"), "client_resources", "resource_id"));
    }
    Ok(cond)
}

fn scope_condition(f: &ScopeFilter) -> Result<Condition> {
    let mut cond = Condition::all().add(Expr::col(("resource_scopes", "resource_id")).eq(f.resource_id));
    if let Some(kw) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        check_text("searchKeyword", kw)?;
        cond = cond.add(prefix(Expr::col(("resource_scopes", "scope")), kw));
    }
    if let Some(app) = f.client_id {
        cond = cond.add(granted_to(app, ("resource_scopes", "id"), "client_scopes", "scope_id"));
    }
    Ok(cond)
}

impl Resources<'_> {
    /// Creates or renames the built-in Admin API resource and its scopes (start-up).
    pub async fn ensure_admin_resource(&self, scopes: &[(&str, &str)]) -> Result<()> {
        let uri = self.config.admin_resource_uri();
        let t = micros(now());
        self.write_unaudited(async |tx| {
            let txn = tx.conn();
            let existing =
                resource::Entity::find().filter(Expr::col(resource::Column::Builtin).eq(true)).one(txn).await?;
            let row = match existing {
                Some(r) if r.uri == uri => r,
                Some(r) => {
                    let mut am = r.into_active_model();
                    am.uri = Set(uri.clone());
                    am.updated_at = Set(t);
                    am.update(txn).await?
                }
                None => {
                    resource::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        uri: Set(uri.clone()),
                        name: Set(Some("authgraph Admin API".into())),
                        builtin: Set(true),
                        created_at: Set(t),
                        updated_at: Set(t),
                    }
                    .insert(txn)
                    .await?
                }
            };
            let have = resource_scope::Entity::find()
                .filter(Expr::col(resource_scope::Column::ResourceId).eq(row.id))
                .all(txn)
                .await?;
            for (scope, description) in scopes {
                if !have.iter().any(|s| s.scope == *scope) {
                    resource_scope::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        resource_id: Set(row.id),
                        scope: Set((*scope).to_owned()),
                        description: Set(Some((*description).to_owned())),
                        created_at: Set(t),
                        updated_at: Set(t),
                    }
                    .insert(txn)
                    .await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Creates a resource.
    pub async fn create(&self, audit: &Audit, uri: &str, name: Option<String>) -> Result<Resource> {
        validate_resource_uri(uri)?;
        check_text("name", name.as_deref().unwrap_or(""))?;
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let row = resource::ActiveModel {
                id: Set(Uuid::now_v7()),
                uri: Set(uri.to_owned()),
                name: Set(name.filter(|n| !n.is_empty())),
                builtin: Set(false),
                created_at: Set(t),
                updated_at: Set(t),
            }
            .insert(txn)
            .await
            .map_err(|e| {
                conflict_on_unique(
                    e,
                    reason::DUPLICATED_RESOURCE,
                    format!("a resource with URI {} exists", quoted(uri)),
                )
            })?;
            tx.record(audit, None, json!({"resource_uri": uri})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Renames a resource (an empty name clears it).
    pub async fn update(&self, audit: &Audit, uri: &str, name: Option<String>) -> Result<Resource> {
        check_text("name", name.as_deref().unwrap_or(""))?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = resource_row(txn, uri).await?;
            fixed(&row)?;
            let mut am = row.into_active_model();
            am.name = Set(name.filter(|n| !n.is_empty()));
            am.updated_at = Set(micros(now()));
            let row = am.update(txn).await?;
            tx.record(audit, None, json!({"resource_uri": uri, "name": row.name})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Deletes a resource with its scopes and grants.
    pub async fn delete(&self, audit: &Audit, uri: &str) -> Result<()> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = resource_row(txn, uri).await?;
            fixed(&row)?;
            resource::Entity::delete_by_id(row.id).exec(txn).await?;
            tx.record(audit, None, json!({"resource_uri": uri})).await?;
            changes::bump(txn, Area::Applications).await?;
            Ok::<_, Error>(())
        })
        .await?;
        self.applications().forget().await;
        Ok(())
    }

    /// Adds a scope to a resource.
    pub async fn create_scope(
        &self,
        audit: &Audit,
        uri: &str,
        scope: &str,
        description: Option<String>,
    ) -> Result<Scope> {
        validate_scope(scope)?;
        check_text("description", description.as_deref().unwrap_or(""))?;
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let res = resource_row(txn, uri).await?;
            fixed(&res)?;
            let row = resource_scope::ActiveModel {
                id: Set(Uuid::now_v7()),
                resource_id: Set(res.id),
                scope: Set(scope.to_owned()),
                description: Set(description.filter(|d| !d.is_empty())),
                created_at: Set(t),
                updated_at: Set(t),
            }
            .insert(txn)
            .await
            .map_err(|e| {
                conflict_on_unique(
                    e,
                    reason::DUPLICATED_SCOPE,
                    format!("{} already has the scope {}", quoted(uri), quoted(scope)),
                )
            })?;
            tx.record(audit, None, json!({"resource_uri": uri, "scope": scope})).await?;
            Ok(row.into())
        })
        .await
    }

    async fn scope_row(
        &self,
        conn: &impl ConnectionTrait,
        uri: &str,
        scope: &str,
    ) -> Result<(resource::Model, resource_scope::Model)> {
        let res = resource_row(conn, uri).await?;
        let row = resource_scope::Entity::find()
            .filter(Expr::col(resource_scope::Column::ResourceId).eq(res.id))
            .filter(Expr::col(resource_scope::Column::Scope).eq(scope))
            .one(conn)
            .await?
            .ok_or_else(|| {
                Error::not_found(reason::SCOPE_NOT_FOUND, format!("{} has no scope {}", quoted(uri), quoted(scope)))
            })?;
        Ok((res, row))
    }

    /// Changes a scope's description (an empty one clears it).
    pub async fn update_scope(
        &self,
        audit: &Audit,
        uri: &str,
        scope: &str,
        description: Option<String>,
    ) -> Result<Scope> {
        check_text("description", description.as_deref().unwrap_or(""))?;
        self.write(async |tx| {
            let txn = tx.conn();
            let (res, row) = self.scope_row(txn, uri, scope).await?;
            fixed(&res)?;
            let mut am = row.into_active_model();
            am.description = Set(description.filter(|d| !d.is_empty()));
            am.updated_at = Set(micros(now()));
            let row = am.update(txn).await?;
            tx.record(audit, None, json!({"resource_uri": uri, "scope": scope})).await?;
            Ok(row.into())
        })
        .await
    }

    /// Deletes a scope and its grants.
    pub async fn delete_scope(&self, audit: &Audit, uri: &str, scope: &str) -> Result<()> {
        self.write(async |tx| {
            let txn = tx.conn();
            let (res, row) = self.scope_row(txn, uri, scope).await?;
            fixed(&res)?;
            resource_scope::Entity::delete_by_id(row.id).exec(txn).await?;
            tx.record(audit, None, json!({"resource_uri": uri, "scope": scope})).await?;
            changes::bump(txn, Area::Applications).await?;
            Ok::<_, Error>(())
        })
        .await?;
        self.applications().forget().await;
        Ok(())
    }

    /// Lets an application get tokens for a resource (`add`), or stops it, with its scopes.
    /// Linking or unlinking the Admin API resource needs every Admin API scope the
    /// application holds (`held`: the caller's Admin API scopes).
    pub async fn link_resource(
        &self,
        audit: &Audit,
        held: &[AdminScope],
        uri: &str,
        client_id: &str,
        add: bool,
    ) -> Result<Resource> {
        let out = self
            .write(async |tx| {
                let txn = tx.conn();
                let res = resource_row(txn, uri).await?;
                let app = app_row(txn, client_id).await?;
                if res.builtin {
                    escalation::ensure_holds_all_of(txn, held, app.id, client_id).await?;
                }
                if add {
                    let stmt = Query::insert()
                        .into_table("client_resources")
                        .columns(["application_id", "resource_id", "created_at"])
                        .values([app.id.into(), res.id.into(), micros(now()).into()])
                        .map_err(Error::internal)?
                        .on_conflict(OnConflict::columns(["application_id", "resource_id"]).do_nothing().to_owned())
                        .to_owned();
                    txn.execute(&stmt).await?;
                } else {
                    client_resource::Entity::delete_many()
                        .filter(Expr::col(client_resource::Column::ApplicationId).eq(app.id))
                        .filter(Expr::col(client_resource::Column::ResourceId).eq(res.id))
                        .exec(txn)
                        .await?;
                    let scopes = Query::select()
                        .column("id")
                        .from("resource_scopes")
                        .and_where(Expr::col("resource_id").eq(res.id))
                        .to_owned();
                    client_scope::Entity::delete_many()
                        .filter(Expr::col(client_scope::Column::ApplicationId).eq(app.id))
                        .filter(Expr::col(client_scope::Column::ScopeId).in_subquery(scopes))
                        .exec(txn)
                        .await?;
                }
                tx.record(audit, None, json!({"resource_uri": uri, "client_id": client_id})).await?;
                changes::bump(txn, Area::Applications).await?;
                Ok(res.into())
            })
            .await;
        self.applications().forget().await;
        out
    }

    /// Grants (`Add`), revokes (`Remove`) or sets (`Replace`) scopes of a resource for an
    /// application linked to it; returns the application's scopes on that resource. On the
    /// Admin API resource the caller (`held`) must hold every scope it grants and every
    /// Admin API scope the application already holds.
    pub async fn change_client_scopes(
        &self,
        audit: &Audit,
        held: &[AdminScope],
        uri: &str,
        client_id: &str,
        scopes: &[String],
        op: ScopeOp,
    ) -> Result<Vec<Scope>> {
        check_list("scopes", scopes.len())?;
        let out = self
            .write(async |tx| {
                let txn = tx.conn();
                let res = resource_row(txn, uri).await?;
                let app = app_row(txn, client_id).await?;
                if res.builtin {
                    escalation::ensure_holds_all_of(txn, held, app.id, client_id).await?;
                    if op != ScopeOp::Remove {
                        escalation::ensure_held(held, scopes, "granting Admin API scopes")?;
                    }
                }
                let linked = client_resource::Entity::find()
                    .filter(Expr::col(client_resource::Column::ApplicationId).eq(app.id))
                    .filter(Expr::col(client_resource::Column::ResourceId).eq(res.id))
                    .count(txn)
                    .await?
                    > 0;
                if !linked {
                    return Err(Error::invalid(
                        reason::RESOURCE_NOT_LINKED,
                        format!("add the resource {} to {} before granting its scopes", quoted(uri), quoted(client_id)),
                    ));
                }
                let defined = resource_scope::Entity::find()
                    .filter(Expr::col(resource_scope::Column::ResourceId).eq(res.id))
                    .all(txn)
                    .await?;
                let mut ids = Vec::with_capacity(scopes.len());
                for s in scopes {
                    let found = defined.iter().find(|d| &d.scope == s).ok_or_else(|| {
                        Error::not_found(reason::SCOPE_NOT_FOUND, format!("{} has no scope {}", quoted(uri), quoted(s)))
                    })?;
                    ids.push(found.id);
                }
                let all_ids: Vec<Uuid> = defined.iter().map(|d| d.id).collect();
                let remove: Vec<Uuid> = match op {
                    ScopeOp::Add => Vec::new(),
                    ScopeOp::Remove => ids.clone(),
                    ScopeOp::Replace => all_ids.iter().filter(|id| !ids.contains(id)).copied().collect(),
                };
                if !remove.is_empty() {
                    client_scope::Entity::delete_many()
                        .filter(Expr::col(client_scope::Column::ApplicationId).eq(app.id))
                        .filter(Expr::col(client_scope::Column::ScopeId).is_in(remove))
                        .exec(txn)
                        .await?;
                }
                if op != ScopeOp::Remove && !ids.is_empty() {
                    let t = micros(now());
                    let mut stmt = Query::insert();
                    stmt.into_table("client_scopes").columns(["application_id", "scope_id", "created_at"]);
                    for id in &ids {
                        stmt.values([app.id.into(), (*id).into(), t.into()]).map_err(Error::internal)?;
                    }
                    stmt.on_conflict(OnConflict::columns(["application_id", "scope_id"]).do_nothing().to_owned());
                    txn.execute(&stmt).await?;
                }
                let granted = resource_scope::Entity::find()
                    .filter(Expr::col(resource_scope::Column::ResourceId).eq(res.id))
                    .filter(
                        Expr::col(resource_scope::Column::Id).in_subquery(
                            Query::select()
                                .column("scope_id")
                                .from("client_scopes")
                                .and_where(Expr::col("application_id").eq(app.id))
                                .to_owned(),
                        ),
                    )
                    .order_by_asc(resource_scope::Column::Scope)
                    .all(txn)
                    .await?;
                tx.record(audit, None, json!({"resource_uri": uri, "client_id": client_id, "scopes": scopes})).await?;
                changes::bump(txn, Area::Applications).await?;
                Ok(granted.into_iter().map(Scope::from).collect())
            })
            .await;
        self.applications().forget().await;
        out
    }

    /// Lists resources by URI.
    pub async fn list(&self, f: &ResourceFilter, args: &PageArgs) -> Result<Page<Resource>> {
        let plan = args.plan()?;
        let ks = Keyset { table: "resources", column: "uri", desc: false, nullable: false, kind: SortKind::Key };
        let q = ks.apply(resource::Entity::find().filter(resource_condition(f)?), &plan)?;
        let rows: Vec<Resource> = q.all(&self.db.reader()).await?.into_iter().map(Resource::from).collect();
        Ok(ks.finish(&plan, rows, |r| Cursor::key(&r.uri, r.id.uuid())))
    }

    /// Counts resources matching `f`.
    pub async fn count(&self, f: &ResourceFilter) -> Result<u64> {
        Ok(resource::Entity::find().filter(resource_condition(f)?).count(&self.db.reader()).await?)
    }

    /// Lists scopes of a resource by name.
    pub async fn list_scopes(&self, f: &ScopeFilter, args: &PageArgs) -> Result<Page<Scope>> {
        let plan = args.plan()?;
        let ks =
            Keyset { table: "resource_scopes", column: "scope", desc: false, nullable: false, kind: SortKind::Key };
        let q = ks.apply(resource_scope::Entity::find().filter(scope_condition(f)?), &plan)?;
        let rows: Vec<Scope> = q.all(&self.db.reader()).await?.into_iter().map(Scope::from).collect();
        Ok(ks.finish(&plan, rows, |s| Cursor::key(&s.scope, s.id.uuid())))
    }

    /// Counts scopes matching `f`.
    pub async fn count_scopes(&self, f: &ScopeFilter) -> Result<u64> {
        Ok(resource_scope::Entity::find().filter(scope_condition(f)?).count(&self.db.reader()).await?)
    }

    /// Resolves a client ID to the application's row ID (for filters).
    pub async fn application_id(&self, client_id: &str) -> Result<ApplicationId> {
        Ok(app_row(&self.db.reader(), client_id).await?.id.into())
    }

    /// Client IDs linked to each resource.
    pub async fn client_ids_by_resource(&self, ids: &[ResourceId]) -> Result<HashMap<ResourceId, Vec<String>>> {
        let q = Query::select()
            .columns([("client_resources", "resource_id"), ("applications", "client_id")])
            .from("client_resources")
            .inner_join(
                "applications",
                Expr::col(("applications", "id")).equals(("client_resources", "application_id")),
            )
            .and_where(Expr::col(("client_resources", "resource_id")).is_in(ids.to_vec()))
            .order_by(("applications", "client_id"), sea_orm::sea_query::Order::Asc)
            .to_owned();
        let mut out: HashMap<ResourceId, Vec<String>> = HashMap::new();
        for row in self.db.reader().query_all(&q).await? {
            let rid: Uuid = row.try_get("", "resource_id")?;
            let cid: String = row.try_get("", "client_id")?;
            out.entry(rid.into()).or_default().push(cid);
        }
        Ok(out)
    }

    /// Resources by ID.
    pub async fn by_ids(&self, ids: &[ResourceId]) -> Result<Vec<Resource>> {
        let rows = resource::Entity::find()
            .filter(Expr::col(resource::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(Resource::from).collect())
    }

    /// Scopes by ID.
    pub async fn scopes_by_ids(&self, ids: &[ScopeId]) -> Result<Vec<Scope>> {
        let rows = resource_scope::Entity::find()
            .filter(Expr::col(resource_scope::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(Scope::from).collect())
    }
}

/// How `change_client_scopes` changes the grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeOp {
    /// Grant these scopes too.
    Add,
    /// Revoke these scopes.
    Remove,
    /// Grant exactly these scopes.
    Replace,
}

/// An API resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// ID.
    pub id: ResourceId,
    /// Resource URI (the `aud` of its tokens).
    pub uri: String,
    /// Display name.
    pub name: Option<String>,
    /// The built-in Admin API resource.
    pub builtin: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<entity::resource::Model> for Resource {
    fn from(m: entity::resource::Model) -> Self {
        Self {
            id: m.id.into(),
            uri: m.uri,
            name: m.name,
            builtin: m.builtin,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

/// A scope of a resource.
#[derive(Debug, Clone)]
pub struct Scope {
    /// ID.
    pub id: ScopeId,
    /// The resource.
    pub resource_id: ResourceId,
    /// Scope token.
    pub scope: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<entity::resource_scope::Model> for Scope {
    fn from(m: entity::resource_scope::Model) -> Self {
        Self {
            id: m.id.into(),
            resource_id: m.resource_id.into(),
            scope: m.scope,
            description: m.description,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}
