//! The user as hook payloads show it: Authgear's API user model (snake_case), read in the
//! transaction of the change, so a handler sees the user as the change leaves it.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::service::Result;
use crate::service::store::time::time_of;
use entity::user;

/// RFC 3339 text of a stored time, or null.
fn at(v: Option<i64>) -> Value {
    v.and_then(|v| time_of(v).format(&Rfc3339).ok()).map_or(Value::Null, Value::String)
}

/// Keys of the roles or groups linked to `user_id` directly (`user_roles` or `user_groups`).
async fn keys(
    conn: &impl ConnectionTrait,
    link: &'static str,
    target: &'static str,
    fk: &'static str,
    user_id: Uuid,
) -> Result<Vec<String>> {
    let q = Query::select()
        .column((target, "key"))
        .from(link)
        .inner_join(target, Expr::col((target, "id")).equals((link, fk)))
        .and_where(Expr::col((link, "user_id")).eq(user_id))
        .to_owned();
    let mut out = Vec::new();
    for row in conn.query_all(&q).await? {
        out.push(row.try_get_by_index::<String>(0)?);
    }
    out.sort();
    Ok(out)
}

/// The keys of the groups `user_id` belongs to.
pub(in crate::service) async fn group_keys(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<String>> {
    keys(conn, "user_groups", "groups", "group_id", user_id).await
}

/// The API model of `user_id`, or `None` when the user does not exist (any more).
pub(in crate::service) async fn api_user(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<Option<Value>> {
    let Some(u) = user::Entity::find_by_id(user_id).one(conn).await? else {
        return Ok(None);
    };
    Ok(Some(model_of(conn, &u).await?))
}

/// The API model of a user row.
pub(in crate::service) async fn model_of(conn: &impl ConnectionTrait, u: &user::Model) -> Result<Value> {
    let roles = keys(conn, "user_roles", "roles", "role_id", u.id).await?;
    let groups = keys(conn, "user_groups", "groups", "group_id", u.id).await?;
    let attrs = &u.standard_attributes;
    let verified = ["email_verified", "phone_number_verified"]
        .iter()
        .any(|k| attrs.get(*k).and_then(Value::as_bool) == Some(true));
    Ok(json!({
        "id": u.id,
        "created_at": at(Some(u.created_at)),
        "updated_at": at(Some(u.updated_at)),
        "last_login_at": at(u.last_login_at),
        "is_anonymous": u.is_anonymous,
        "is_verified": verified,
        "is_disabled": u.is_disabled || u.is_deactivated,
        "disable_reason": u.disable_reason,
        "is_deactivated": u.is_deactivated,
        "delete_at": at(u.delete_at),
        "delete_reason": u.delete_reason,
        "is_anonymized": u.is_anonymized,
        "anonymize_at": at(u.anonymize_at),
        "temporarily_disabled_from": at(u.temporarily_disabled_from),
        "temporarily_disabled_until": at(u.temporarily_disabled_until),
        "account_valid_from": at(u.account_valid_from),
        "account_valid_until": at(u.account_valid_until),
        "can_reauthenticate": !u.is_anonymous,
        "mfa_grace_period_end_at": at(u.mfa_grace_period_end_at),
        "standard_attributes": u.standard_attributes,
        "custom_attributes": u.custom_attributes,
        "x_web3": {"accounts": []},
        "roles": roles,
        "groups": groups,
    }))
}

/// The identities of `user_id` as hook payloads show them (Authgear's identity model:
/// `{id, created_at, updated_at, type, user_id, claims}`), oldest first. `kinds` limits
/// them (empty: all).
pub(in crate::service) async fn api_identities(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    kinds: &[&str],
) -> Result<Vec<Value>> {
    use sea_orm::{QueryFilter, QueryOrder};
    let rows = entity::identity::Entity::find()
        .filter(Expr::col(entity::identity::Column::UserId).eq(user_id))
        .order_by_asc(entity::identity::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(crate::service::admin::identities::Identity::from)
        .filter(|i| kinds.is_empty() || kinds.contains(&i.kind.as_str()))
        .map(|i| identity_model(&i))
        .collect())
}

/// The identity of `user_id` of `kind` whose unique key is one of `keys`, as hook
/// payloads show it; `None` when there is none (or no key to look for).
pub(in crate::service) async fn api_identity(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    kind: &str,
    keys: &[String],
) -> Result<Option<Value>> {
    use entity::identity::{Column, Entity};
    use sea_orm::QueryFilter;
    if keys.is_empty() {
        return Ok(None);
    }
    let row = Entity::find()
        .filter(Expr::col(Column::UserId).eq(user_id))
        .filter(Expr::col(Column::Kind).eq(kind))
        .filter(Expr::col(Column::UniqueKey).is_in(keys.to_vec()))
        .one(conn)
        .await?;
    Ok(row.map(|r| identity_model(&crate::service::admin::identities::Identity::from(r))))
}

/// One identity as hook payloads show it.
pub(in crate::service) fn identity_model(i: &crate::service::admin::identities::Identity) -> Value {
    json!({
        "id": i.id,
        "created_at": i.created_at.format(&Rfc3339).ok(),
        "updated_at": i.updated_at.format(&Rfc3339).ok(),
        "type": i.kind,
        "user_id": i.user_id,
        "claims": i.claims(),
    })
}

/// A session as event payloads show it (Authgear's session model: `id`, `type`, `amr`,
/// times, the client and the device's IP and user agent).
pub(in crate::service) fn session_model(s: &entity::session::Model) -> Value {
    json!({
        "id": s.id,
        "type": if s.kind == "idp" { "idp" } else { "offline_grant" },
        "client_id": s.client_id,
        "amr": s.amr,
        "created_at": at(Some(s.created_at)),
        "last_accessed_at": at(Some(s.last_accessed_at)),
        "created_by_ip": s.created_by_ip,
        "last_accessed_by_ip": s.last_accessed_by_ip,
        "user_agent": s.user_agent,
    })
}

/// The login-ID event type of `identity` for `verb` (`added`, `removed`, `updated`,
/// `verified`, `unverified`): `identity.email.added` and so on; `None` for identities that
/// are not email, phone or username login IDs.
pub(in crate::service) fn login_id_event(login_id_type: &str, verb: &str) -> Option<String> {
    matches!(login_id_type, "email" | "phone" | "username").then(|| format!("identity.{login_id_type}.{verb}"))
}
