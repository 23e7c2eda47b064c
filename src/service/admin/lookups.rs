//! Batch lookups behind the GraphQL DataLoaders: one query per batch, never per item.

use crate::domain::ids::{AuthenticatorId, IdentityId, TypedId, UserId};
use crate::service::Lookups;
use crate::service::admin::authenticators::Authenticator;
use crate::service::admin::identities::{Identity, VerifiedClaim};
use crate::service::admin::roles_groups::{Keyed, KeyedRow, Kind};
use crate::service::admin::users::User;
use crate::service::{Error, Result};
use entity::{authenticator, identity, user, verified_claim};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(FromQueryResult)]
struct OwnedKeyed {
    owner_id: Uuid,
    #[sea_orm(nested)]
    row: KeyedRow,
}

/// The reader of link rows on a direct SQLite connection: the owner, then the ID of the
/// role or group.
fn owned_id_of(stmt: &rusqlite::Statement<'_>) -> Result<crate::service::store::direct_rows::Reader<(Uuid, Uuid)>> {
    use crate::service::store::direct_sqlite::{columns, uuid};
    let [owner, id] = columns(stmt, ["owner_id", "keyed_id"])?;
    Ok(Box::new(move |r| Ok((uuid(r, owner)?, uuid(r, id)?))))
}

/// The reader of roles or groups on a direct SQLite connection.
fn keyed_of(stmt: &rusqlite::Statement<'_>) -> Result<crate::service::store::direct_rows::Reader<KeyedRow>> {
    use crate::service::store::direct_rows::{Reader, model_reader};
    use crate::service::store::direct_sqlite::{columns, get, uuid};
    model_reader!(stmt, KeyedRow { id: uuid, key: get, name: get, description: get, created_at: get, updated_at: get })
}

/// Who owns the listed roles or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Roles assigned to users directly.
    UserRoles,
    /// Groups of users.
    UserGroups,
    /// Roles of users through their groups.
    UserGroupRoles,
}

pub(in crate::service) fn group_by<K: Eq + std::hash::Hash, T>(
    pairs: impl IntoIterator<Item = (K, T)>,
) -> HashMap<K, Vec<T>> {
    let mut map: HashMap<K, Vec<T>> = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    map
}

/// Each owner's list sorted by key (keys are unique; the ID breaks no tie but keeps the
/// order total).
fn by_key(mut map: HashMap<Uuid, Vec<Keyed>>) -> HashMap<Uuid, Vec<Keyed>> {
    for list in map.values_mut() {
        list.sort_unstable_by(|a, b| (a.key.as_str(), a.id).cmp(&(b.key.as_str(), b.id)));
    }
    map
}

impl Lookups<'_> {
    /// Users by ID.
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>> {
        let rows =
            user::Entity::find().filter(Expr::col(user::Column::Id).is_in(ids.to_vec())).all(&self.db.reader()).await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// Identities of each user, oldest first.
    pub async fn identities_by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, Vec<Identity>>> {
        let rows = identity::Entity::find()
            .filter(Expr::col(identity::Column::UserId).is_in(ids.to_vec()))
            .order_by_asc(identity::Column::Id)
            .all(&self.db.reader())
            .await?;
        Ok(group_by(rows.into_iter().map(|r| (UserId::from(r.user_id), Identity::from(r)))))
    }

    /// Identities by ID.
    pub async fn identities_by_ids(&self, ids: &[IdentityId]) -> Result<Vec<Identity>> {
        let rows = identity::Entity::find()
            .filter(Expr::col(identity::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(Identity::from).collect())
    }

    /// Authenticators of each user, oldest first.
    pub async fn authenticators_by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, Vec<Authenticator>>> {
        let rows = authenticator::Entity::find()
            .filter(Expr::col(authenticator::Column::UserId).is_in(ids.to_vec()))
            .order_by_asc(authenticator::Column::Id)
            .all(&self.db.reader())
            .await?;
        Ok(group_by(rows.into_iter().map(|r| (UserId::from(r.user_id), Authenticator::from(r)))))
    }

    /// Authenticators by ID.
    pub async fn authenticators_by_ids(&self, ids: &[AuthenticatorId]) -> Result<Vec<Authenticator>> {
        let rows = authenticator::Entity::find()
            .filter(Expr::col(authenticator::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(Authenticator::from).collect())
    }

    /// Verified claims of each user.
    pub async fn verified_claims_by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, Vec<VerifiedClaim>>> {
        let rows = verified_claim::Entity::find()
            .filter(Expr::col(verified_claim::Column::UserId).is_in(ids.to_vec()))
            .order_by_asc(verified_claim::Column::CreatedAt)
            .all(&self.db.reader())
            .await?;
        Ok(group_by(
            rows.into_iter().map(|r| (UserId::from(r.user_id), VerifiedClaim { name: r.name, value: r.value })),
        ))
    }

    /// Roles or groups of each owner, ordered by key.
    pub async fn keyed_by_owner(&self, owner: Owner, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Keyed>>> {
        // The link rows: each owner with the ID of a role or group of theirs.
        let (kind, link, mut q) = match owner {
            Owner::UserRoles => (
                Kind::Role,
                ("user_roles", "role_id"),
                Query::select()
                    .expr_as(Expr::col(("user_roles", "user_id")), "owner_id")
                    .from("user_roles")
                    .and_where(Expr::col(("user_roles", "user_id")).is_in(ids.to_vec()))
                    .to_owned(),
            ),
            Owner::UserGroups => (
                Kind::Group,
                ("user_groups", "group_id"),
                Query::select()
                    .expr_as(Expr::col(("user_groups", "user_id")), "owner_id")
                    .from("user_groups")
                    .and_where(Expr::col(("user_groups", "user_id")).is_in(ids.to_vec()))
                    .to_owned(),
            ),
            Owner::UserGroupRoles => (
                Kind::Role,
                ("group_roles", "role_id"),
                Query::select()
                    .expr_as(Expr::col(("user_groups", "user_id")), "owner_id")
                    .from("user_groups")
                    .inner_join(
                        "group_roles",
                        Expr::col(("group_roles", "group_id")).equals(("user_groups", "group_id")),
                    )
                    .and_where(Expr::col(("user_groups", "user_id")).is_in(ids.to_vec()))
                    .to_owned(),
            ),
        };
        let t = kind.table();
        let columns = [(t, "id"), (t, "key"), (t, "name"), (t, "description"), (t, "created_at"), (t, "updated_at")];
        // On a SQLite file: the link rows (a covering index), then the few distinct roles
        // or groups they name, on one direct connection. A join would look the same role
        // up again for every owner that has it.
        let base = &q;
        let found = self
            .db
            .direct_here(2, move |conn| {
                use crate::service::store::direct_rows::all;
                let mut links = base.clone();
                links.expr_as(Expr::col(link), "keyed_id");
                let pairs = all(conn, sea_orm::DbBackend::Sqlite.build(&links), owned_id_of)?;
                let mut wanted: Vec<Uuid> = pairs.iter().map(|(_, id)| *id).collect();
                wanted.sort_unstable();
                wanted.dedup();
                if wanted.is_empty() {
                    return Ok(HashMap::new());
                }
                let rows =
                    Query::select().columns(columns).from(t).and_where(Expr::col((t, "id")).is_in(wanted)).to_owned();
                let rows: HashMap<Uuid, Keyed> = all(conn, sea_orm::DbBackend::Sqlite.build(&rows), keyed_of)?
                    .into_iter()
                    .map(|r| (r.id, Keyed::from(r)))
                    .collect();
                Ok(group_by(pairs.into_iter().filter_map(|(owner, id)| Some((owner, rows.get(&id)?.clone())))))
            })
            .await;
        if let Some(found) = found {
            return Ok(by_key(found?));
        }
        // Elsewhere one query, joined: a second would be a second round trip.
        q.inner_join(t, Expr::col((t, "id")).equals(link)).columns(columns);
        let rows = self.db.reader().query_all(&q).await?;
        let mut pairs = Vec::with_capacity(rows.len());
        for row in &rows {
            let r = OwnedKeyed::from_query_result(row, "").map_err(Error::from)?;
            pairs.push((r.owner_id, Keyed::from(r.row)));
        }
        Ok(by_key(group_by(pairs)))
    }

    /// Keys of one user's effective roles, sorted, in one query (for tokens).
    pub async fn effective_role_keys(&self, user_id: UserId) -> Result<Vec<String>> {
        let mut q = Query::select()
            .column(("roles", "key"))
            .from("user_roles")
            .inner_join("roles", Expr::col(("roles", "id")).equals(("user_roles", "role_id")))
            .and_where(Expr::col(("user_roles", "user_id")).eq(user_id))
            .to_owned();
        q.union(
            sea_orm::sea_query::UnionType::Distinct,
            Query::select()
                .column(("roles", "key"))
                .from("user_groups")
                .inner_join("group_roles", Expr::col(("group_roles", "group_id")).equals(("user_groups", "group_id")))
                .inner_join("roles", Expr::col(("roles", "id")).equals(("group_roles", "role_id")))
                .and_where(Expr::col(("user_groups", "user_id")).eq(user_id))
                .to_owned(),
        );
        let mut keys = Vec::new();
        for row in self.db.reader().query_all(&q).await? {
            keys.push(row.try_get_by_index::<String>(0)?);
        }
        keys.sort();
        Ok(keys)
    }

    /// Effective roles of each user: direct roles ∪ roles of their groups, ordered by key.
    pub async fn effective_roles_by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, Vec<Keyed>>> {
        let raw: Vec<Uuid> = ids.iter().map(|i| i.uuid()).collect();
        let mut direct: HashMap<UserId, Vec<Keyed>> =
            self.keyed_by_owner(Owner::UserRoles, &raw).await?.into_iter().map(|(k, v)| (k.into(), v)).collect();
        for (user, roles) in self.keyed_by_owner(Owner::UserGroupRoles, &raw).await? {
            let user = UserId::from(user);
            let list = direct.entry(user).or_default();
            for r in roles {
                if !list.iter().any(|x| x.id == r.id) {
                    list.push(r);
                }
            }
            list.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(direct)
    }
}
