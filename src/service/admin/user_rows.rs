//! The `users` row and its password authenticator as stored: loading, recomputing the
//! derived columns, and writing password hashes. Shared by the Admin API and the account
//! flows.

use crate::domain::attributes::formatted_name;
use crate::domain::ids::{TypedId, UserId};
use crate::domain::password::MAX_PASSWORD_HISTORY;
use crate::domain::reason;
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Error, Result, conflict_on_unique};
use entity::{authenticator, identity, password_history, user, verified_claim};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// Reads a user row inside `conn` or fails with `UserNotFound`. On PostgreSQL the row is
/// locked (`FOR UPDATE`) until the transaction ends, so that checks such as "not the last
/// identity" hold against concurrent writers; SQLite write transactions are serial anyway.
pub(in crate::service) async fn user_row(conn: &impl ConnectionTrait, id: Uuid) -> Result<user::Model> {
    let mut q = user::Entity::find_by_id(id);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(conn).await?.ok_or_else(|| Error::not_found(reason::USER_NOT_FOUND, format!("user {id} does not exist")))
}

/// [`user_row`] for an Admin API change: an anonymized user can no longer be changed
/// (Authgear's `UserIsAnonymized`), only deleted.
pub(in crate::service) async fn admin_user_row(conn: &impl ConnectionTrait, id: Uuid) -> Result<user::Model> {
    let row = user_row(conn, id).await?;
    if row.is_anonymized {
        return Err(Error::invalid(
            reason::USER_IS_ANONYMIZED,
            format!("user {id} is anonymized and cannot be changed"),
        ));
    }
    Ok(row)
}

/// A new user's row, created at `t` (microseconds), enabled, without attributes;
/// `is_anonymous` for a user of the anonymous-request grant.
pub(in crate::service) fn new_user_row(t: i64, is_anonymous: bool) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_at: Set(t),
        updated_at: Set(t),
        last_login_at: Set(None),
        standard_attributes: Set(json!({})),
        custom_attributes: Set(json!({})),
        name_key: Set(None),
        is_disabled: Set(false),
        disable_reason: Set(None),
        is_deactivated: Set(false),
        is_anonymous: Set(is_anonymous),
        is_anonymized: Set(false),
        delete_at: Set(None),
        delete_reason: Set(None),
        anonymize_at: Set(None),
        temporarily_disabled_from: Set(None),
        temporarily_disabled_until: Set(None),
        account_valid_from: Set(None),
        account_valid_until: Set(None),
        mfa_grace_period_end_at: Set(None),
        anonymized_at: Set(None),
    }
}

/// The user as an audit payload records it; times are RFC 3339 text.
pub(in crate::service) fn snapshot(u: &user::Model) -> Value {
    let t = |v: Option<i64>| {
        v.and_then(|v| time_of(v).format(&time::format_description::well_known::Rfc3339).ok())
            .map_or(Value::Null, Value::String)
    };
    json!({
        "id": u.id,
        "standard_attributes": u.standard_attributes,
        "custom_attributes": u.custom_attributes,
        "is_disabled": u.is_disabled,
        "disable_reason": u.disable_reason,
        "temporarily_disabled_from": t(u.temporarily_disabled_from),
        "temporarily_disabled_until": t(u.temporarily_disabled_until),
        "account_valid_from": t(u.account_valid_from),
        "account_valid_until": t(u.account_valid_until),
        "mfa_grace_period_end_at": t(u.mfa_grace_period_end_at),
    })
}

/// Recomputes what follows from identities and verified claims: `email`, `phone_number`,
/// `preferred_username`, their `*_verified` flags, and the name search key. Saves the row.
pub(in crate::service) async fn refresh_derived(
    conn: &impl ConnectionTrait,
    mut row: user::Model,
) -> Result<user::Model> {
    let idents = identity::Entity::find()
        .filter(Expr::col(identity::Column::UserId).eq(row.id))
        .order_by_asc(identity::Column::CreatedAt)
        .all(conn)
        .await?;
    let verified =
        verified_claim::Entity::find().filter(Expr::col(verified_claim::Column::UserId).eq(row.id)).all(conn).await?;
    let mut attrs = match row.standard_attributes.clone() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (claim, login_type, flag) in [
        ("email", "email", Some("email_verified")),
        ("phone_number", "phone", Some("phone_number_verified")),
        ("preferred_username", "username", None),
    ] {
        let mut values: Vec<&str> =
            idents.iter().filter(|i| i.login_id_type == login_type).map(|i| i.value.as_str()).collect();
        if claim == "email" {
            // A provider account's email counts once it is verified (a social sign-up).
            let oauth = idents
                .iter()
                .filter(|i| i.kind == "oauth")
                .filter_map(|i| i.details.as_ref()?.get("profile")?.get("email")?.as_str());
            values.extend(oauth.filter(|e| verified.iter().any(|c| c.name == "email" && c.value == *e)));
        }
        let current = attrs.get(claim).and_then(Value::as_str).filter(|v| values.contains(v)).map(str::to_owned);
        match current.or_else(|| values.first().map(|v| (*v).to_owned())) {
            Some(v) => {
                if let Some(flag) = flag {
                    let ok = verified.iter().any(|c| c.name == claim && c.value == v);
                    attrs.insert(flag.to_owned(), Value::Bool(ok));
                }
                attrs.insert(claim.to_owned(), Value::String(v));
            }
            None => {
                attrs.remove(claim);
                if let Some(flag) = flag {
                    attrs.remove(flag);
                }
            }
        }
    }
    let attrs = Value::Object(attrs);
    let name_key = formatted_name(&attrs).map(|n| n.to_lowercase());
    if attrs != row.standard_attributes || name_key != row.name_key {
        let mut am = row.clone().into_active_model();
        am.standard_attributes = Set(attrs.clone());
        am.name_key = Set(name_key.clone());
        am.updated_at = Set(micros(now()));
        row = am.update(conn).await?;
    }
    Ok(row)
}

/// A user's primary password authenticator, if any.
pub(in crate::service) async fn primary_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<authenticator::Model>> {
    Ok(authenticator::Entity::find()
        .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
        .filter(Expr::col(authenticator::Column::Kind).eq("password"))
        .filter(Expr::col(authenticator::Column::Factor).eq("primary"))
        .one(conn)
        .await?)
}

/// Adds a password hash to the user's password history and keeps only the newest `keep`
/// entries (none when `keep` is 0: no history rule is configured).
pub(in crate::service) async fn record_password_history(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: &str,
    t: OffsetDateTime,
    keep: usize,
) -> Result<()> {
    if keep > 0 {
        password_history::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            password_hash: Set(hash.to_owned()),
            created_at: Set(micros(t)),
        }
        .insert(conn)
        .await?;
    }
    let kept: Vec<Uuid> = password_history::Entity::find()
        .select_only()
        .column(password_history::Column::Id)
        .filter(Expr::col(password_history::Column::UserId).eq(user_id))
        .order_by_desc(password_history::Column::CreatedAt)
        .order_by_desc(password_history::Column::Id)
        .limit(u64::try_from(keep).unwrap_or(u64::MAX))
        .into_tuple()
        .all(conn)
        .await?;
    password_history::Entity::delete_many()
        .filter(Expr::col(password_history::Column::UserId).eq(user_id))
        .filter(Expr::col(password_history::Column::Id).is_not_in(kept))
        .exec(conn)
        .await?;
    Ok(())
}

/// The user's stored password hashes, newest first, at most `limit`, set at or after
/// `since` (UTC micros) unless they are among the newest `newest`.
pub(in crate::service) async fn password_history_hashes(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    newest: usize,
    since: Option<i64>,
    limit: usize,
) -> Result<Vec<String>> {
    let rows = password_history::Entity::find()
        .filter(Expr::col(password_history::Column::UserId).eq(user_id))
        .order_by_desc(password_history::Column::CreatedAt)
        .order_by_desc(password_history::Column::Id)
        .limit(u64::try_from(limit).unwrap_or(u64::MAX))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .enumerate()
        .filter(|(i, r)| *i < newest || since.is_some_and(|s| r.created_at >= s))
        .map(|(_, r)| r.password_hash)
        .collect())
}

/// Replaces (or creates) the primary password, expired at once if `expired`, and ends the
/// user's unused reset links (a link sent for the old password opens nothing any more).
/// The hash joins the password history (the newest `keep` are kept).
pub(in crate::service) async fn upsert_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    t: OffsetDateTime,
    expired: bool,
    keep: usize,
) -> Result<()> {
    crate::service::account::password_reset::end_reset_codes(conn, user_id, micros(t)).await?;
    match primary_password(conn, user_id).await? {
        Some(a) => {
            let mut am = a.into_active_model();
            record_password_history(conn, user_id, &hash, t, keep).await?;
            am.password_hash = Set(Some(hash));
            am.expire_after = Set(expired.then_some(micros(t)));
            am.updated_at = Set(micros(t));
            am.update(conn).await?;
            Ok(())
        }
        None => insert_password(conn, user_id, hash, t, expired, keep).await,
    }
}

/// Sets the primary password the user chose (never expired); it joins the history.
pub(in crate::service) async fn set_primary_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    t: OffsetDateTime,
    keep: usize,
) -> Result<()> {
    upsert_password(conn, user_id, hash, t, false, keep).await
}

/// Inserts a primary password authenticator, expired at once if `expired`; the hash
/// joins the password history (the newest `keep` are kept).
pub(in crate::service) async fn insert_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    t: OffsetDateTime,
    expired: bool,
    keep: usize,
) -> Result<()> {
    record_password_history(conn, user_id, &hash, t, keep).await?;
    authenticator::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set("password".into()),
        factor: Set("primary".into()),
        is_default: Set(true),
        password_hash: Set(Some(hash)),
        expire_after: Set(expired.then_some(micros(t))),
        oob_target: Set(None),
        display_name: Set(None),
        totp_secret: Set(None),
        totp_last_step: Set(None),
        passkey_credential_id: Set(None),
        created_at: Set(micros(t)),
        updated_at: Set(micros(t)),
    }
    .insert(conn)
    .await
    .map_err(|e| conflict_on_unique(e, reason::DUPLICATED_AUTHENTICATOR, "the user already has a password"))?;
    Ok(())
}

impl crate::service::Services {
    /// Refuses a new password that equals one in the user's password history: one of the
    /// last `history_size` passwords (the current one included) or one set within
    /// `history_days`, among the newest [`MAX_PASSWORD_HISTORY`]. Each stored hash costs an
    /// Argon2 verification on the bounded hasher, so at most that many run.
    pub(in crate::service) async fn check_password_history(&self, user_id: UserId, password: &str) -> Result<()> {
        let policy = &self.config.password_policy;
        if policy.history_size == 0 && policy.history_days == 0 {
            return Ok(());
        }
        let since =
            (policy.history_days > 0).then(|| micros(now()) - i64::from(policy.history_days) * 86_400 * 1_000_000);
        let mut hashes = password_history_hashes(
            &self.db.reader(),
            user_id.uuid(),
            policy.history_size.min(MAX_PASSWORD_HISTORY),
            since,
            MAX_PASSWORD_HISTORY,
        )
        .await?;
        // A password set before the history was kept still counts as the current one.
        if let Some(current) = primary_password(&self.db.reader(), user_id.uuid()).await?.and_then(|p| p.password_hash)
            && !hashes.contains(&current)
        {
            hashes.insert(0, current);
            hashes.truncate(MAX_PASSWORD_HISTORY);
        }
        for hash in hashes {
            if self.hasher.verify(password.to_owned(), Some(hash)).await? {
                let mut rules = Vec::new();
                if policy.history_size > 0 {
                    rules.push(format!("your last {} passwords", policy.history_size));
                }
                if policy.history_days > 0 {
                    rules.push(format!("a password you used in the last {} days", policy.history_days));
                }
                return Err(Error::invalid(
                    reason::PASSWORD_REUSED,
                    format!("the new password must not be one of {}: choose another", rules.join(" or ")),
                ));
            }
        }
        Ok(())
    }
}

/// A random password that meets `policy`: at least 24 characters drawn from upper- and
/// lower-case letters, digits and symbols, with one of each.
pub(in crate::service) fn generate_password(policy: &crate::config::PasswordPolicy) -> String {
    const SETS: [&[u8]; 4] =
        [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"!#$%&*+-=?@^_~"];
    let len = policy.min_length.clamp(24, policy.max_length.max(24));
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in crate::crypto::random_bytes::<64>() {
            if out.len() == len {
                break;
            }
            let i = out.len();
            let set = SETS[if i < SETS.len() { i } else { usize::from(b) % SETS.len() }];
            out.push(char::from(set[usize::from(b) % set.len()]));
        }
    }
    out
}
