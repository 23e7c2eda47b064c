//! Roles and groups, one file per concern: the `Role` and `Group` objects (`objects`),
//! the role and group queries and create/update/delete mutations (`roles`, `groups`),
//! and the mutations that link roles, groups and users (`links`), with their inputs and
//! payloads beside them.

mod groups;
mod links;
mod objects;
mod roles;

use async_graphql::MergedObject;

pub use groups::*;
pub use links::*;
pub use objects::*;
pub use roles::*;

/// Role and group queries.
#[derive(MergedObject, Default)]
pub struct RoleGroupQuery(RoleQuery, GroupQuery);

/// Role and group mutations. Role mutations need `role:write`, group mutations
/// `group:write`; each writes an audit log entry per affected user (or one if none).
#[derive(MergedObject, Default)]
pub struct RoleGroupMutation(RoleMutation, GroupMutation, LinkMutation);
