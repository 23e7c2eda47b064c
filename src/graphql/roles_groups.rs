//! `Role` and `Group` types, their queries, and the 18 role and group mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use time::OffsetDateTime;

use super::connection::{Conn, CountSource, args, to_conn};
use super::context::{audit, services};
use super::node::{decode_id, decode_ids, encode_id};
use super::users::User;
use crate::service::admin::roles_groups::Keyed;
use crate::service::admin::roles_groups::KeyedFilter;
use crate::service::admin::roles_groups::Kind;
use crate::service::admin::roles_groups::Link;
use crate::service::admin::user_search::UserFilter;

/// A role: a key that tokens carry in `https://authgear.com/claims/user/roles`.
#[derive(Clone)]
pub struct Role(pub Keyed);

/// A group of users; its roles apply to every member.
#[derive(Clone)]
pub struct Group(pub Keyed);

async fn users_of(
    ctx: &Context<'_>,
    filter: UserFilter,
    a: crate::service::store::paging::PageArgs,
    link: Link,
    id: uuid::Uuid,
) -> async_graphql::Result<Conn<User>> {
    let page = services(ctx)?.users().list(&filter, &a).await?;
    Ok(to_conn(page, CountSource::Links(link, true, id), User))
}

/// A role: a key that tokens carry in `https://authgear.com/claims/user/roles`.
#[Object(requires_scopes = "role:read", requires_scopes = "role:write")]
impl Role {
    /// The global ID of the role.
    pub async fn id(&self) -> ID {
        encode_id("Role", self.0.id)
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
    pub async fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }
    /// When the role was last changed.
    pub async fn updated_at(&self) -> OffsetDateTime {
        self.0.updated_at
    }
    /// Users with this role assigned directly, newest first. Needs `user:read`.
    #[graphql(
        requires_scopes = "user:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
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
        let filter = UserFilter { direct_role: Some(self.0.id), ..Default::default() };
        users_of(ctx, filter, args(first, after, last, before), Link::UserRole, self.0.id).await
    }
    /// Groups that have this role, by key. Needs `group:read`.
    #[graphql(
        requires_scopes = "group:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
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
        let page = services(ctx)?.roles_groups().list(Kind::Group, &f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Group, f), Group))
    }
}

/// A group of users; its roles apply to every member.
#[Object(requires_scopes = "group:read", requires_scopes = "group:write")]
impl Group {
    /// The global ID of the group.
    pub async fn id(&self) -> ID {
        encode_id("Group", self.0.id)
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
    pub async fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }
    /// When the group was last changed.
    pub async fn updated_at(&self) -> OffsetDateTime {
        self.0.updated_at
    }
    /// Members of the group, newest first. Needs `user:read`.
    #[graphql(
        requires_scopes = "user:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
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
        let filter = UserFilter { direct_group: Some(self.0.id), ..Default::default() };
        users_of(ctx, filter, args(first, after, last, before), Link::UserGroup, self.0.id).await
    }
    /// Roles of the group, by key. Needs `role:read`.
    #[graphql(
        requires_scopes = "role:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
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
        let page = services(ctx)?.roles_groups().list(Kind::Role, &f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Role, f), Role))
    }
}

/// Role and group queries.
#[derive(Default)]
pub struct RoleGroupQuery;

#[Object]
impl RoleGroupQuery {
    /// Lists roles by key. The keyword matches a prefix of the key or name,
    /// case-insensitively. Needs `role:read`.
    #[graphql(
        requires_scopes = "role:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
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
            excluded: decode_ids("Role", &excluded_ids.unwrap_or_default())?,
            linked_to: None,
        };
        let page = services(ctx)?.roles_groups().list(Kind::Role, &f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Role, f), Role))
    }

    /// Lists groups by key. The keyword matches a prefix of the key or name,
    /// case-insensitively. Needs `group:read`.
    #[graphql(
        requires_scopes = "group:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
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
            excluded: decode_ids("Group", &excluded_ids.unwrap_or_default())?,
            linked_to: None,
        };
        let page = services(ctx)?.roles_groups().list(Kind::Group, &f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Keyed(Kind::Group, f), Group))
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

/// Input of `deleteRole`.
#[derive(InputObject)]
pub struct DeleteRoleInput {
    /// The role; its links to users and groups go too.
    pub id: ID,
}

/// Input of `deleteGroup`.
#[derive(InputObject)]
pub struct DeleteGroupInput {
    /// The group; its links to users and roles go too.
    pub id: ID,
}

/// Result of `deleteRole`.
#[derive(SimpleObject)]
pub struct DeleteRolePayload {
    /// Always true.
    pub ok: bool,
}

/// Result of `deleteGroup`.
#[derive(SimpleObject)]
pub struct DeleteGroupPayload {
    /// Always true.
    pub ok: bool,
}

payload!(/// Result of `createRole`.
    CreateRolePayload { role: Role });
payload!(/// Result of `updateRole`.
    UpdateRolePayload { role: Role });
payload!(/// Result of `createGroup`.
    CreateGroupPayload { group: Group });
payload!(/// Result of `updateGroup`.
    UpdateGroupPayload { group: Group });
payload!(/// Result of `addRoleToUsers`.
    AddRoleToUsersPayload { role: Role });
payload!(/// Result of `removeRoleFromUsers`.
    RemoveRoleFromUsersPayload { role: Role });
payload!(/// Result of `addRoleToGroups`.
    AddRoleToGroupsPayload { role: Role });
payload!(/// Result of `removeRoleFromGroups`.
    RemoveRoleFromGroupsPayload { role: Role });
payload!(/// Result of `addGroupToUsers`.
    AddGroupToUsersPayload { group: Group });
payload!(/// Result of `removeGroupFromUsers` (named as in Authgear).
    RemoveGroupToUsersPayload { group: Group });
payload!(/// Result of `addGroupToRoles`.
    AddGroupToRolesPayload { group: Group });
payload!(/// Result of `removeGroupFromRoles`.
    RemoveGroupFromRolesPayload { group: Group });
macro_rules! user_payload {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(SimpleObject)]
        pub struct $name {
            /// The user after the change. Its fields other than `id` need `user:read`, like any read of a user.
            pub user: User,
        }
    };
}

user_payload!(/// Result of `addUserToRoles`.
    AddUserToRolesPayload);
user_payload!(/// Result of `removeUserFromRoles`.
    RemoveUserFromRolesPayload);
user_payload!(/// Result of `addUserToGroups`.
    AddUserToGroupsPayload);
user_payload!(/// Result of `removeUserFromGroups`.
    RemoveUserFromGroupsPayload);

macro_rules! link_inputs {
    ($($(#[$doc:meta])* $name:ident { $(#[$a1:meta])* $f1:ident : $t1:ty, $(#[$a2:meta])* $f2:ident : $t2:ty })*) => {
        $(
            $(#[$doc])*
            #[derive(InputObject)]
            pub struct $name {
                $(#[$a1])*
                pub $f1: $t1,
                $(#[$a2])*
                pub $f2: $t2,
            }
        )*
    };
}

link_inputs! {
    /// Input of `addRoleToUsers`.
    AddRoleToUsersInput { /// The role.
        role_key: String, /// The users.
        #[graphql(name = "userIDs")] user_ids: Vec<ID> }
    /// Input of `removeRoleFromUsers`.
    RemoveRoleFromUsersInput { /// The role.
        role_key: String, /// The users.
        #[graphql(name = "userIDs")] user_ids: Vec<ID> }
    /// Input of `addRoleToGroups`.
    AddRoleToGroupsInput { /// The role.
        role_key: String, /// The groups.
        group_keys: Vec<String> }
    /// Input of `removeRoleFromGroups`.
    RemoveRoleFromGroupsInput { /// The role.
        role_key: String, /// The groups.
        group_keys: Vec<String> }
    /// Input of `addGroupToUsers`.
    AddGroupToUsersInput { /// The group.
        group_key: String, /// The users.
        #[graphql(name = "userIDs")] user_ids: Vec<ID> }
    /// Input of `removeGroupFromUsers`.
    RemoveGroupFromUsersInput { /// The group.
        group_key: String, /// The users.
        #[graphql(name = "userIDs")] user_ids: Vec<ID> }
    /// Input of `addGroupToRoles`.
    AddGroupToRolesInput { /// The group.
        group_key: String, /// The roles.
        role_keys: Vec<String> }
    /// Input of `removeGroupFromRoles`.
    RemoveGroupFromRolesInput { /// The group.
        group_key: String, /// The roles.
        role_keys: Vec<String> }
    /// Input of `addUserToRoles`.
    AddUserToRolesInput { /// The user.
        #[graphql(name = "userID")] user_id: ID, /// The roles.
        role_keys: Vec<String> }
    /// Input of `removeUserFromRoles`.
    RemoveUserFromRolesInput { /// The user.
        #[graphql(name = "userID")] user_id: ID, /// The roles.
        role_keys: Vec<String> }
    /// Input of `addUserToGroups`.
    AddUserToGroupsInput { /// The user.
        #[graphql(name = "userID")] user_id: ID, /// The groups.
        group_keys: Vec<String> }
    /// Input of `removeUserFromGroups`.
    RemoveUserFromGroupsInput { /// The user.
        #[graphql(name = "userID")] user_id: ID, /// The groups.
        group_keys: Vec<String> }
}

/// Role and group mutations. Role mutations need `role:write`, group mutations
/// `group:write`; each writes an audit log entry per affected user (or one if none).
#[derive(Default)]
pub struct RoleGroupMutation;

#[Object]
impl RoleGroupMutation {
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
        let id = decode_id("Role", &input.id)?;
        let r = services(ctx)?
            .roles_groups()
            .update(&audit(ctx, "update_role"), Kind::Role, id, input.key, input.name, input.description)
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
        let id = decode_id("Role", &input.id)?;
        services(ctx)?.roles_groups().delete(&audit(ctx, "delete_role"), Kind::Role, id).await?;
        Ok(DeleteRolePayload { ok: true })
    }

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
        let id = decode_id("Group", &input.id)?;
        let g = services(ctx)?
            .roles_groups()
            .update(&audit(ctx, "update_group"), Kind::Group, id, input.key, input.name, input.description)
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
        let id = decode_id("Group", &input.id)?;
        services(ctx)?.roles_groups().delete(&audit(ctx, "delete_group"), Kind::Group, id).await?;
        Ok(DeleteGroupPayload { ok: true })
    }

    /// Assigns a role to users.
    #[graphql(requires_scopes = "role:write")]
    async fn add_role_to_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Role and users.")] input: AddRoleToUsersInput,
    ) -> async_graphql::Result<AddRoleToUsersPayload> {
        let ids = decode_ids("User", &input.user_ids)?;
        let r = services(ctx)?
            .roles_groups()
            .link_users(&audit(ctx, "add_role_to_users"), Kind::Role, &input.role_key, &ids, true)
            .await?;
        Ok(AddRoleToUsersPayload { role: Role(r) })
    }

    /// Unassigns a role from users.
    #[graphql(requires_scopes = "role:write")]
    async fn remove_role_from_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Role and users.")] input: RemoveRoleFromUsersInput,
    ) -> async_graphql::Result<RemoveRoleFromUsersPayload> {
        let ids = decode_ids("User", &input.user_ids)?;
        let r = services(ctx)?
            .roles_groups()
            .link_users(&audit(ctx, "remove_role_from_users"), Kind::Role, &input.role_key, &ids, false)
            .await?;
        Ok(RemoveRoleFromUsersPayload { role: Role(r) })
    }

    /// Gives a role to groups (and so to their members).
    #[graphql(requires_scopes = "role:write")]
    async fn add_role_to_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Role and groups.")] input: AddRoleToGroupsInput,
    ) -> async_graphql::Result<AddRoleToGroupsPayload> {
        let r = services(ctx)?
            .roles_groups()
            .link_role_group(&audit(ctx, "add_role_to_groups"), Kind::Role, &input.role_key, &input.group_keys, true)
            .await?;
        Ok(AddRoleToGroupsPayload { role: Role(r) })
    }

    /// Takes a role from groups.
    #[graphql(requires_scopes = "role:write")]
    async fn remove_role_from_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Role and groups.")] input: RemoveRoleFromGroupsInput,
    ) -> async_graphql::Result<RemoveRoleFromGroupsPayload> {
        let r = services(ctx)?
            .roles_groups()
            .link_role_group(
                &audit(ctx, "remove_role_from_groups"),
                Kind::Role,
                &input.role_key,
                &input.group_keys,
                false,
            )
            .await?;
        Ok(RemoveRoleFromGroupsPayload { role: Role(r) })
    }

    /// Adds users to a group.
    #[graphql(requires_scopes = "group:write")]
    async fn add_group_to_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Group and users.")] input: AddGroupToUsersInput,
    ) -> async_graphql::Result<AddGroupToUsersPayload> {
        let ids = decode_ids("User", &input.user_ids)?;
        let g = services(ctx)?
            .roles_groups()
            .link_users(&audit(ctx, "add_group_to_users"), Kind::Group, &input.group_key, &ids, true)
            .await?;
        Ok(AddGroupToUsersPayload { group: Group(g) })
    }

    /// Removes users from a group.
    #[graphql(requires_scopes = "group:write")]
    async fn remove_group_from_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Group and users.")] input: RemoveGroupFromUsersInput,
    ) -> async_graphql::Result<RemoveGroupToUsersPayload> {
        let ids = decode_ids("User", &input.user_ids)?;
        let g = services(ctx)?
            .roles_groups()
            .link_users(&audit(ctx, "remove_group_from_users"), Kind::Group, &input.group_key, &ids, false)
            .await?;
        Ok(RemoveGroupToUsersPayload { group: Group(g) })
    }

    /// Gives roles to a group.
    #[graphql(requires_scopes = "group:write")]
    async fn add_group_to_roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Group and roles.")] input: AddGroupToRolesInput,
    ) -> async_graphql::Result<AddGroupToRolesPayload> {
        let g = services(ctx)?
            .roles_groups()
            .link_role_group(&audit(ctx, "add_group_to_roles"), Kind::Group, &input.group_key, &input.role_keys, true)
            .await?;
        Ok(AddGroupToRolesPayload { group: Group(g) })
    }

    /// Takes roles from a group.
    #[graphql(requires_scopes = "group:write")]
    async fn remove_group_from_roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Group and roles.")] input: RemoveGroupFromRolesInput,
    ) -> async_graphql::Result<RemoveGroupFromRolesPayload> {
        let g = services(ctx)?
            .roles_groups()
            .link_role_group(
                &audit(ctx, "remove_group_from_roles"),
                Kind::Group,
                &input.group_key,
                &input.role_keys,
                false,
            )
            .await?;
        Ok(RemoveGroupFromRolesPayload { group: Group(g) })
    }

    /// Assigns roles to a user.
    #[graphql(requires_scopes = "role:write")]
    async fn add_user_to_roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "User and roles.")] input: AddUserToRolesInput,
    ) -> async_graphql::Result<AddUserToRolesPayload> {
        let id = decode_id("User", &input.user_id)?;
        let u = services(ctx)?
            .roles_groups()
            .link_user(&audit(ctx, "add_user_to_roles"), id, Kind::Role, &input.role_keys, true)
            .await?;
        Ok(AddUserToRolesPayload { user: User(u) })
    }

    /// Unassigns roles from a user.
    #[graphql(requires_scopes = "role:write")]
    async fn remove_user_from_roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "User and roles.")] input: RemoveUserFromRolesInput,
    ) -> async_graphql::Result<RemoveUserFromRolesPayload> {
        let id = decode_id("User", &input.user_id)?;
        let u = services(ctx)?
            .roles_groups()
            .link_user(&audit(ctx, "remove_user_from_roles"), id, Kind::Role, &input.role_keys, false)
            .await?;
        Ok(RemoveUserFromRolesPayload { user: User(u) })
    }

    /// Adds a user to groups.
    #[graphql(requires_scopes = "group:write")]
    async fn add_user_to_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "User and groups.")] input: AddUserToGroupsInput,
    ) -> async_graphql::Result<AddUserToGroupsPayload> {
        let id = decode_id("User", &input.user_id)?;
        let u = services(ctx)?
            .roles_groups()
            .link_user(&audit(ctx, "add_user_to_groups"), id, Kind::Group, &input.group_keys, true)
            .await?;
        Ok(AddUserToGroupsPayload { user: User(u) })
    }

    /// Removes a user from groups.
    #[graphql(requires_scopes = "group:write")]
    async fn remove_user_from_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "User and groups.")] input: RemoveUserFromGroupsInput,
    ) -> async_graphql::Result<RemoveUserFromGroupsPayload> {
        let id = decode_id("User", &input.user_id)?;
        let u = services(ctx)?
            .roles_groups()
            .link_user(&audit(ctx, "remove_user_from_groups"), id, Kind::Group, &input.group_keys, false)
            .await?;
        Ok(RemoveUserFromGroupsPayload { user: User(u) })
    }
}
