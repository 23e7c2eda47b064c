//! Relay global IDs (`base64url("Type:uuid")`, no padding) and the `Node` interface.

use crate::domain::reason;
use crate::domain::text::quoted;
use async_graphql::{Context, ID, Interface, Object};
use uuid::Uuid;

use super::applications::Application;
use super::audit::AuditLog;
use super::authenticators::Authenticator;
use super::context::{check_scope, services};
use super::error::bad_input;
use super::fraud_protection::FraudProtectionDecisionRecord;
use super::identities::Identity;
use super::resources::{Resource, Scope};
use super::roles_groups::{Group, Role};
use super::sessions::{Authorization, Session};
use super::users::User;
use crate::crypto::{b64, b64_decode};
use crate::domain::ids::{
    ApplicationId, AuditLogId, AuthenticatorId, AuthorizationId, FraudProtectionDecisionRecordId, GroupId, IdentityId,
    ResourceId, RoleId, ScopeId, SessionId, TypedId, UserId,
};
use crate::domain::scope::AdminScope;

/// Encodes a global ID of a typed ID.
pub fn encode<T: TypedId>(id: T) -> ID {
    ID(b64(format!("{}:{}", T::TYPE, id.uuid())))
}

/// Splits a global ID into type name and UUID; `None` if malformed.
pub fn decode_any(id: &str) -> Option<(String, Uuid)> {
    let raw = String::from_utf8(b64_decode(id)?).ok()?;
    let (t, u) = raw.split_once(':')?;
    Some((t.to_owned(), Uuid::parse_str(u).ok()?))
}

/// Decodes a global ID that must be of `T`'s type; a malformed or mistyped ID is
/// `BAD_USER_INPUT`.
pub fn decode<T: TypedId>(id: &ID) -> async_graphql::Result<T> {
    match decode_any(id) {
        Some((t, u)) if t == T::TYPE => Ok(T::from_uuid(u)),
        _ => Err(bad_input(reason::INVALID_ID, format!("{} is not a valid {} ID", quoted(id.as_str()), T::TYPE))),
    }
}

/// Decodes a list of global IDs of one type.
pub fn decode_all<T: TypedId>(ids: &[ID]) -> async_graphql::Result<Vec<T>> {
    if ids.len() > crate::domain::text::MAX_LIST {
        return Err(bad_input(reason::TOO_MANY_ITEMS, format!("pass at most {} IDs", crate::domain::text::MAX_LIST)));
    }
    ids.iter().map(decode).collect()
}

/// An object with a global ID.
#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "ID", desc = "The global ID of the object."))]
pub enum Node {
    /// A user.
    User(User),
    /// An identity.
    Identity(Identity),
    /// An authenticator.
    Authenticator(Authenticator),
    /// A role.
    Role(Role),
    /// A group.
    Group(Group),
    /// An audit log entry.
    AuditLog(AuditLog),
    /// An application (OAuth client).
    Application(Application),
    /// An API resource.
    Resource(Resource),
    /// A scope of an API resource.
    Scope(Scope),
    /// A session.
    Session(Session),
    /// A user's consent to a third-party application.
    Authorization(Authorization),
    /// A fraud protection decision record.
    FraudProtectionDecisionRecord(FraudProtectionDecisionRecord),
}

/// An object that records when it was created and last changed.
#[allow(clippy::duplicated_attributes)] // the `ty` of each field repeats by design
#[derive(Interface, Clone)]
#[graphql(
    field(name = "id", ty = "ID", desc = "The global ID of the object."),
    field(name = "created_at", ty = "crate::graphql::date_time::DateTime", desc = "When the object was created."),
    field(name = "updated_at", ty = "crate::graphql::date_time::DateTime", desc = "When the object was last changed.")
)]
pub enum Entity {
    /// A user.
    User(User),
    /// An identity.
    Identity(Identity),
    /// An authenticator.
    Authenticator(Authenticator),
    /// A role.
    Role(Role),
    /// A group.
    Group(Group),
}

async fn load_nodes(ctx: &Context<'_>, ids: &[ID]) -> async_graphql::Result<Vec<Option<Node>>> {
    let svc = services(ctx)?;
    let decoded: Vec<(String, Uuid)> = ids
        .iter()
        .map(|id| {
            decode_any(id)
                .ok_or_else(|| bad_input(reason::INVALID_ID, format!("{} is not a valid ID", quoted(id.as_str()))))
        })
        .collect::<Result<_, _>>()?;
    let mut found: Vec<(Uuid, Node)> = Vec::new();
    let wanted = |scope| Wanted { ctx, decoded: &decoded, scope };
    let users = wanted(AdminScope::UserRead).of::<UserId>()?;
    if !users.is_empty() {
        found.extend(svc.lookups().users_by_ids(&users).await?.into_iter().map(|u| (u.id.uuid(), Node::User(User(u)))));
    }
    let idents = wanted(AdminScope::UserRead).of::<IdentityId>()?;
    if !idents.is_empty() {
        found.extend(
            svc.lookups()
                .identities_by_ids(&idents)
                .await?
                .into_iter()
                .map(|i| (i.id.uuid(), Node::Identity(Identity(i)))),
        );
    }
    let auths = wanted(AdminScope::UserRead).of::<AuthenticatorId>()?;
    if !auths.is_empty() {
        found.extend(
            svc.lookups()
                .authenticators_by_ids(&auths)
                .await?
                .into_iter()
                .map(|a| (a.id.uuid(), Node::Authenticator(Authenticator(a)))),
        );
    }
    let roles = wanted(AdminScope::RoleRead).of::<RoleId>()?;
    if !roles.is_empty() {
        found.extend(svc.roles_groups().by_ids(&roles).await?.into_iter().map(|r| (r.id, Node::Role(Role(r)))));
    }
    let groups = wanted(AdminScope::GroupRead).of::<GroupId>()?;
    if !groups.is_empty() {
        found.extend(svc.roles_groups().by_ids(&groups).await?.into_iter().map(|g| (g.id, Node::Group(Group(g)))));
    }
    let apps = wanted(AdminScope::ApplicationRead).of::<ApplicationId>()?;
    if !apps.is_empty() {
        found.extend(
            svc.applications()
                .by_ids(&apps)
                .await?
                .into_iter()
                .map(|a| (a.id.uuid(), Node::Application(Application(a)))),
        );
    }
    let resources = wanted(AdminScope::ResourceRead).of::<ResourceId>()?;
    if !resources.is_empty() {
        found.extend(
            svc.resources().by_ids(&resources).await?.into_iter().map(|r| (r.id.uuid(), Node::Resource(Resource(r)))),
        );
    }
    let scopes = wanted(AdminScope::ResourceRead).of::<ScopeId>()?;
    if !scopes.is_empty() {
        found.extend(
            svc.resources().scopes_by_ids(&scopes).await?.into_iter().map(|s| (s.id.uuid(), Node::Scope(Scope(s)))),
        );
    }
    let sessions = wanted(AdminScope::UserRead).of::<SessionId>()?;
    if !sessions.is_empty() {
        found.extend(
            svc.sessions().by_ids(&sessions).await?.into_iter().map(|s| (s.id.uuid(), Node::Session(Session(s)))),
        );
    }
    let consents = wanted(AdminScope::UserRead).of::<AuthorizationId>()?;
    if !consents.is_empty() {
        found.extend(
            svc.authorizations()
                .by_ids(&consents)
                .await?
                .into_iter()
                .map(|a| (a.id.uuid(), Node::Authorization(Authorization(a)))),
        );
    }
    let logs = wanted(AdminScope::AuditLogRead).of::<AuditLogId>()?;
    if !logs.is_empty() {
        found.extend(
            svc.audit_logs().by_ids(&logs).await?.into_iter().map(|l| (l.id.uuid(), Node::AuditLog(AuditLog(l)))),
        );
    }
    let decisions = wanted(AdminScope::AuditLogRead).of::<FraudProtectionDecisionRecordId>()?;
    if !decisions.is_empty() {
        found.extend(
            svc.fraud_protection()
                .by_ids(&decisions)
                .await?
                .into_iter()
                .map(|d| (d.id.uuid(), Node::FraudProtectionDecisionRecord(FraudProtectionDecisionRecord(d)))),
        );
    }
    Ok(decoded
        .iter()
        .map(|(t, u)| found.iter().position(|(id, n)| id == u && node_type(n) == t).map(|p| found[p].1.clone()))
        .collect())
}

/// The IDs of one type among those `node`/`nodes` asked for; asking for any needs `scope`.
struct Wanted<'a, 'c> {
    ctx: &'a Context<'c>,
    decoded: &'a [(String, Uuid)],
    scope: AdminScope,
}

impl Wanted<'_, '_> {
    fn of<T: TypedId>(&self) -> async_graphql::Result<Vec<T>> {
        let ids: Vec<T> = self.decoded.iter().filter(|(k, _)| k == T::TYPE).map(|(_, u)| T::from_uuid(*u)).collect();
        if !ids.is_empty() {
            check_scope(self.ctx, self.scope)?;
        }
        Ok(ids)
    }
}

fn node_type(n: &Node) -> &'static str {
    match n {
        Node::User(_) => "User",
        Node::Identity(_) => "Identity",
        Node::Authenticator(_) => "Authenticator",
        Node::Role(_) => "Role",
        Node::Group(_) => "Group",
        Node::AuditLog(_) => "AuditLog",
        Node::Application(_) => "Application",
        Node::Resource(_) => "Resource",
        Node::Scope(_) => "Scope",
        Node::Session(_) => "Session",
        Node::Authorization(_) => "Authorization",
        Node::FraudProtectionDecisionRecord(_) => "FraudProtectionDecisionRecord",
    }
}

/// `node` and `nodes`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global ID. A malformed ID is a `BAD_USER_INPUT` error; an
    /// unknown one gives null. Needs the read scope of the object's type.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        Ok(load_nodes(ctx, std::slice::from_ref(&id)).await?.pop().flatten())
    }

    /// Fetches objects by global ID, in the order given; unknown IDs give null.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs (at most 100).")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(bad_input(reason::TOO_MANY_I_DS, "pass at most 100 IDs"));
        }
        load_nodes(ctx, &ids).await
    }
}
