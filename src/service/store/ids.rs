//! Typed IDs as sea-query values, so that a filter takes a `UserId` as it is.

use sea_orm::Value;

use crate::domain::ids::{
    ApplicationId, ApplicationSecretId, AuditLogId, AuthenticatorId, AuthorizationId, GroupId, IdentityId, ResourceId,
    RoleId, ScopeId, SessionId, SigningKeyId, TypedId, UserId,
};

macro_rules! as_values {
    ($($name:ident),*) => {
        $(
            impl From<$name> for Value {
                fn from(id: $name) -> Value {
                    id.uuid().into()
                }
            }
        )*
    };
}

as_values!(
    UserId,
    IdentityId,
    AuthenticatorId,
    RoleId,
    GroupId,
    ApplicationId,
    ApplicationSecretId,
    ResourceId,
    ScopeId,
    SessionId,
    AuthorizationId,
    AuditLogId,
    SigningKeyId
);
