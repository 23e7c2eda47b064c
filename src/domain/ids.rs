//! Typed IDs: one newtype per kind of object, so that a role's ID does not compile where a
//! user's is expected. Each knows its GraphQL type name, the prefix of its global ID
//! (`graphql::node` encodes and decodes them). They serialize as the bare UUID.

use std::fmt;

use uuid::Uuid;

/// An ID of one kind of object.
pub trait TypedId: Copy + Eq + std::hash::Hash + fmt::Debug + Send + Sync + 'static {
    /// The GraphQL type name, the prefix of the global ID (`User`, `Role`, ...).
    const TYPE: &'static str;
    /// The ID of an existing object from its stored UUID.
    fn from_uuid(id: Uuid) -> Self;
    /// The stored UUID.
    fn uuid(self) -> Uuid;
}

macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident = $type_name:literal;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
            #[serde(transparent)]
            pub struct $name(Uuid);

            impl $name {
                /// A new, time-ordered ID (UUIDv7).
                pub fn generate() -> Self {
                    Self(Uuid::now_v7())
                }
            }

            impl TypedId for $name {
                const TYPE: &'static str = $type_name;
                fn from_uuid(id: Uuid) -> Self {
                    Self(id)
                }
                fn uuid(self) -> Uuid {
                    self.0
                }
            }

            impl From<Uuid> for $name {
                fn from(id: Uuid) -> Self {
                    Self(id)
                }
            }

            impl From<$name> for Uuid {
                fn from(id: $name) -> Uuid {
                    id.0
                }
            }

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    self.0.fmt(f)
                }
            }

            impl fmt::Debug for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    write!(f, "{}({})", $type_name, self.0)
                }
            }
        )*
    };
}

typed_ids! {
    /// A user.
    UserId = "User";
    /// An identity (a login ID) of a user.
    IdentityId = "Identity";
    /// An authenticator (a password, an email or SMS code, a TOTP) of a user.
    AuthenticatorId = "Authenticator";
    /// A role.
    RoleId = "Role";
    /// A group.
    GroupId = "Group";
    /// An application (OAuth client).
    ApplicationId = "Application";
    /// A client secret of an application.
    ApplicationSecretId = "ApplicationSecret";
    /// An API resource.
    ResourceId = "Resource";
    /// A scope of an API resource.
    ScopeId = "Scope";
    /// A session (browser session or refresh-token grant).
    SessionId = "Session";
    /// An authorization (consent) a user gave an application.
    AuthorizationId = "Authorization";
    /// An audit log entry.
    AuditLogId = "AuditLog";
    /// A fraud protection decision record.
    FraudProtectionDecisionRecordId = "FraudProtectionDecisionRecord";
    /// A signing key.
    SigningKeyId = "SigningKey";
    /// A webhook delivery (one event to one handler).
    WebhookDeliveryId = "WebhookDelivery";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_serializes_as_its_uuid_and_knows_its_type() {
        let u = Uuid::now_v7();
        let id = UserId::from_uuid(u);
        assert_eq!(serde_json::to_value(id).ok(), serde_json::to_value(u).ok());
        assert_eq!(id.to_string(), u.to_string());
        assert_eq!(UserId::TYPE, "User");
        assert_eq!(RoleId::TYPE, "Role");
        assert_eq!(id.uuid(), u);
    }
}
