//! Links between roles, groups and users: the twelve `add…To…`/`remove…From…`
//! mutations, their inputs and payloads.

use crate::domain::ids::UserId;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::objects::{Group, Role};
use crate::graphql::context::{audit, services};
use crate::graphql::node::{decode, decode_all};
use crate::graphql::users::User;
use crate::service::admin::roles_groups::Kind;

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

/// Mutations that link roles, groups and users. `addRoleTo…`, `removeRoleFrom…`,
/// `addUserToRoles` and `removeUserFromRoles` need `role:write`; `addGroupTo…`,
/// `removeGroupFrom…`, `addUserToGroups` and `removeUserFromGroups` need `group:write`.
/// Each writes an audit log entry per affected user (or one if none).
#[derive(Default)]
pub struct LinkMutation;

#[Object]
impl LinkMutation {
    /// Assigns a role to users.
    #[graphql(requires_scopes = "role:write")]
    async fn add_role_to_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Role and users.")] input: AddRoleToUsersInput,
    ) -> async_graphql::Result<AddRoleToUsersPayload> {
        let ids = decode_all::<UserId>(&input.user_ids)?;
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
        let ids = decode_all::<UserId>(&input.user_ids)?;
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
        let ids = decode_all::<UserId>(&input.user_ids)?;
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
        let ids = decode_all::<UserId>(&input.user_ids)?;
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
        let id = decode::<UserId>(&input.user_id)?;
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
        let id = decode::<UserId>(&input.user_id)?;
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
        let id = decode::<UserId>(&input.user_id)?;
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
        let id = decode::<UserId>(&input.user_id)?;
        let u = services(ctx)?
            .roles_groups()
            .link_user(&audit(ctx, "remove_user_from_groups"), id, Kind::Group, &input.group_keys, false)
            .await?;
        Ok(RemoveUserFromGroupsPayload { user: User(u) })
    }
}
