//! Roles: the `roles` query and `createRole`, `updateRole`, `deleteRole`.

use crate::domain::ids::{RoleId, TypedId};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::objects::Role;
use crate::graphql::connection::{Conn, CountSource, args, to_conn};
use crate::graphql::context::{audit, services};
use crate::graphql::node::{decode, decode_all};
use crate::service::admin::roles_groups::KeyedFilter;
use crate::service::admin::roles_groups::Kind;

/// Role queries.
#[derive(Default)]
pub struct RoleQuery;

#[Object]
impl RoleQuery {
    /// Lists roles by key. The keyword matches a prefix of the key or name,
    /// case-insensitively. Needs `role:read`.
    #[graphql(
        requires_scopes = "role:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Search keyword.")] search_keyword: Option<String>,
        #[graphql(name = "excludedIDs", desc = "Roles to leave out.")] excluded_ids: Option<Vec<ID>>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Role>> {
        let f = KeyedFilter {
            search: search_keyword,
            excluded: decode_all::<RoleId>(&excluded_ids.unwrap_or_default())?.into_iter().map(TypedId::uuid).collect(),
            linked_to: None,
        };
        let page = services(ctx)?.roles_groups().list(Kind::Role, &f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Role, f), Role))
    }
}

/// Input of `createRole`.
#[derive(InputObject)]
pub struct CreateRoleInput {
    /// Unique key: 1 to 40 characters matching `^[a-zA-Z_][a-zA-Z0-9:_]*$`.
    pub key: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// Input of `updateRole`.
#[derive(InputObject)]
pub struct UpdateRoleInput {
    /// The role.
    pub id: ID,
    /// New key; null keeps it.
    pub key: Option<String>,
    /// New name; null keeps it, an empty string clears it.
    pub name: Option<String>,
    /// New description; null keeps it, an empty string clears it.
    pub description: Option<String>,
}

/// Input of `deleteRole`.
#[derive(InputObject)]
pub struct DeleteRoleInput {
    /// The role; its links to users and groups go too.
    pub id: ID,
}

/// Result of `deleteRole`.
#[derive(SimpleObject)]
pub struct DeleteRolePayload {
    /// Always true.
    pub ok: bool,
}

payload!(/// Result of `createRole`.
    CreateRolePayload { role: Role });
payload!(/// Result of `updateRole`.
    UpdateRolePayload { role: Role });

/// Role mutations; each needs `role:write`.
#[derive(Default)]
pub struct RoleMutation;

#[Object]
impl RoleMutation {
    /// Creates a role.
    #[graphql(requires_scopes = "role:write")]
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new role.")] input: CreateRoleInput,
    ) -> async_graphql::Result<CreateRolePayload> {
        let r = services(ctx)?
            .roles_groups()
            .create(&audit(ctx, "create_role"), Kind::Role, &input.key, input.name, input.description)
            .await?;
        Ok(CreateRolePayload { role: Role(r) })
    }

    /// Updates a role.
    #[graphql(requires_scopes = "role:write")]
    async fn update_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateRoleInput,
    ) -> async_graphql::Result<UpdateRolePayload> {
        let id = decode::<RoleId>(&input.id)?;
        let r = services(ctx)?
            .roles_groups()
            .update(&audit(ctx, "update_role"), id, input.key, input.name, input.description)
            .await?;
        Ok(UpdateRolePayload { role: Role(r) })
    }

    /// Deletes a role and its links.
    #[graphql(requires_scopes = "role:write")]
    async fn delete_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The role to delete.")] input: DeleteRoleInput,
    ) -> async_graphql::Result<DeleteRolePayload> {
        let id = decode::<RoleId>(&input.id)?;
        services(ctx)?.roles_groups().delete(&audit(ctx, "delete_role"), id).await?;
        Ok(DeleteRolePayload { ok: true })
    }
}
