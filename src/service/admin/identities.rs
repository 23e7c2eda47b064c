//! Identities of a user: login IDs, and the device keys of anonymous users.

use crate::domain::ids::{IdentityId, TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::domain::password::check_policy;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::Identities;
use crate::service::admin::user_rows::admin_user_row;
use crate::service::admin::user_rows::{insert_password, primary_password, refresh_derived, snapshot, user_row};
use crate::service::admin::users::User;
use crate::service::events::user_model::{identity_model, login_id_event as login_id_event_type};
use crate::service::store::time::time_of;
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::Tx;
use crate::service::{Audit, Error, Result, conflict_on_unique};
use entity::identity;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

fn duplicate(login_id: &LoginId) -> Error {
    Error::conflict(
        reason::DUPLICATED_IDENTITY,
        format!("the {} {} is already used by a user", login_id.kind.as_str(), quoted(&login_id.original)),
    )
}

/// Inserts a login ID identity; a duplicate is `Conflict`/`DuplicatedIdentity`.
pub(in crate::service) async fn insert_login_id(
    conn: &impl ConnectionTrait,
    key: &str,
    user_id: UserId,
    login_id: &LoginId,
    t: OffsetDateTime,
) -> Result<identity::Model> {
    identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id.uuid()),
        kind: Set("login_id".into()),
        login_id_key: Set(key.to_owned()),
        login_id_type: Set(login_id.kind.as_str().to_owned()),
        value: Set(login_id.value.clone()),
        original_value: Set(login_id.original.clone()),
        unique_key: Set(login_id.unique_key.clone()),
        details: Set(None),
        created_at: Set(micros(t)),
        updated_at: Set(micros(t)),
    }
    .insert(conn)
    .await
    .map_err(|e| conflict_on_unique(e, reason::DUPLICATED_IDENTITY, duplicate(login_id).describe()))
}

/// The kind of an anonymous user's identity: a device key.
pub(in crate::service) const ANONYMOUS: &str = "anonymous";
/// The kind of a biometric identity: a device key set up for biometric sign-in.
pub(in crate::service) const BIOMETRIC: &str = "biometric";
/// The kind of a passkey identity: a WebAuthn discoverable credential.
pub(in crate::service) const PASSKEY: &str = "passkey";
/// The kind of a social or enterprise login identity: an account at an OAuth provider.
pub(in crate::service) const OAUTH: &str = "oauth";

/// Inserts an identity that is not a login ID (`anonymous`, `biometric`, `passkey`,
/// `oauth`): `kind` in `kind` and `login_id_type`, its look-up key in `value` and
/// `unique_key` (unique per kind: a device key ID, a credential ID, `alias:subject`), and
/// what the kind needs in `details` (see [`Identity::claims`] for each kind's shape).
pub(in crate::service) async fn insert_keyed(
    conn: &impl ConnectionTrait,
    kind: &str,
    user_id: Uuid,
    unique_key: &str,
    details: Value,
    t: i64,
) -> std::result::Result<identity::Model, sea_orm::DbErr> {
    keyed_row(kind, user_id, unique_key, details, t).insert(conn).await
}

/// The row of an identity of `kind` (not a login ID) with look-up key `unique_key`.
pub(in crate::service) fn keyed_row(
    kind: &str,
    user_id: Uuid,
    unique_key: &str,
    details: Value,
    t: i64,
) -> identity::ActiveModel {
    identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set(kind.into()),
        login_id_key: Set(String::new()),
        login_id_type: Set(kind.into()),
        value: Set(unique_key.to_owned()),
        original_value: Set(unique_key.to_owned()),
        unique_key: Set(unique_key.to_owned()),
        details: Set(Some(details)),
        created_at: Set(t),
        updated_at: Set(t),
    }
}

/// The identity of `kind` (not a login ID) with look-up key `unique_key`, if any.
pub(in crate::service) async fn keyed_identity(
    conn: &impl ConnectionTrait,
    kind: &str,
    unique_key: &str,
) -> Result<Option<identity::Model>> {
    Ok(identity::Entity::find()
        .filter(Expr::col(identity::Column::LoginIdType).eq(kind))
        .filter(Expr::col(identity::Column::UniqueKey).eq(unique_key))
        .filter(Expr::col(identity::Column::Kind).eq(kind))
        .one(conn)
        .await?)
}

/// Inserts the `anonymous` identity of a device key: its key ID in `unique_key` (unique
/// among anonymous identities), `{key_id, jwk}` in `details`.
pub(in crate::service) async fn insert_anonymous(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    key_id: &str,
    jwk: &Value,
    t: i64,
) -> std::result::Result<identity::Model, sea_orm::DbErr> {
    insert_keyed(conn, ANONYMOUS, user_id, key_id, json!({"key_id": key_id, "jwk": jwk}), t).await
}

/// Inserts the `anonymous` identity of a web anonymous user, who has no device key: its
/// look-up key is random and unguessable (no device JWT can name it), `key_id` is null.
pub(in crate::service) async fn insert_keyless_anonymous(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    t: i64,
) -> std::result::Result<identity::Model, sea_orm::DbErr> {
    let key = format!("web:{}", crate::crypto::b64(crate::crypto::random_bytes::<32>()));
    insert_keyed(conn, ANONYMOUS, user_id, &key, json!({"key_id": null}), t).await
}

/// The anonymous identity of a device key, if any.
pub(in crate::service) async fn anonymous_by_key_id(
    conn: &impl ConnectionTrait,
    key_id: &str,
) -> Result<Option<identity::Model>> {
    keyed_identity(conn, ANONYMOUS, key_id).await
}

async fn identity_row(conn: &impl ConnectionTrait, id: Uuid) -> Result<identity::Model> {
    identity::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(reason::IDENTITY_NOT_FOUND, format!("identity {id} does not exist")))
}

/// Refreshes the user's derived columns and records the identity's change: the end of
/// `createIdentity` and `updateIdentity`.
async fn identity_changed(
    tx: &Tx,
    audit: &Audit,
    user: entity::user::Model,
    ident: entity::identity::Model,
) -> Result<(Identity, User)> {
    let row = refresh_derived(tx.conn(), user).await?;
    let ident = Identity::from(ident);
    tx.record(audit, Some(row.id), json!({"identity": ident.claims(), "identity_id": ident.id})).await?;
    Ok((ident, row.into()))
}

impl Identities<'_> {
    /// Adds a login ID to a user; with `password`, also a primary password if they have none.
    pub async fn create(
        &self,
        audit: &Audit,
        user_id: UserId,
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
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let ident = insert_login_id(txn, key, user_id, &login_id, t).await?;
            if let Some(hash) = hash {
                // A secondary password does not count: the password given here is a first factor.
                if primary_password(txn, user_id.uuid()).await?.is_none() {
                    insert_password(txn, user_id.uuid(), hash, t, false, self.config.password_policy.history_kept())
                        .await?;
                }
            }
            let out = identity_changed(tx, audit, row, ident).await?;
            let payload = |u: Value| json!({"user": u, "identity": identity_model(&out.0)});
            login_id_event(tx, audit, &out.0, "added", payload).await?;
            Ok(out)
        })
        .await
    }

    /// Changes the value of a login ID (its key stays).
    pub async fn update(
        &self,
        audit: &Audit,
        user_id: UserId,
        identity_id: IdentityId,
        key: &str,
        value: &str,
    ) -> Result<(Identity, User)> {
        let login_id = LoginId::parse(&self.config.login_id, key, value)?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = admin_user_row(txn, user_id.uuid()).await?;
            let ident = identity_row(txn, identity_id.uuid()).await?;
            if ident.user_id != user_id.uuid() {
                return Err(Error::not_found(
                    reason::IDENTITY_NOT_FOUND,
                    format!("identity {identity_id} does not belong to user {user_id}"),
                ));
            }
            if ident.login_id_key != key {
                return Err(Error::invalid(
                    reason::IDENTITY_TYPE_MISMATCH,
                    format!("identity {identity_id} is a {} login ID; it cannot become {key}", ident.login_id_key),
                ));
            }
            let old_ident = Identity::from(ident.clone());
            let mut am = ident.into_active_model();
            am.value = Set(login_id.value.clone());
            am.original_value = Set(login_id.original.clone());
            am.unique_key = Set(login_id.unique_key.clone());
            am.updated_at = Set(micros(now()));
            let ident = am
                .update(txn)
                .await
                .map_err(|e| conflict_on_unique(e, reason::DUPLICATED_IDENTITY, duplicate(&login_id).describe()))?;
            let out = identity_changed(tx, audit, row, ident).await?;
            let payload = |u: Value| {
                json!({"user": u, "old_identity": identity_model(&old_ident), "new_identity": identity_model(&out.0)})
            };
            login_id_event(tx, audit, &out.0, "updated", payload).await?;
            Ok(out)
        })
        .await
    }

    /// Removes an identity; a user's last identity cannot be removed.
    pub async fn delete(&self, audit: &Audit, identity_id: IdentityId) -> Result<User> {
        self.write(async |tx| {
            let txn = tx.conn();
            let ident = identity_row(txn, identity_id.uuid()).await?;
            let row = admin_user_row(txn, ident.user_id).await?;
            let count = identity::Entity::find()
                .filter(Expr::col(identity::Column::UserId).eq(ident.user_id))
                .count(txn)
                .await?;
            if count <= 1 {
                return Err(Error::invalid(
                    reason::REMOVE_LAST_IDENTITY,
                    "this is the user's last identity; add another one before removing it",
                ));
            }
            identity::Entity::delete_by_id(identity_id).exec(txn).await?;
            // A passkey is one identity and one authenticator: both go.
            let paired = if ident.kind == PASSKEY {
                crate::service::account::passkeys::delete_paired_authenticator(txn, ident.user_id, &ident.unique_key)
                    .await?
                    .map(|a| crate::service::admin::authenticators::Authenticator::from(a).audit_view())
            } else {
                None
            };
            let row = refresh_derived(txn, row).await?;
            let ident = Identity::from(ident);
            let mut payload = json!({"identity": ident.claims(), "identity_id": ident.id});
            if let Some(a) = paired {
                payload["authenticator"] = a;
            }
            tx.record(audit, Some(row.id), payload.clone()).await?;
            // The event of the identity's own kind, as Authgear sends it next to the
            // mutation's (unless the change is that event: a disconnection in settings).
            if let Some(event) = removed_event(&ident.kind).filter(|e| *e != audit.activity) {
                tx.record(&Audit { actor: audit.actor.clone(), activity: event.into() }, Some(row.id), payload).await?;
            }
            let payload = |u: Value| json!({"user": u, "identity": identity_model(&ident)});
            login_id_event(tx, audit, &ident, "removed", payload).await?;
            Ok(row.into())
        })
        .await
    }
}

/// Records `identity.<email|phone|username>.<verb>` for a login ID (Authgear's identity
/// event, beside the Admin API mutation's own row) with `payload(user)`; nothing for other
/// kinds of identity.
async fn login_id_event(
    tx: &Tx,
    audit: &Audit,
    ident: &Identity,
    verb: &str,
    payload: impl FnOnce(Value) -> Value,
) -> Result<()> {
    let Some(event) = login_id_event_type(&ident.login_id_type, verb) else { return Ok(()) };
    let user = user_row(tx.conn(), ident.user_id.uuid()).await?;
    tx.event(audit, &event, Some(user.id), payload(snapshot(&user))).await
}

/// The event of removing an identity of `kind`, besides the Admin API mutation's own.
fn removed_event(kind: &str) -> Option<&'static str> {
    match kind {
        BIOMETRIC => Some("identity.biometric.disabled"),
        OAUTH => Some("identity.oauth.disconnected"),
        PASSKEY => Some("identity.passkey.removed"),
        _ => None,
    }
}

/// An identity: a login ID, a device key (anonymous or biometric), a passkey, or an
/// account at a social or enterprise login provider.
#[derive(Debug, Clone)]
pub struct Identity {
    /// ID.
    pub id: IdentityId,
    /// Owner.
    pub user_id: UserId,
    /// `login_id` or `anonymous`.
    pub kind: String,
    /// Login ID key (empty for other kinds).
    pub login_id_key: String,
    /// Login ID type.
    pub login_id_type: String,
    /// Normalised value.
    pub value: String,
    /// As typed.
    pub original_value: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// What a kind other than a login ID keeps (see [`Identity::claims`]).
    pub details: Option<Value>,
}

impl Identity {
    /// Claims as Authgear names them, per kind:
    /// - `login_id`: OIDC names (`email`, `phone_number`, `preferred_username`) and
    ///   `…/login_id/{key,type,value,original_value}`;
    /// - `anonymous` (details `{key_id, jwk}`, or `{key_id: null}` without a key):
    ///   `…/anonymous/key_id`;
    /// - `biometric` (details `{key_id, jwk, device_info}`):
    ///   `…/biometric/{key_id,device_info,formatted_device_info}`;
    /// - `passkey` (details `{credential_id, display_name, …}`):
    ///   `…/passkey/{credential_id,display_name}`;
    /// - `oauth` (details `{provider_type, provider_alias, subject_id, profile}`):
    ///   `…/oauth/{provider_type,provider_alias,subject_id,profile}`, plus `email` when the
    ///   profile has one.
    pub fn claims(&self) -> Value {
        const NS: &str = "https://authgear.com/claims";
        let empty = Value::Null;
        let d = self.details.as_ref().unwrap_or(&empty);
        let get = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
        match self.kind.as_str() {
            ANONYMOUS => {
                // A web anonymous user (`/api/anonymous_user/signup`) has no key: null.
                let key_id = if d.get("key_id").is_some_and(Value::is_null) { Value::Null } else { json!(self.value) };
                return json!({format!("{NS}/anonymous/key_id"): key_id});
            }
            BIOMETRIC => {
                let info = get("device_info");
                return json!({
                    format!("{NS}/biometric/key_id"): self.value,
                    format!("{NS}/biometric/device_info"): info,
                    format!("{NS}/biometric/formatted_device_info"): crate::domain::device_info::formatted_device_info(&info),
                });
            }
            PASSKEY => {
                return json!({
                    format!("{NS}/passkey/credential_id"): self.value,
                    format!("{NS}/passkey/display_name"): get("display_name"),
                });
            }
            OAUTH => {
                let profile = get("profile");
                let mut c = json!({
                    format!("{NS}/oauth/provider_type"): get("provider_type"),
                    format!("{NS}/oauth/provider_alias"): get("provider_alias"),
                    format!("{NS}/oauth/subject_id"): get("subject_id"),
                    format!("{NS}/oauth/profile"): profile.clone(),
                });
                if let Some(email) = profile.get("email").filter(|e| e.is_string()) {
                    c["email"] = email.clone();
                }
                return c;
            }
            _ => {}
        }
        let mut c = json!({
            "https://authgear.com/claims/login_id/key": self.login_id_key,
            "https://authgear.com/claims/login_id/type": self.login_id_type,
            "https://authgear.com/claims/login_id/value": self.value,
            "https://authgear.com/claims/login_id/original_value": self.original_value,
        });
        let oidc = match self.login_id_type.as_str() {
            "email" => "email",
            "phone" => "phone_number",
            _ => "preferred_username",
        };
        c[oidc] = Value::String(self.value.clone());
        c
    }
}

impl From<entity::identity::Model> for Identity {
    fn from(m: entity::identity::Model) -> Self {
        Self {
            id: m.id.into(),
            user_id: m.user_id.into(),
            kind: m.kind,
            login_id_key: m.login_id_key,
            login_id_type: m.login_id_type,
            value: m.value,
            original_value: m.original_value,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
            details: m.details,
        }
    }
}

/// A verified claim.
#[derive(Debug, Clone)]
pub struct VerifiedClaim {
    /// `email` or `phone_number`.
    pub name: String,
    /// The verified value.
    pub value: String,
}
