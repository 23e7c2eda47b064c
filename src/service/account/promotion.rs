//! The end every promotion of an anonymous user shares, whatever it adds (a login ID and a
//! password, a provider account, a passkey): inside the unit of work that added the new
//! identity, the anonymous identities go, the user is no longer anonymous, and
//! `user.anonymous.promoted` is recorded with the user before and after and the identities. The user's ID,
//! and so the `sub` of every token, stays the same.

use serde_json::json;

use crate::domain::reason;
use crate::service::admin::identities::ANONYMOUS;
use crate::service::admin::user_rows::{refresh_derived, snapshot, user_row};
use crate::service::admin::users::User;
use crate::service::events::user_model::api_identities;
use crate::service::store::time::micros;
use crate::service::unit_of_work::Tx;
use crate::service::{Actor, Audit, Error, Result};
use entity::{identity, user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use time::OffsetDateTime;
use uuid::Uuid;

/// The row of the user a promotion is for, read in `tx`: refused (nothing changes) when
/// the user is no longer anonymous, because a promotion of it already finished.
pub(in crate::service) async fn anonymous_row(tx: &Tx, user_id: Uuid) -> Result<user::Model> {
    let row = user_row(tx.conn(), user_id).await?;
    if !row.is_anonymous {
        return Err(Error::conflict(reason::DUPLICATED_IDENTITY, "this account was promoted already; sign in"));
    }
    Ok(row)
}

/// Finishes the promotion of `before` (read by [`anonymous_row`] in the same `tx`, the
/// new identity already added): removes the anonymous identities, clears `is_anonymous`
/// and records `user.anonymous.promoted` with `identity_type`, the kind of identity added.
pub(in crate::service) async fn finish_promotion(
    tx: &Tx,
    before: user::Model,
    identity_type: &str,
    actor: &Actor,
    at: OffsetDateTime,
) -> Result<User> {
    let txn = tx.conn();
    let anonymous = snapshot(&before);
    identity::Entity::delete_many()
        .filter(Expr::col(identity::Column::UserId).eq(before.id))
        .filter(Expr::col(identity::Column::Kind).eq(ANONYMOUS))
        .exec(txn)
        .await?;
    let mut am = before.into_active_model();
    am.is_anonymous = Set(false);
    am.updated_at = Set(micros(at));
    let row = am.update(txn).await?;
    let row = refresh_derived(txn, row).await?;
    // Authgear's payload: the user before and after, and the identities the user now has
    // (all added by the promotion, since an anonymous user has only the anonymous one).
    let identities = api_identities(txn, row.id, &[]).await?;
    let audit = Audit { actor: actor.clone(), activity: "user.anonymous.promoted".into() };
    let payload = json!({
        "anonymous_user": anonymous, "user": snapshot(&row), "identities": identities, "identity_type": identity_type,
    });
    tx.record_at(&audit, Some(row.id), payload, at).await?;
    Ok(User::from(row))
}
