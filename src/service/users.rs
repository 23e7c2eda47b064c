//! Users: creation, profile, account status and passwords.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::types::{User, micros, now, time_of};
use super::{Audit, Error, Result, Services, audit, conflict_on_unique};
use crate::domain::attributes::{formatted_name, validate_custom, validate_standard};
use crate::domain::login_id::LoginId;
use crate::domain::password::check_policy;
use entity::{authenticator, identity, user, verified_claim};

/// Input of `createUser`.
#[derive(Clone)]
pub struct NewUser {
    /// Login ID key (`email`, `phone`, `username`).
    pub login_id_key: String,
    /// Login ID value.
    pub login_id_value: String,
    /// Initial password; `None` creates a user without one, `""` generates a random one.
    pub password: Option<String>,
    /// The password must be changed at the first login.
    pub set_password_expired: bool,
    /// Start of the account valid period.
    pub account_valid_from: Option<OffsetDateTime>,
    /// End of the account valid period.
    pub account_valid_until: Option<OffsetDateTime>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("login_id_key", &self.login_id_key)
            .field("login_id_value", &self.login_id_value)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Changes to the account-valid period; `None` leaves a bound as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ValidPeriod {
    /// New lower bound.
    pub from: Option<Option<OffsetDateTime>>,
    /// New upper bound.
    pub until: Option<Option<OffsetDateTime>>,
}

/// Reads a user row inside `conn` or fails with `UserNotFound`. On PostgreSQL the row is
/// locked (`FOR UPDATE`) until the transaction ends, so that checks such as "not the last
/// identity" hold against concurrent writers; SQLite write transactions are serial anyway.
pub(crate) async fn user_row(conn: &impl ConnectionTrait, id: Uuid) -> Result<user::Model> {
    let mut q = user::Entity::find_by_id(id);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(conn).await?.ok_or_else(|| Error::not_found("UserNotFound", format!("user {id} does not exist")))
}

/// The user as an audit payload records it; times are RFC 3339 text.
fn snapshot(u: &user::Model) -> Value {
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
    })
}

/// Recomputes what follows from identities and verified claims: `email`, `phone_number`,
/// `preferred_username`, their `*_verified` flags, and the name search key. Saves the row.
pub(crate) async fn refresh_derived(conn: &impl ConnectionTrait, mut row: user::Model) -> Result<user::Model> {
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
        let values: Vec<&str> =
            idents.iter().filter(|i| i.login_id_type == login_type).map(|i| i.value.as_str()).collect();
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

impl Services {
    /// Checks a password against the policy, or generates one that satisfies it when
    /// `password` is empty.
    fn password_or_generated(&self, password: String) -> Result<String> {
        let password = if password.is_empty() { generate_password(&self.config.password_policy) } else { password };
        check_policy(&self.config.password_policy, &password)?;
        Ok(password)
    }

    /// Creates a user with one login ID and, optionally, a password.
    pub async fn create_user(&self, audit: &Audit, input: NewUser) -> Result<User> {
        let login_id = LoginId::parse(&self.config.login_id, &input.login_id_key, &input.login_id_value)?;
        if let (Some(f), Some(u)) = (input.account_valid_from, input.account_valid_until)
            && f >= u
        {
            return Err(Error::invalid(
                "InvalidAccountValidPeriod",
                "accountValidFrom must be before accountValidUntil",
            ));
        }
        let password_hash = match input.password {
            None => None,
            Some(p) => Some(self.hasher.hash(self.password_or_generated(p)?).await?),
        };
        let t = now();
        let txn = self.db.begin_write().await?;
        let row = user::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(micros(t)),
            updated_at: Set(micros(t)),
            last_login_at: Set(None),
            standard_attributes: Set(json!({})),
            custom_attributes: Set(json!({})),
            name_key: Set(None),
            is_disabled: Set(false),
            disable_reason: Set(None),
            is_deactivated: Set(false),
            is_anonymous: Set(false),
            is_anonymized: Set(false),
            delete_at: Set(None),
            anonymize_at: Set(None),
            temporarily_disabled_from: Set(None),
            temporarily_disabled_until: Set(None),
            account_valid_from: Set(input.account_valid_from.map(micros)),
            account_valid_until: Set(input.account_valid_until.map(micros)),
        }
        .insert(&txn)
        .await?;
        super::identities::insert_login_id(&txn, &input.login_id_key, row.id, &login_id, t).await?;
        if let Some(hash) = password_hash {
            insert_password(&txn, row.id, hash, t, input.set_password_expired).await?;
        }
        let row = refresh_derived(&txn, row).await?;
        audit::record(&txn, audit, Some(row.id), json!({"user": snapshot(&row)})).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Replaces standard and/or custom attributes (each object as a whole).
    pub async fn update_user(
        &self,
        audit: &Audit,
        user_id: Uuid,
        standard: Option<Value>,
        custom: Option<Value>,
    ) -> Result<User> {
        let standard = standard.map(|s| validate_standard(&s)).transpose()?;
        let custom = custom.map(|c| validate_custom(&self.config.custom_attributes, &c)).transpose()?;
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        let mut am = row.clone().into_active_model();
        if let Some(mut std) = standard {
            let idents =
                identity::Entity::find().filter(Expr::col(identity::Column::UserId).eq(user_id)).all(&txn).await?;
            for (claim, login_type) in
                [("email", "email"), ("phone_number", "phone"), ("preferred_username", "username")]
            {
                if let Some(v) = std.get(claim).and_then(Value::as_str) {
                    let owned = idents
                        .iter()
                        .any(|i| i.login_id_type == login_type && (i.value == v || i.unique_key == v.to_lowercase()));
                    if !owned {
                        return Err(Error::invalid(
                            "InvalidStandardAttributes",
                            format!("standardAttributes.{claim} must be one of the user's {login_type} login IDs"),
                        ));
                    }
                }
            }
            // Keep derived flags; refresh_derived recomputes them.
            for flag in ["email_verified", "phone_number_verified"] {
                if let Some(v) = row.standard_attributes.get(flag) {
                    std.insert(flag.to_owned(), v.clone());
                }
            }
            am.standard_attributes = Set(Value::Object(std));
        }
        if let Some(custom) = custom {
            am.custom_attributes = Set(Value::Object(custom));
        }
        am.updated_at = Set(micros(now()));
        let row = am.update(&txn).await?;
        let row = refresh_derived(&txn, row).await?;
        audit::record(&txn, audit, Some(user_id), json!({"user": snapshot(&row)})).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Deletes a user and everything that belongs to them; the audit log keeps the record.
    pub async fn delete_user(&self, audit: &Audit, user_id: Uuid, reason: Option<String>) -> Result<Uuid> {
        crate::domain::text::check_text("reason", reason.as_deref().unwrap_or(""))?;
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        user::Entity::delete_by_id(user_id).exec(&txn).await?;
        audit::record(&txn, audit, Some(user_id), json!({"user": snapshot(&row), "reason": reason})).await?;
        txn.commit().await?;
        Ok(user_id)
    }

    /// Disables (indefinitely or for a window) or re-enables a user.
    pub async fn set_disabled_status(
        &self,
        audit: &Audit,
        user_id: Uuid,
        disabled: bool,
        reason: Option<String>,
        window: (Option<OffsetDateTime>, Option<OffsetDateTime>),
    ) -> Result<User> {
        crate::domain::text::check_text("reason", reason.as_deref().unwrap_or(""))?;
        let window = match window {
            (None, None) => None,
            (Some(from), Some(until)) if from < until && disabled => Some((from, until)),
            (Some(_), Some(_)) if !disabled => {
                return Err(Error::invalid(
                    "InvalidDisabledStatus",
                    "temporarilyDisabledFrom/Until only apply when isDisabled is true",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "InvalidDisabledStatus",
                    "temporarilyDisabledFrom must be before temporarilyDisabledUntil",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    "InvalidDisabledStatus",
                    "give both temporarilyDisabledFrom and temporarilyDisabledUntil, or neither",
                ));
            }
        };
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        if let Some((from, until)) = window {
            let outside = row.account_valid_from.is_some_and(|v| micros(from) < v)
                || row.account_valid_until.is_some_and(|v| micros(until) > v);
            if outside {
                return Err(Error::invalid(
                    "InvalidDisabledStatus",
                    "the temporary disable window must lie inside the account valid period",
                ));
            }
        }
        let mut am = row.into_active_model();
        am.is_disabled = Set(disabled && window.is_none());
        am.disable_reason = Set(if disabled { reason.filter(|r| !r.is_empty()) } else { None });
        am.temporarily_disabled_from = Set(window.map(|w| micros(w.0)));
        am.temporarily_disabled_until = Set(window.map(|w| micros(w.1)));
        am.updated_at = Set(micros(now()));
        let row = am.update(&txn).await?;
        let user = User::from(row.clone());
        let t = now();
        let mut ended = 0;
        if user.is_disabled_at(t) {
            // A disabled user is logged out everywhere at once: no session lingers in the
            // Admin API's list, and no refresh grant waits for its next use to fail.
            ended = super::session_end::end_sessions(&txn, super::session_end::of_user(user_id), micros(t)).await?;
        }
        if disabled {
            // A reset link sent before disabling stays dead after re-enabling too.
            super::password_reset::end_reset_codes(&txn, user_id, micros(t)).await?;
        }
        audit::record(&txn, audit, Some(user_id), json!({"user": snapshot(&row), "sessions_ended": ended})).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// Sets or clears the bounds of the account valid period.
    pub async fn set_account_valid_period(&self, audit: &Audit, user_id: Uuid, p: ValidPeriod) -> Result<User> {
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        let from = p.from.unwrap_or(row.account_valid_from.map(time_of));
        let until = p.until.unwrap_or(row.account_valid_until.map(time_of));
        if let (Some(f), Some(u)) = (from, until)
            && f >= u
        {
            return Err(Error::invalid(
                "InvalidAccountValidPeriod",
                "accountValidFrom must be before accountValidUntil",
            ));
        }
        let window_outside = row.temporarily_disabled_from.is_some_and(|w| from.is_some_and(|f| micros(f) > w))
            || row.temporarily_disabled_until.is_some_and(|w| until.is_some_and(|u| micros(u) < w));
        if window_outside {
            return Err(Error::invalid(
                "InvalidAccountValidPeriod",
                "the account valid period must contain the user's temporary disable window",
            ));
        }
        let mut am = row.into_active_model();
        am.account_valid_from = Set(from.map(micros));
        am.account_valid_until = Set(until.map(micros));
        am.updated_at = Set(micros(now()));
        let row = am.update(&txn).await?;
        audit::record(&txn, audit, Some(user_id), json!({"user": snapshot(&row)})).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Sets a new primary password (creating the authenticator if the user has none); an
    /// empty password generates a random one.
    pub async fn reset_password(&self, audit: &Audit, user_id: Uuid, password: String, expired: bool) -> Result<User> {
        let password = self.password_or_generated(password)?;
        // Fail fast on an unknown user before spending a hash.
        user::Entity::find_by_id(user_id)
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| Error::not_found("UserNotFound", format!("user {user_id} does not exist")))?;
        let hash = self.hasher.hash(password).await?;
        let t = now();
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        upsert_password(&txn, user_id, hash, t, expired).await?;
        audit::record(&txn, audit, Some(user_id), json!({"user": snapshot(&row)})).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Marks the primary password as expired (the user must change it at next login), or not.
    pub async fn set_password_expired(&self, audit: &Audit, user_id: Uuid, expired: bool) -> Result<User> {
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        let auth = primary_password(&txn, user_id).await?.ok_or_else(|| {
            Error::not_found("PasswordAuthenticatorNotFound", format!("user {user_id} has no password"))
        })?;
        let t = now();
        let mut am = auth.into_active_model();
        am.expire_after = Set(expired.then_some(micros(t)));
        am.updated_at = Set(micros(t));
        am.update(&txn).await?;
        audit::record(&txn, audit, Some(user_id), json!({"user": snapshot(&row), "expired": expired})).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Marks a claim (`email` or `phone_number`) value verified or unverified.
    pub async fn set_verified_status(
        &self,
        audit: &Audit,
        user_id: Uuid,
        claim: &str,
        value: &str,
        verified: bool,
    ) -> Result<User> {
        let value = match claim {
            "email" => crate::domain::login_id::normalize_email(value.trim())?,
            "phone_number" => crate::domain::login_id::normalize_phone(value.trim())?,
            other => {
                return Err(Error::invalid(
                    "InvalidClaimName",
                    format!("claim `{other}` cannot be verified: use email or phone_number"),
                ));
            }
        };
        let txn = self.db.begin_write().await?;
        let row = user_row(&txn, user_id).await?;
        let existing = verified_claim::Entity::find()
            .filter(Expr::col(verified_claim::Column::UserId).eq(user_id))
            .filter(Expr::col(verified_claim::Column::Name).eq(claim))
            .filter(Expr::col(verified_claim::Column::Value).eq(value.clone()))
            .one(&txn)
            .await?;
        match (existing, verified) {
            (None, true) => {
                verified_claim::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(user_id),
                    name: Set(claim.to_owned()),
                    value: Set(value.clone()),
                    created_at: Set(micros(now())),
                }
                .insert(&txn)
                .await?;
            }
            (Some(c), false) => {
                verified_claim::Entity::delete_by_id(c.id).exec(&txn).await?;
            }
            _ => {}
        }
        let row = refresh_derived(&txn, row).await?;
        audit::record(
            &txn,
            audit,
            Some(user_id),
            json!({"user": snapshot(&row), "claim_name": claim, "claim_value": value, "is_verified": verified}),
        )
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Loads one user.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>> {
        Ok(user::Entity::find_by_id(id).one(&self.db.conn).await?.map(User::from))
    }
}

/// A user's primary password authenticator, if any.
pub(crate) async fn primary_password(
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

/// Replaces (or creates) the primary password, expired at once if `expired`, and ends the
/// user's unused reset links (a link sent for the old password opens nothing any more).
async fn upsert_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    t: OffsetDateTime,
    expired: bool,
) -> Result<()> {
    super::password_reset::end_reset_codes(conn, user_id, micros(t)).await?;
    match primary_password(conn, user_id).await? {
        Some(a) => {
            let mut am = a.into_active_model();
            am.password_hash = Set(Some(hash));
            am.expire_after = Set(expired.then_some(micros(t)));
            am.updated_at = Set(micros(t));
            am.update(conn).await?;
            Ok(())
        }
        None => insert_password(conn, user_id, hash, t, expired).await,
    }
}

/// Sets the primary password the user chose (never expired).
pub(crate) async fn set_primary_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    t: OffsetDateTime,
) -> Result<()> {
    upsert_password(conn, user_id, hash, t, false).await
}

/// Inserts a primary password authenticator, expired at once if `expired`.
pub(crate) async fn insert_password(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    t: OffsetDateTime,
    expired: bool,
) -> Result<()> {
    authenticator::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set("password".into()),
        factor: Set("primary".into()),
        is_default: Set(true),
        password_hash: Set(Some(hash)),
        expire_after: Set(expired.then_some(micros(t))),
        created_at: Set(micros(t)),
        updated_at: Set(micros(t)),
    }
    .insert(conn)
    .await
    .map_err(|e| conflict_on_unique(e, "DuplicatedAuthenticator", "the user already has a password"))?;
    Ok(())
}

impl Services {
    /// Records a successful login time (the login flow calls this; tests use it to seed).
    pub async fn set_last_login_at(&self, user_id: Uuid, at: OffsetDateTime) -> Result<()> {
        let res = user::Entity::update_many()
            .col_expr(user::Column::LastLoginAt, Expr::value(micros(at)))
            .filter(Expr::col(user::Column::Id).eq(user_id))
            .exec(&self.db.conn)
            .await?;
        if res.rows_affected == 0 {
            return Err(Error::not_found("UserNotFound", format!("user {user_id} does not exist")));
        }
        Ok(())
    }
}

/// A random password that meets `policy`: at least 24 characters drawn from upper- and
/// lower-case letters, digits and symbols, with one of each.
fn generate_password(policy: &crate::config::PasswordPolicy) -> String {
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
