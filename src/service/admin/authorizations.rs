//! Third-party consents (`authorizations`) as the Admin API sees them.

use crate::domain::ids::{AuthorizationId, UserId};
use crate::domain::reason;
use crate::service::Authorizations;
use crate::service::admin::user_rows::admin_user_row;
use crate::service::admin::users::User;
use crate::service::store::session_end::{end_sessions, of_user};
use crate::service::store::time::{micros, now, strings, time_of};
use crate::service::{Audit, Error, Result};
use entity::{authorization, session};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

/// A user's consent to a third-party application.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// ID.
    pub id: AuthorizationId,
    /// The user.
    pub user_id: UserId,
    /// The application.
    pub client_id: String,
    /// Scopes consented to.
    pub scopes: Vec<String>,
    /// First consent.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<authorization::Model> for Authorization {
    fn from(m: authorization::Model) -> Self {
        Self {
            id: m.id.into(),
            user_id: m.user_id.into(),
            client_id: m.client_id,
            scopes: strings(&m.scopes),
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

impl Authorizations<'_> {
    /// Consents of each user, oldest first.
    pub async fn by_user_ids(&self, ids: &[UserId]) -> Result<HashMap<UserId, Vec<Authorization>>> {
        let rows = authorization::Entity::find()
            .filter(Expr::col(authorization::Column::UserId).is_in(ids.to_vec()))
            .order_by_asc(authorization::Column::Id)
            .all(&self.db.reader())
            .await?;
        let mut map: HashMap<UserId, Vec<Authorization>> = HashMap::new();
        for r in rows {
            map.entry(r.user_id.into()).or_default().push(r.into());
        }
        Ok(map)
    }

    /// Consents by ID.
    pub async fn by_ids(&self, ids: &[AuthorizationId]) -> Result<Vec<Authorization>> {
        let rows = authorization::Entity::find()
            .filter(Expr::col(authorization::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        Ok(rows.into_iter().map(Authorization::from).collect())
    }

    /// Withdraws a consent: the application must ask again, and its refresh-token grants
    /// for the user end now.
    pub async fn delete(&self, audit: &Audit, id: AuthorizationId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = authorization::Entity::find_by_id(id).one(txn).await?.ok_or_else(|| {
                Error::not_found(reason::AUTHORIZATION_NOT_FOUND, format!("authorization {id} does not exist"))
            })?;
            authorization::Entity::delete_by_id(id).exec(txn).await?;
            let grants = of_user(row.user_id).add(Expr::col(session::Column::ClientId).eq(row.client_id.clone()));
            end_sessions(txn, grants, micros(now())).await?;
            let user = admin_user_row(txn, row.user_id).await?;
            tx.record(audit, Some(row.user_id), json!({"authorization_id": id, "client_id": row.client_id})).await?;
            Ok(user.into())
        })
        .await
    }
}
