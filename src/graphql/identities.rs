//! The `Identity` type and identity mutations.

use crate::domain::ids::{IdentityId, UserId};
use crate::graphql::date_time::DateTime;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use serde_json::Value;

use super::context::{audit, services};
use super::node::{decode, encode};
use super::scalars::IdentityClaims;
use super::users::{IdentityDefinition, IdentityType, User};

/// A way a user is recognised: a login ID, a device key (anonymous or biometric), a
/// passkey, or an account at a social or enterprise login provider.
#[derive(Clone)]
pub struct Identity(pub crate::service::admin::identities::Identity);

/// A way a user is recognised: a login ID, the device key of an anonymous user
/// (`ANONYMOUS`) or of a phone set up for biometric sign-in (`BIOMETRIC`), a passkey
/// (`PASSKEY`), or an account at a social or enterprise login provider (`OAUTH`).
#[Object(requires_scopes = "user:read")]
impl Identity {
    /// The global ID of the identity.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The identity type.
    #[graphql(name = "type")]
    async fn identity_type(&self) -> IdentityType {
        IdentityType::parse(&self.0.kind)
    }
    /// Claims of the identity as Authgear names them: a login ID has OIDC names (`email`,
    /// `phone_number`, `preferred_username`) and `https://authgear.com/claims/login_id/…`;
    /// the other types have `…/anonymous/key_id`, `…/biometric/{key_id,device_info,
    /// formatted_device_info}`, `…/passkey/{credential_id,display_name}` or
    /// `…/oauth/{provider_type,provider_alias,subject_id,profile}`.
    async fn claims(&self, #[graphql(desc = "Only these claims.")] names: Option<Vec<String>>) -> IdentityClaims {
        let mut c = self.0.claims();
        if let (Some(names), Value::Object(map)) = (names, &mut c) {
            map.retain(|k, _| names.contains(k));
        }
        IdentityClaims(c)
    }
    /// When the identity was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the identity was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// Input of `createIdentity`.
#[derive(InputObject)]
pub struct CreateIdentityInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// The new identity.
    pub definition: IdentityDefinition,
    /// A password to add if the user has none.
    pub password: Option<String>,
}

/// Result of `createIdentity`.
#[derive(SimpleObject)]
pub struct CreateIdentityPayload {
    /// The new identity.
    pub identity: Identity,
    /// The user after the change.
    pub user: User,
}

/// Input of `updateIdentity`.
#[derive(InputObject)]
pub struct UpdateIdentityInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// The identity.
    #[graphql(name = "identityID")]
    pub identity_id: ID,
    /// The new value; its login ID key must match the identity's.
    pub definition: IdentityDefinition,
}

/// Result of `updateIdentity`.
#[derive(SimpleObject)]
pub struct UpdateIdentityPayload {
    /// The identity after the change.
    pub identity: Identity,
    /// The user after the change.
    pub user: User,
}

/// Input of `deleteIdentity`.
#[derive(InputObject)]
pub struct DeleteIdentityInput {
    /// The identity; a user's last identity cannot be deleted.
    #[graphql(name = "identityID")]
    pub identity_id: ID,
}

/// Result of `deleteIdentity`.
#[derive(SimpleObject)]
pub struct DeleteIdentityPayload {
    /// The user after the change.
    pub user: User,
}

/// Identity mutations; each needs `user:write`.
#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Adds a login ID to a user.
    #[graphql(requires_scopes = "user:write")]
    async fn create_identity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new identity.")] input: CreateIdentityInput,
    ) -> async_graphql::Result<CreateIdentityPayload> {
        let user_id = decode::<UserId>(&input.user_id)?;
        let l = input.definition.login_id;
        let (identity, user) = services(ctx)?
            .identities()
            .create(&audit(ctx, "create_identity"), user_id, &l.key, &l.value, input.password)
            .await?;
        Ok(CreateIdentityPayload { identity: Identity(identity), user: User(user) })
    }

    /// Changes the value of a login ID.
    #[graphql(requires_scopes = "user:write")]
    async fn update_identity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The identity and its new value.")] input: UpdateIdentityInput,
    ) -> async_graphql::Result<UpdateIdentityPayload> {
        let user_id = decode::<UserId>(&input.user_id)?;
        let identity_id = decode::<IdentityId>(&input.identity_id)?;
        let l = input.definition.login_id;
        let (identity, user) = services(ctx)?
            .identities()
            .update(&audit(ctx, "update_identity"), user_id, identity_id, &l.key, &l.value)
            .await?;
        Ok(UpdateIdentityPayload { identity: Identity(identity), user: User(user) })
    }

    /// Removes an identity (never the user's last one).
    #[graphql(requires_scopes = "user:write")]
    async fn delete_identity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The identity to remove.")] input: DeleteIdentityInput,
    ) -> async_graphql::Result<DeleteIdentityPayload> {
        let identity_id = decode::<IdentityId>(&input.identity_id)?;
        let user = services(ctx)?.identities().delete(&audit(ctx, "delete_identity"), identity_id).await?;
        Ok(DeleteIdentityPayload { user: User(user) })
    }
}
