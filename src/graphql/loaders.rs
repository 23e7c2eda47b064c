//! Per-request DataLoaders: nested fields of a page of users are loaded in one query
//! per field, not one per user.

use crate::domain::ids::{ResourceId, UserId};
use async_graphql::dataloader::Loader;
use std::collections::HashMap;
use uuid::Uuid;

use crate::service::admin::authenticators::Authenticator;
use crate::service::admin::identities::Identity;
use crate::service::admin::identities::VerifiedClaim;
use crate::service::admin::lookups::Owner;
use crate::service::admin::roles_groups::Keyed;
use crate::service::admin::users::User;
use crate::service::{Error, Services};

/// Loads everything keyed by user ID.
pub struct AppLoader(pub Services);

/// Error shared by every waiter of a batch.
pub type LoadError = async_graphql::Error;

fn err(e: Error) -> LoadError {
    e.into()
}

/// A user by ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserById(pub UserId);
/// A user's identities.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentitiesOf(pub UserId);
/// A user's authenticators.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthenticatorsOf(pub UserId);
/// A user's verified claims.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifiedClaimsOf(pub UserId);
/// Roles or groups of an owner.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyedOf(pub Owner, pub Uuid);
/// Live sessions of a user.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionsOf(pub UserId);
/// Third-party consents of a user.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthorizationsOf(pub UserId);
/// Client IDs linked to a resource.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIdsOf(pub ResourceId);
/// Effective roles of a user.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EffectiveRolesOf(pub UserId);
/// The account lockout of a user.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountLockoutOf(pub UserId);

fn ids<K, I>(keys: &[K], f: impl Fn(&K) -> I) -> Vec<I> {
    keys.iter().map(f).collect()
}

fn spread<K: Copy + Eq + std::hash::Hash, I: Eq + std::hash::Hash, V>(
    keys: &[K],
    id: impl Fn(&K) -> I,
    mut map: HashMap<I, Vec<V>>,
) -> HashMap<K, Vec<V>> {
    keys.iter().map(|k| (*k, map.remove(&id(k)).unwrap_or_default())).collect()
}

impl Loader<UserById> for AppLoader {
    type Value = User;
    type Error = LoadError;
    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, User>, LoadError> {
        let users = self.0.lookups().users_by_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(users.into_iter().map(|u| (UserById(u.id), u)).collect())
    }
}

impl Loader<IdentitiesOf> for AppLoader {
    type Value = Vec<Identity>;
    type Error = LoadError;
    async fn load(&self, keys: &[IdentitiesOf]) -> Result<HashMap<IdentitiesOf, Vec<Identity>>, LoadError> {
        let map = self.0.lookups().identities_by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<AuthenticatorsOf> for AppLoader {
    type Value = Vec<Authenticator>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[AuthenticatorsOf],
    ) -> Result<HashMap<AuthenticatorsOf, Vec<Authenticator>>, LoadError> {
        let map = self.0.lookups().authenticators_by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<VerifiedClaimsOf> for AppLoader {
    type Value = Vec<VerifiedClaim>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[VerifiedClaimsOf],
    ) -> Result<HashMap<VerifiedClaimsOf, Vec<VerifiedClaim>>, LoadError> {
        let map = self.0.lookups().verified_claims_by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<KeyedOf> for AppLoader {
    type Value = Vec<Keyed>;
    type Error = LoadError;
    async fn load(&self, keys: &[KeyedOf]) -> Result<HashMap<KeyedOf, Vec<Keyed>>, LoadError> {
        let mut out = HashMap::new();
        for owner in [Owner::UserRoles, Owner::UserGroups, Owner::UserGroupRoles] {
            let of: Vec<KeyedOf> = keys.iter().filter(|k| k.0 == owner).copied().collect();
            if of.is_empty() {
                continue;
            }
            let map = self.0.lookups().keyed_by_owner(owner, &ids(&of, |k| k.1)).await.map_err(err)?;
            out.extend(spread(&of, |k| k.1, map));
        }
        Ok(out)
    }
}

impl Loader<EffectiveRolesOf> for AppLoader {
    type Value = Vec<Keyed>;
    type Error = LoadError;
    async fn load(&self, keys: &[EffectiveRolesOf]) -> Result<HashMap<EffectiveRolesOf, Vec<Keyed>>, LoadError> {
        let map = self.0.lookups().effective_roles_by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<ClientIdsOf> for AppLoader {
    type Value = Vec<String>;
    type Error = LoadError;
    async fn load(&self, keys: &[ClientIdsOf]) -> Result<HashMap<ClientIdsOf, Vec<String>>, LoadError> {
        let map = self.0.resources().client_ids_by_resource(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<SessionsOf> for AppLoader {
    type Value = Vec<crate::service::admin::sessions::Session>;
    type Error = LoadError;
    async fn load(&self, keys: &[SessionsOf]) -> Result<HashMap<SessionsOf, Self::Value>, LoadError> {
        let map = self.0.sessions().by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<AuthorizationsOf> for AppLoader {
    type Value = Vec<crate::service::admin::authorizations::Authorization>;
    type Error = LoadError;
    async fn load(&self, keys: &[AuthorizationsOf]) -> Result<HashMap<AuthorizationsOf, Self::Value>, LoadError> {
        let map = self.0.authorizations().by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(spread(keys, |k| k.0, map))
    }
}

impl Loader<AccountLockoutOf> for AppLoader {
    type Value = crate::service::admin::lockouts::AccountLockout;
    type Error = LoadError;
    async fn load(&self, keys: &[AccountLockoutOf]) -> Result<HashMap<AccountLockoutOf, Self::Value>, LoadError> {
        let map = self.0.lookups().account_lockouts_by_user_ids(&ids(keys, |k| k.0)).await.map_err(err)?;
        Ok(map.into_iter().map(|(k, v)| (AccountLockoutOf(k), v)).collect())
    }
}
