//! Signing keys: list them and rotate them.

use crate::graphql::date_time::DateTime;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::applications::SigningAlgorithm;
use super::context::{audit, services};
use super::node::encode;
use super::scalars::JWK;
use crate::service::admin::signing_keys::SigningKeyInfo;

/// A key that signs or verifies tokens. Only public parts are shown.
#[derive(SimpleObject)]
#[graphql(requires_scopes = "application:read", requires_scopes = "application:write")]
pub struct SigningKey {
    /// The global ID of the key.
    pub id: ID,
    /// Key ID: the RFC 7638 thumbprint, as in the JWKS and in token headers.
    pub kid: String,
    /// Algorithm.
    pub algorithm: SigningAlgorithm,
    /// Whether it signs new tokens.
    pub is_active: bool,
    /// The public key as a JWK.
    #[graphql(name = "publicJWK")]
    pub public_jwk: JWK,
    /// When the key was created.
    pub created_at: DateTime,
    /// When a rotation made it stop signing.
    pub deactivated_at: Option<DateTime>,
    /// When it stops verifying and leaves the JWKS.
    pub retire_at: Option<DateTime>,
}

impl From<SigningKeyInfo> for SigningKey {
    fn from(k: SigningKeyInfo) -> Self {
        Self {
            id: encode(k.id),
            kid: k.kid,
            algorithm: SigningAlgorithm::parse(&k.alg),
            is_active: k.active,
            public_jwk: JWK(k.jwk),
            created_at: DateTime(k.created_at),
            deactivated_at: k.deactivated_at.map(DateTime),
            retire_at: k.retire_at.map(DateTime),
        }
    }
}

/// Signing key queries.
#[derive(Default)]
pub struct SigningKeyQuery;

#[Object]
impl SigningKeyQuery {
    /// Every key that can still verify a token, newest first. Needs `application:read`.
    #[graphql(requires_scopes = "application:read")]
    async fn signing_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SigningKey>> {
        Ok(services(ctx)?.signing_keys().list().await?.into_iter().map(SigningKey::from).collect())
    }
}

/// Input of `rotateSigningKey`.
#[derive(InputObject)]
pub struct RotateSigningKeyInput {
    /// Which algorithm's key to rotate (default RS256).
    pub algorithm: Option<SigningAlgorithm>,
}

/// Result of `rotateSigningKey`.
#[derive(SimpleObject)]
pub struct RotateSigningKeyPayload {
    /// The new active key.
    pub signing_key: SigningKey,
}

/// Signing key mutations.
#[derive(Default)]
pub struct SigningKeyMutation;

#[Object]
impl SigningKeyMutation {
    /// Makes a new key active. The old one keeps verifying until every token it signed has
    /// expired, then leaves the JWKS. Needs `application:write`.
    #[graphql(requires_scopes = "application:write")]
    async fn rotate_signing_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which key to rotate.")] input: RotateSigningKeyInput,
    ) -> async_graphql::Result<RotateSigningKeyPayload> {
        let alg = input.algorithm.unwrap_or(SigningAlgorithm::Rs256).as_str();
        let key = services(ctx)?.signing_keys().rotate(&audit(ctx, "rotate_signing_key"), alg).await?;
        Ok(RotateSigningKeyPayload { signing_key: key.into() })
    }
}
