//! Writing a batch of prepared records: new users with multi-row inserts, existing users
//! (with `upsert`) one by one, in the caller's transaction.

use std::collections::{HashMap, HashSet};

use entity::{authenticator, identity, user, user_group, user_role, verified_claim};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::prepare::{Factor, Prepared};
use crate::domain::reason;
use crate::service::admin::identities::{OAUTH, keyed_row};
use crate::service::admin::user_rows::{refresh_derived, user_row};
use crate::service::store::bulk::{Extra, in_text_list, insert_rows_with, text_list_runs};
use crate::service::store::time::{micros, now};
use crate::service::{Result, conflict_on_unique};

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new user.
    Inserted,
    /// An existing user, changed (`upsert`).
    Updated,
    /// An existing user, left alone (no `upsert`).
    Skipped,
    /// Not imported; see the errors.
    Failed,
}

impl Outcome {
    /// Authgear's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inserted => "inserted",
            Self::Updated => "updated",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// The outcome of one record, as the job's details keep it.
#[derive(Debug, Clone)]
pub(super) struct RecordResult {
    pub idx: i64,
    pub outcome: Outcome,
    pub user_id: Option<Uuid>,
    pub record: Option<Value>,
    pub warnings: Vec<String>,
    pub errors: Vec<Value>,
}

impl RecordResult {
    pub(super) fn failed(idx: i64, record: Option<Value>, error: Value) -> Self {
        Self { idx, outcome: Outcome::Failed, user_id: None, record, warnings: Vec::new(), errors: vec![error] }
    }
}

async fn insert_chunks<A>(conn: &impl ConnectionTrait, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    crate::service::store::bulk::insert_rows(conn, rows).await.map_err(taken)
}

/// A unique-key violation as a conflict: a login ID, provider account or user ID that a
/// concurrent writer (or another user) took.
fn taken(e: sea_orm::DbErr) -> crate::service::Error {
    conflict_on_unique(
        e,
        reason::DUPLICATED_IDENTITY,
        "a login ID, provider account or user ID of the record is already taken",
    )
}

fn failed(p: &Prepared, why: &'static str, message: String) -> RecordResult {
    RecordResult::failed(p.idx, Some(p.redacted.clone()), super::prepare::RecordError::new(why, message).to_json())
}

fn authenticator_row(user_id: Uuid, kind: &str, factor: &str, is_default: bool, t: i64) -> authenticator::ActiveModel {
    authenticator::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set(kind.into()),
        factor: Set(factor.into()),
        is_default: Set(is_default),
        password_hash: Set(None),
        expire_after: Set(None),
        oob_target: Set(None),
        display_name: Set(None),
        totp_secret: Set(None),
        totp_last_step: Set(None),
        passkey_credential_id: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
}

fn factor_rows(user_id: Uuid, factors: &[Factor], mut has_default: bool, t: i64) -> Vec<authenticator::ActiveModel> {
    let mut out = Vec::with_capacity(factors.len());
    for f in factors {
        let kind = match f {
            Factor::Email(_) => "oob_otp_email",
            Factor::Sms(_) => "oob_otp_sms",
            Factor::Password(_) => "password",
            Factor::Totp(_) => "totp",
        };
        let mut row = authenticator_row(user_id, kind, "secondary", !has_default, t);
        has_default = true;
        match f {
            Factor::Email(e) | Factor::Sms(e) => row.oob_target = Set(Some(e.clone())),
            Factor::Password(h) => row.password_hash = Set(Some(h.clone())),
            Factor::Totp(s) => {
                row.totp_secret = Set(Some(s.clone()));
                row.display_name = Set(Some("Imported".into()));
            }
        }
        out.push(row);
    }
    out
}

fn identity_row(user_id: Uuid, key: &str, id: &crate::domain::login_id::LoginId, t: i64) -> identity::ActiveModel {
    identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set("login_id".into()),
        login_id_key: Set(key.to_owned()),
        login_id_type: Set(id.kind.as_str().to_owned()),
        value: Set(id.value.clone()),
        original_value: Set(id.original.clone()),
        unique_key: Set(id.unique_key.clone()),
        details: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
}

fn claim_row(user_id: Uuid, name: &str, value: &str, t: i64) -> verified_claim::ActiveModel {
    verified_claim::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        name: Set(name.into()),
        value: Set(value.into()),
        created_at: Set(t),
    }
}

/// Writes `batch` (no two records share a login ID) and returns each record's outcome.
/// A unique-key race with a concurrent writer fails the whole call; the caller then
/// retries the records one by one.
pub(super) async fn write_batch(
    conn: &impl ConnectionTrait,
    batch: &[Prepared],
    identifier_type: &str,
    upsert: bool,
) -> Result<Vec<RecordResult>> {
    let t = micros(now());
    let backend = conn.get_database_backend();
    // Every login ID and provider account the batch names, looked up once: who already
    // exists (by the identifier), and which keys of new users someone else has.
    let mut keys: Vec<&str> = batch
        .iter()
        .flat_map(|p| {
            let logins = p.login_ids.iter().map(|(_, id)| id.unique_key.as_str());
            std::iter::once(p.key.as_str()).chain(logins).chain(p.oauth.iter().map(|a| a.key.as_str()))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut existing: HashMap<String, Uuid> = HashMap::new();
    let mut taken: HashSet<(String, String)> = HashSet::new();
    for run in text_list_runs(backend, &keys).into_iter().filter(|r| !r.is_empty()) {
        let found = identity::Entity::find()
            .select_only()
            .column(identity::Column::LoginIdType)
            .column(identity::Column::UniqueKey)
            .column(identity::Column::UserId)
            .filter(in_text_list(backend, "identities", "unique_key", run))
            .into_tuple::<(String, String, Uuid)>()
            .all(conn)
            .await?;
        for (kind, key, user) in found {
            if kind == identifier_type {
                existing.insert(key.clone(), user);
            }
            taken.insert((kind, key));
        }
    }
    let fresh: Vec<&Prepared> = batch.iter().filter(|p| !existing.contains_key(&p.key)).collect();
    let wanted_ids: Vec<Uuid> = fresh.iter().filter_map(|p| p.user_id).collect();
    let mut used_ids: HashSet<Uuid> = HashSet::new();
    // 500 IDs are 10 KB of bound values: one TLS record (see `text_list_runs`).
    for run in wanted_ids.chunks(500) {
        let found = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(Expr::col(user::Column::Id).is_in(run.iter().copied()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
        used_ids.extend(found);
    }

    let mut results = Vec::with_capacity(batch.len());
    let (mut users, mut idents, mut auths, mut claims, mut roles, mut groups) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Each identity's user's creation time, which PostgreSQL keeps on the identity.
    let mut ident_times: Vec<Value> = Vec::new();
    for p in batch {
        if let Some(&uid) = existing.get(&p.key) {
            if upsert {
                update_user(conn, uid, p, t).await?;
                results.push(RecordResult {
                    idx: p.idx,
                    outcome: Outcome::Updated,
                    user_id: Some(uid),
                    record: None,
                    warnings: p.warnings.clone(),
                    errors: Vec::new(),
                });
            } else {
                results.push(RecordResult {
                    idx: p.idx,
                    outcome: Outcome::Skipped,
                    user_id: Some(uid),
                    record: None,
                    warnings: p.warnings.clone(),
                    errors: Vec::new(),
                });
            }
            continue;
        }
        if let Some((_, id)) =
            p.login_ids.iter().find(|(_, id)| taken.contains(&(id.kind.as_str().to_owned(), id.unique_key.clone())))
        {
            results.push(failed(
                p,
                reason::DUPLICATED_IDENTITY,
                format!("the {} `{}` belongs to another user", id.kind.as_str(), id.value),
            ));
            continue;
        }
        if let Some(a) = p.oauth.iter().find(|a| taken.contains(&(OAUTH.to_owned(), a.key.clone()))) {
            results.push(failed(
                p,
                reason::DUPLICATED_IDENTITY,
                format!("the provider account `{}` is connected to another user", a.key),
            ));
            continue;
        }
        if let Some(uid) = p.user_id.filter(|u| used_ids.contains(u)) {
            results.push(failed(p, reason::INVALID_IMPORT_RECORD, format!("a user with sub {uid} already exists")));
            continue;
        }
        let uid = p.user_id.unwrap_or_else(Uuid::now_v7);
        let (attrs, name_key) = p.new_user_attributes();
        let created = p.created_at.unwrap_or(t);
        users.push(user::ActiveModel {
            id: Set(uid),
            created_at: Set(created),
            updated_at: Set(t),
            last_login_at: Set(p.last_login_at),
            standard_attributes: Set(attrs),
            custom_attributes: Set(Value::Object(p.custom.clone().unwrap_or_default())),
            name_key: Set(name_key),
            is_disabled: Set(p.disabled.unwrap_or(false)),
            disable_reason: Set(None),
            is_deactivated: Set(false),
            is_anonymous: Set(false),
            is_anonymized: Set(false),
            delete_at: Set(None),
            delete_reason: Set(None),
            anonymize_at: Set(None),
            anonymized_at: Set(None),
            temporarily_disabled_from: Set(None),
            temporarily_disabled_until: Set(None),
            account_valid_from: Set(p.valid_from),
            account_valid_until: Set(p.valid_until),
            mfa_grace_period_end_at: Set(None),
        });
        for (key, id) in &p.login_ids {
            idents.push(identity_row(uid, key, id, t));
            let verified = match *key {
                "email" => p.email_verified == Some(true),
                "phone" => p.phone_verified == Some(true),
                _ => false,
            };
            if verified {
                let name = if *key == "email" { "email" } else { "phone_number" };
                claims.push(claim_row(uid, name, &id.value, t));
            }
        }
        for a in &p.oauth {
            idents.push(keyed_row(OAUTH, uid, &a.key, a.details.clone(), t));
        }
        ident_times.resize(idents.len(), Value::from(created));
        if let Some((hash, expire)) = &p.password {
            let mut row = authenticator_row(uid, "password", "primary", true, t);
            row.password_hash = Set(Some(hash.clone()));
            row.expire_after = Set(*expire);
            auths.push(row);
        }
        auths.extend(factor_rows(uid, &p.factors, false, t));
        for r in p.roles.iter().flatten() {
            roles.push(user_role::ActiveModel { user_id: Set(uid), role_id: Set(*r), created_at: Set(t) });
        }
        for g in p.groups.iter().flatten() {
            groups.push(user_group::ActiveModel { user_id: Set(uid), group_id: Set(*g), created_at: Set(t) });
        }
        results.push(RecordResult {
            idx: p.idx,
            outcome: Outcome::Inserted,
            user_id: Some(uid),
            record: None,
            warnings: p.warnings.clone(),
            errors: Vec::new(),
        });
    }
    if backend == DbBackend::Sqlite && !users.is_empty() {
        // On SQLite a new user's row in the search index (and its FTS5 trigram entries) is
        // written by a trigger when the user is inserted, and written again, deleting the
        // old entries, for every login ID inserted after it: three passes of the trigram
        // tokenizer for a user with one email. With the identities in first, the user's
        // row is written once with its final text (the identities' own trigger finds no
        // row to update). Foreign keys are then checked at commit, not per row.
        conn.execute_unprepared("PRAGMA defer_foreign_keys = ON").await?;
        insert_chunks(conn, idents).await?;
        insert_chunks(conn, users).await?;
    } else {
        insert_chunks(conn, users).await?;
        // Given, the time spares PostgreSQL the trigger that looks it up per identity.
        let times = Extra { name: "user_created_at", sql_type: "bigint", values: ident_times };
        insert_rows_with(conn, idents, Some(times)).await.map_err(self::taken)?;
    }
    insert_chunks(conn, auths).await?;
    insert_chunks(conn, claims).await?;
    insert_chunks(conn, roles).await?;
    insert_chunks(conn, groups).await?;
    Ok(results)
}

/// Applies a record to an existing user: only the fields it names.
async fn update_user(conn: &impl ConnectionTrait, uid: Uuid, p: &Prepared, t: i64) -> Result<()> {
    let row = user_row(conn, uid).await?;
    let mut am = row.clone().into_active_model();
    if !p.standard.is_empty() {
        let mut attrs = match row.standard_attributes.clone() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        attrs.extend(p.standard.clone());
        am.standard_attributes = Set(Value::Object(attrs));
    }
    if let Some(custom) = &p.custom {
        let mut attrs = match row.custom_attributes.clone() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        attrs.extend(custom.clone());
        am.custom_attributes = Set(Value::Object(attrs));
    }
    if let Some(d) = p.disabled {
        am.is_disabled = Set(d);
    }
    if p.valid_from.is_some() {
        am.account_valid_from = Set(p.valid_from);
    }
    if p.valid_until.is_some() {
        am.account_valid_until = Set(p.valid_until);
    }
    am.updated_at = Set(t);
    let row = am.update(conn).await?;
    let idents = identity::Entity::find().filter(Expr::col(identity::Column::UserId).eq(uid)).all(conn).await?;
    for (key, id) in &p.login_ids {
        match idents.iter().find(|i| i.kind == "login_id" && i.login_id_type == id.kind.as_str()) {
            Some(cur) if cur.unique_key == id.unique_key => {}
            Some(cur) => {
                let mut am = cur.clone().into_active_model();
                am.value = Set(id.value.clone());
                am.original_value = Set(id.original.clone());
                am.unique_key = Set(id.unique_key.clone());
                am.updated_at = Set(t);
                am.update(conn).await.map_err(taken)?;
            }
            None => {
                identity_row(uid, key, id, t).insert(conn).await.map_err(taken)?;
            }
        }
        let (name, flag) = match *key {
            "email" => ("email", p.email_verified),
            "phone" => ("phone_number", p.phone_verified),
            _ => continue,
        };
        if let Some(flag) = flag {
            verified_claim::Entity::delete_many()
                .filter(Expr::col(verified_claim::Column::UserId).eq(uid))
                .filter(Expr::col(verified_claim::Column::Name).eq(name))
                .exec(conn)
                .await?;
            if flag {
                claim_row(uid, name, &id.value, t).insert(conn).await?;
            }
        }
    }
    for a in &p.oauth {
        if !idents.iter().any(|i| i.kind == OAUTH && i.unique_key == a.key) {
            keyed_row(OAUTH, uid, &a.key, a.details.clone(), t).insert(conn).await.map_err(taken)?;
        }
    }
    if let Some(roles) = &p.roles {
        user_role::Entity::delete_many().filter(Expr::col(user_role::Column::UserId).eq(uid)).exec(conn).await?;
        let rows = roles
            .iter()
            .map(|r| user_role::ActiveModel { user_id: Set(uid), role_id: Set(*r), created_at: Set(t) })
            .collect();
        insert_chunks(conn, rows).await?;
    }
    if let Some(groups) = &p.groups {
        user_group::Entity::delete_many().filter(Expr::col(user_group::Column::UserId).eq(uid)).exec(conn).await?;
        let rows = groups
            .iter()
            .map(|g| user_group::ActiveModel { user_id: Set(uid), group_id: Set(*g), created_at: Set(t) })
            .collect();
        insert_chunks(conn, rows).await?;
    }
    let auths =
        authenticator::Entity::find().filter(Expr::col(authenticator::Column::UserId).eq(uid)).all(conn).await?;
    if let Some((hash, expire)) = &p.password {
        match auths.iter().find(|a| a.kind == "password" && a.factor == "primary") {
            Some(a) => {
                let mut am = a.clone().into_active_model();
                am.password_hash = Set(Some(hash.clone()));
                am.expire_after = Set(*expire);
                am.updated_at = Set(t);
                am.update(conn).await?;
            }
            None => {
                let mut row = authenticator_row(uid, "password", "primary", true, t);
                row.password_hash = Set(Some(hash.clone()));
                row.expire_after = Set(*expire);
                row.insert(conn).await?;
            }
        }
    }
    let has_default = auths.iter().any(|a| a.factor == "secondary" && a.is_default);
    let new: Vec<Factor> = p
        .factors
        .iter()
        .filter(|f| match f {
            Factor::Email(e) => !auths.iter().any(|a| a.kind == "oob_otp_email" && a.oob_target.as_deref() == Some(e)),
            Factor::Sms(s) => !auths.iter().any(|a| a.kind == "oob_otp_sms" && a.oob_target.as_deref() == Some(s)),
            Factor::Password(_) => !auths.iter().any(|a| a.kind == "password" && a.factor == "secondary"),
            Factor::Totp(_) => true,
        })
        .cloned()
        .collect();
    insert_chunks(conn, factor_rows(uid, &new, has_default, t)).await?;
    refresh_derived(conn, row).await?;
    Ok(())
}
