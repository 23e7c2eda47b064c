//! Identities (login IDs) of a user.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::types::{Identity, User, micros, now};
use super::users::{insert_password, refresh_derived, user_row};
use super::{Audit, Error, Result, Services, audit, conflict_on_unique};
use crate::domain::login_id::LoginId;
use crate::domain::password::check_policy;
use entity::{authenticator, identity};

fn duplicate(login_id: &LoginId) -> Error {
    Error::conflict(
        "DuplicatedIdentity",
        format!("the {} `{}` is already used by a user", login_id.kind.as_str(), login_id.original),
    )
}

/// Inserts a login ID identity; a duplicate is `Conflict`/`DuplicatedIdentity`.
pub(crate) async fn insert_login_id(
    conn: &impl ConnectionTrait,
    key: &str,
    user_id: Uuid,
    login_id: &LoginId,
    t: OffsetDateTime,
) -> Result<identity::Model> {
    identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set("login_id".into()),
        login_id_key: Set(key.to_owned()),
        login_id_type: Set(login_id.kind.as_str().to_owned()),
        value: Set(login_id.value.clone()),
        original_value: Set(login_id.original.clone()),
        unique_key: Set(login_id.unique_key.clone()),
        created_at: Set(micros(t)),
        updated_at: Set(micros(t)),
    }
    .insert(conn)
    .await
    .map_err(|e| conflict_on_unique(e, "DuplicatedIdentity", duplicate(login_id).describe()))
}

async fn identity_row(conn: &impl ConnectionTrait, id: Uuid) -> Result<identity::Model> {
    identity::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("IdentityNotFound", format!("identity {id} does not exist")))
}

impl Services {
    /// Adds a login ID to a user; with `password`, also a primary password if they have none.
    pub async fn create_identity(
        &self,
        audit: &Audit,
        user_id: Uuid,
        key: &str,
        value: &str,
        password: Option<String>,
    ) -> Result<(Identity, User)> {
        let login_id = LoginId::parse(&self.config.login_id, key, value)?;
        let hash = match password {
            Some(p) => {
                check_policy(&self.config.password_policy, &p)?;
                Some(self.hasher.hash(p).await?)
            }
            None => None,
        };
        let t = now();
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        let ident = insert_login_id(&txn, key, user_id, &login_id, t).await?;
        if let Some(hash) = hash {
            let has_password = authenticator::Entity::find()
                .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
                .filter(Expr::col(authenticator::Column::Kind).eq("password"))
                .count(&txn)
                .await?
                > 0;
            if !has_password {
                insert_password(&txn, user_id, hash, t, false).await?;
            }
        }
        let row = refresh_derived(&txn, row).await?;
        let ident = Identity::from(ident);
        audit::record(&txn, audit, Some(user_id), json!({"identity": ident.claims(), "identity_id": ident.id})).await?;
        txn.commit().await?;
        Ok((ident, row.into()))
    }

    /// Changes the value of a login ID (its key stays).
    pub async fn update_identity(
        &self,
        audit: &Audit,
        user_id: Uuid,
        identity_id: Uuid,
        key: &str,
        value: &str,
    ) -> Result<(Identity, User)> {
        let login_id = LoginId::parse(&self.config.login_id, key, value)?;
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        let ident = identity_row(&txn, identity_id).await?;
        if ident.user_id != user_id {
            return Err(Error::not_found(
                "IdentityNotFound",
                format!("identity {identity_id} does not belong to user {user_id}"),
            ));
        }
        if ident.login_id_key != key {
            return Err(Error::invalid(
                "IdentityTypeMismatch",
                format!("identity {identity_id} is a {} login ID; it cannot become {key}", ident.login_id_key),
            ));
        }
        let mut am = ident.into_active_model();
        am.value = Set(login_id.value.clone());
        am.original_value = Set(login_id.original.clone());
        am.unique_key = Set(login_id.unique_key.clone());
        am.updated_at = Set(micros(now()));
        let ident = am
            .update(&txn)
            .await
            .map_err(|e| conflict_on_unique(e, "DuplicatedIdentity", duplicate(&login_id).describe()))?;
        let row = refresh_derived(&txn, row).await?;
        let ident = Identity::from(ident);
        audit::record(&txn, audit, Some(user_id), json!({"identity": ident.claims(), "identity_id": ident.id})).await?;
        txn.commit().await?;
        Ok((ident, row.into()))
    }

    /// Removes an identity; a user's last identity cannot be removed.
    pub async fn delete_identity(&self, audit: &Audit, identity_id: Uuid) -> Result<User> {
        let txn = self.db.begin_write().await?;
        let ident = identity_row(&txn, identity_id).await?;
        let row = user_row(&txn, ident.user_id).await?;
        let count =
            identity::Entity::find().filter(Expr::col(identity::Column::UserId).eq(ident.user_id)).count(&txn).await?;
        if count <= 1 {
            return Err(Error::invalid(
                "RemoveLastIdentity",
                "this is the user's last identity; add another one before removing it",
            ));
        }
        identity::Entity::delete_by_id(identity_id).exec(&txn).await?;
        let row = refresh_derived(&txn, row).await?;
        let ident = Identity::from(ident);
        audit::record(&txn, audit, Some(row.id), json!({"identity": ident.claims(), "identity_id": ident.id})).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Finds the user who owns a login ID.
    pub async fn user_by_login_id(&self, key: &str, value: &str) -> Result<Option<User>> {
        let unique_key = LoginId::lookup_key(&self.config.login_id, key, value)?;
        let ids = self.user_ids_by_unique_keys(std::slice::from_ref(&unique_key)).await?;
        match ids.first() {
            Some(id) => self.user(*id).await,
            None => Ok(None),
        }
    }

    /// Finds users by `email`, `phone_number` or `preferred_username`.
    pub async fn users_by_standard_attribute(&self, name: &str, value: &str) -> Result<Vec<User>> {
        let key = match name {
            "email" => "email",
            "phone_number" => "phone",
            "preferred_username" => "username",
            other => {
                return Err(Error::invalid(
                    "GetUsersInvalidArgument",
                    format!("attributeName `{other}` is not supported: use email, phone_number or preferred_username"),
                ));
            }
        };
        let unique_key = LoginId::lookup_key(&self.config.login_id, key, value)?;
        let ids = self.user_ids_by_unique_keys(&[unique_key]).await?;
        let mut users = self.users_by_ids(&ids).await?;
        users.sort_by_key(|u| u.created_at);
        Ok(users)
    }

    /// IDs of users owning any of these login ID unique keys.
    pub(crate) async fn user_ids_by_unique_keys(&self, keys: &[String]) -> Result<Vec<Uuid>> {
        let rows = identity::Entity::find()
            .filter(Expr::col(identity::Column::UniqueKey).is_in(keys.to_vec()))
            .all(&self.db.conn)
            .await?;
        let mut ids: Vec<Uuid> = rows.into_iter().map(|r| r.user_id).collect();
        ids.dedup();
        Ok(ids)
    }
}
