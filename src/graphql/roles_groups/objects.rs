//! The `Role` and `Group` object types and their links to users and to each other.

use crate::domain::ids::{GroupId, RoleId, TypedId};
use crate::graphql::date_time::DateTime;
use async_graphql::{Context, ID, Object};

use crate::graphql::connection::{Conn, CountSource, args, to_conn};
use crate::graphql::context::services;
use crate::graphql::node::encode;
use crate::graphql::plain::{self, Ahead, Plain};
use crate::graphql::users::User;
use crate::service::admin::roles_groups::Keyed;
use crate::service::admin::roles_groups::KeyedFilter;
use crate::service::admin::roles_groups::Kind;
use crate::service::admin::roles_groups::Link;
use crate::service::admin::user_search::UserFilter;
use async_graphql::Value;
use async_graphql::parser::types::Field;

/// A role: a key that tokens carry in `https://authgear.com/claims/user/roles`.
#[derive(Clone)]
pub struct Role(pub Keyed);

/// A group of users; its roles apply to every member.
#[derive(Clone)]
pub struct Group(pub Keyed);

/// A page of users linked to a role or a group. Callers box its future: it is large, and
/// every field of a role or a group would otherwise be resolved at its size.
async fn users_of(
    ctx: &Context<'_>,
    filter: UserFilter,
    a: crate::service::paging::PageArgs,
    link: Link,
    id: uuid::Uuid,
) -> async_graphql::Result<Conn<User>> {
    let page = services(ctx)?.users().list(&filter, &a).await?;
    Ok(to_conn(page, CountSource::Links(link, true, id), User))
}

/// The fields of a role or a group that need nothing but itself, for pages built
/// without the executor (`plain`); as their resolvers below return them.
fn keyed_plain(k: &Keyed, id: impl FnOnce() -> ID, field: &Field) -> Option<Value> {
    Some(match field.name.node.as_str() {
        "id" => Value::String(id().0),
        "key" => Value::String(k.key.clone()),
        "name" => plain::opt_str(k.name.as_deref()),
        "description" => plain::opt_str(k.description.as_deref()),
        "createdAt" => plain::time(k.created_at),
        "updatedAt" => plain::time(k.updated_at),
        _ => return None,
    })
}

/// A plain field of the role `k` (see [`keyed_plain`]).
pub fn role_plain(k: &Keyed, field: &Field) -> Option<Value> {
    keyed_plain(k, || encode(RoleId::from_uuid(k.id)), field)
}

/// A plain field of the group `k` (see [`keyed_plain`]).
pub fn group_plain(k: &Keyed, field: &Field) -> Option<Value> {
    keyed_plain(k, || encode(GroupId::from_uuid(k.id)), field)
}

impl Plain for Role {
    fn plain(&self, field: &Field, _: &Ahead<'_>) -> Option<Value> {
        role_plain(&self.0, field)
    }
}

impl Plain for Group {
    fn plain(&self, field: &Field, _: &Ahead<'_>) -> Option<Value> {
        group_plain(&self.0, field)
    }
}

/// A role: a key that tokens carry in `https://authgear.com/claims/user/roles`.
#[Object(requires_scopes = "role:read", requires_scopes = "role:write")]
impl Role {
    /// The global ID of the role.
    pub async fn id(&self) -> ID {
        encode(RoleId::from_uuid(self.0.id))
    }
    /// Unique key, e.g. `admin`.
    async fn key(&self) -> &str {
        &self.0.key
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When the role was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the role was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// Users with this role assigned directly, newest first. Needs `user:read`.
    #[graphql(
        requires_scopes = "user:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<User>> {
        let filter = UserFilter { direct_role: Some(RoleId::from_uuid(self.0.id)), ..Default::default() };
        Box::pin(users_of(ctx, filter, args(first, after, last, before), Link::UserRole, self.0.id)).await
    }
    /// Groups that have this role, by key. Needs `group:read`.
    #[graphql(
        requires_scopes = "group:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Group>> {
        let f = KeyedFilter { linked_to: Some(self.0.id), ..Default::default() };
        let page =
            Box::pin(services(ctx)?.roles_groups().list(Kind::Group, &f, &args(first, after, last, before))).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Group, f), Group))
    }
}

/// A group of users; its roles apply to every member.
#[Object(requires_scopes = "group:read", requires_scopes = "group:write")]
impl Group {
    /// The global ID of the group.
    pub async fn id(&self) -> ID {
        encode(GroupId::from_uuid(self.0.id))
    }
    /// Unique key, e.g. `staff`.
    async fn key(&self) -> &str {
        &self.0.key
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When the group was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the group was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// Members of the group, newest first. Needs `user:read`.
    #[graphql(
        requires_scopes = "user:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<User>> {
        let filter = UserFilter { direct_group: Some(GroupId::from_uuid(self.0.id)), ..Default::default() };
        Box::pin(users_of(ctx, filter, args(first, after, last, before), Link::UserGroup, self.0.id)).await
    }
    /// Roles of the group, by key. Needs `role:read`.
    #[graphql(
        requires_scopes = "role:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Role>> {
        let f = KeyedFilter { linked_to: Some(self.0.id), ..Default::default() };
        let page =
            Box::pin(services(ctx)?.roles_groups().list(Kind::Role, &f, &args(first, after, last, before))).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Role, f), Role))
    }
}
