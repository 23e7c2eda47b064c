//! Groups: the `groups` query and `createGroup`, `updateGroup`, `deleteGroup`.

use crate::domain::ids::{GroupId, TypedId};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::objects::Group;
use crate::graphql::connection::{Conn, CountSource, args, to_conn};
use crate::graphql::context::{audit, services};
use crate::graphql::node::{decode, decode_all};
use crate::service::admin::roles_groups::KeyedFilter;
use crate::service::admin::roles_groups::Kind;

/// Group queries.
#[derive(Default)]
pub struct GroupQuery;

#[Object]
impl GroupQuery {
    /// Lists groups by key. The keyword matches a prefix of the key or name,
    /// case-insensitively. Needs `group:read`.
    #[graphql(
        requires_scopes = "group:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Search keyword.")] search_keyword: Option<String>,
        #[graphql(name = "excludedIDs", desc = "Groups to leave out.")] excluded_ids: Option<Vec<ID>>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Group>> {
        let f = KeyedFilter {
            search: search_keyword,
            excluded: decode_all::<GroupId>(&excluded_ids.unwrap_or_default())?
                .into_iter()
                .map(TypedId::uuid)
                .collect(),
            linked_to: None,
        };
        let page = services(ctx)?.roles_groups().list(Kind::Group, &f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Group, f), Group))
    }
}

/// Input of `createGroup`.
#[derive(InputObject)]
pub struct CreateGroupInput {
    /// Unique key: 1 to 40 characters matching `^[a-zA-Z_][a-zA-Z0-9:_]*$`.
    pub key: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// Input of `updateGroup`.
#[derive(InputObject)]
pub struct UpdateGroupInput {
    /// The group.
    pub id: ID,
    /// New key; null keeps it.
    pub key: Option<String>,
    /// New name; null keeps it, an empty string clears it.
    pub name: Option<String>,
    /// New description; null keeps it, an empty string clears it.
    pub description: Option<String>,
}

/// Input of `deleteGroup`.
#[derive(InputObject)]
pub struct DeleteGroupInput {
    /// The group; its links to users and roles go too.
    pub id: ID,
}

/// Result of `deleteGroup`.
#[derive(SimpleObject)]
pub struct DeleteGroupPayload {
    /// Always true.
    pub ok: bool,
}

payload!(/// Result of `createGroup`.
    CreateGroupPayload { group: Group });
payload!(/// Result of `updateGroup`.
    UpdateGroupPayload { group: Group });

/// Group mutations; each needs `group:write`.
#[derive(Default)]
pub struct GroupMutation;

#[Object]
impl GroupMutation {
    /// Creates a group.
    #[graphql(requires_scopes = "group:write")]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new group.")] input: CreateGroupInput,
    ) -> async_graphql::Result<CreateGroupPayload> {
        let g = services(ctx)?
            .roles_groups()
            .create(&audit(ctx, "create_group"), Kind::Group, &input.key, input.name, input.description)
            .await?;
        Ok(CreateGroupPayload { group: Group(g) })
    }

    /// Updates a group.
    #[graphql(requires_scopes = "group:write")]
    async fn update_group(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateGroupInput,
    ) -> async_graphql::Result<UpdateGroupPayload> {
        let id = decode::<GroupId>(&input.id)?;
        let g = services(ctx)?
            .roles_groups()
            .update(&audit(ctx, "update_group"), id, input.key, input.name, input.description)
            .await?;
        Ok(UpdateGroupPayload { group: Group(g) })
    }

    /// Deletes a group and its links.
    #[graphql(requires_scopes = "group:write")]
    async fn delete_group(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The group to delete.")] input: DeleteGroupInput,
    ) -> async_graphql::Result<DeleteGroupPayload> {
        let id = decode::<GroupId>(&input.id)?;
        services(ctx)?.roles_groups().delete(&audit(ctx, "delete_group"), id).await?;
        Ok(DeleteGroupPayload { ok: true })
    }
}
