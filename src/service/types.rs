//! What the service layer returns: plain values, never sea-orm models.

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    /// ID.
    pub id: Uuid,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// Last successful login.
    pub last_login_at: Option<OffsetDateTime>,
    /// OIDC standard attributes, including derived `*_verified` flags.
    pub standard_attributes: Value,
    /// Declared custom attributes.
    pub custom_attributes: Value,
    /// Disabled indefinitely by an admin.
    pub disabled_indefinitely: bool,
    /// Reason shown to the user.
    pub disable_reason: Option<String>,
    /// Deactivated by the end user.
    pub is_deactivated: bool,
    /// Anonymous user.
    pub is_anonymous: bool,
    /// Anonymized.
    pub is_anonymized: bool,
    /// Scheduled deletion time.
    pub delete_at: Option<OffsetDateTime>,
    /// Scheduled anonymization time.
    pub anonymize_at: Option<OffsetDateTime>,
    /// Start of a temporary disable window.
    pub temporarily_disabled_from: Option<OffsetDateTime>,
    /// End of a temporary disable window.
    pub temporarily_disabled_until: Option<OffsetDateTime>,
    /// Start of the valid period.
    pub account_valid_from: Option<OffsetDateTime>,
    /// End of the valid period.
    pub account_valid_until: Option<OffsetDateTime>,
}

impl User {
    /// Whether the user is disabled at `now`: indefinitely, inside a temporary window, or
    /// outside the valid period.
    pub fn is_disabled_at(&self, now: OffsetDateTime) -> bool {
        let in_window = match (self.temporarily_disabled_from, self.temporarily_disabled_until) {
            (Some(from), Some(until)) => from <= now && now < until,
            _ => false,
        };
        let before_valid = self.account_valid_from.is_some_and(|from| now < from);
        let after_valid = self.account_valid_until.is_some_and(|until| now >= until);
        self.disabled_indefinitely || in_window || before_valid || after_valid
    }

    /// A display ID derived from the email, username or phone number.
    pub fn end_user_account_id(&self) -> Option<String> {
        ["email", "preferred_username", "phone_number"]
            .iter()
            .find_map(|k| self.standard_attributes.get(*k).and_then(Value::as_str).map(str::to_owned))
    }
}

impl From<entity::user::Model> for User {
    fn from(m: entity::user::Model) -> Self {
        Self {
            id: m.id,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
            last_login_at: m.last_login_at.map(time_of),
            standard_attributes: m.standard_attributes,
            custom_attributes: m.custom_attributes,
            disabled_indefinitely: m.is_disabled,
            disable_reason: m.disable_reason,
            is_deactivated: m.is_deactivated,
            is_anonymous: m.is_anonymous,
            is_anonymized: m.is_anonymized,
            delete_at: m.delete_at.map(time_of),
            anonymize_at: m.anonymize_at.map(time_of),
            temporarily_disabled_from: m.temporarily_disabled_from.map(time_of),
            temporarily_disabled_until: m.temporarily_disabled_until.map(time_of),
            account_valid_from: m.account_valid_from.map(time_of),
            account_valid_until: m.account_valid_until.map(time_of),
        }
    }
}

/// An identity (a login ID for now).
#[derive(Debug, Clone)]
pub struct Identity {
    /// ID.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// `login_id`.
    pub kind: String,
    /// Login ID key.
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
}

impl Identity {
    /// Claims with OIDC names plus Authgear's namespaced login ID claims.
    pub fn claims(&self) -> Value {
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
            id: m.id,
            user_id: m.user_id,
            kind: m.kind,
            login_id_key: m.login_id_key,
            login_id_type: m.login_id_type,
            value: m.value,
            original_value: m.original_value,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

/// An authenticator (passwords for now). The hash never leaves the service layer.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// ID.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// `password`.
    pub kind: String,
    /// `primary` or `secondary`.
    pub factor: String,
    /// Default of its kind.
    pub is_default: bool,
    /// When the password expires (set by `setPasswordExpired`).
    pub expire_after: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<entity::authenticator::Model> for Authenticator {
    fn from(m: entity::authenticator::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            kind: m.kind,
            factor: m.factor,
            is_default: m.is_default,
            expire_after: m.expire_after.map(time_of),
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

/// A role or a group: both are addressed by a unique key.
#[derive(Debug, Clone)]
pub struct Keyed {
    /// ID.
    pub id: Uuid,
    /// Unique key.
    pub key: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A verified claim.
#[derive(Debug, Clone)]
pub struct VerifiedClaim {
    /// `email` or `phone_number`.
    pub name: String,
    /// The verified value.
    pub value: String,
}

/// An audit log entry.
#[derive(Debug, Clone)]
pub struct AuditLog {
    /// ID.
    pub id: Uuid,
    /// When.
    pub created_at: OffsetDateTime,
    /// Activity type, e.g. `admin_api.mutation.create_user.executed`.
    pub activity_type: String,
    /// Affected user.
    pub user_id: Option<Uuid>,
    /// Who acted.
    pub actor: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// OAuth client.
    pub client_id: Option<String>,
    /// The whole event.
    pub data: Value,
}

impl From<entity::audit_log::Model> for AuditLog {
    fn from(m: entity::audit_log::Model) -> Self {
        Self {
            id: m.id,
            created_at: time_of(m.created_at),
            activity_type: m.activity_type,
            user_id: m.user_id,
            actor: m.actor,
            ip_address: m.ip_address,
            user_agent: m.user_agent,
            client_id: m.client_id,
            data: m.data,
        }
    }
}

/// Current time, truncated to microseconds (what the database stores).
pub fn now() -> OffsetDateTime {
    time_of(micros(OffsetDateTime::now_utc()))
}

/// A time as stored: microseconds since the Unix epoch, UTC.
pub fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// A stored time back as a date-time.
pub fn time_of(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A `roles` or `groups` row as stored.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub(crate) struct KeyedRow {
    pub id: Uuid,
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<KeyedRow> for Keyed {
    fn from(r: KeyedRow) -> Self {
        Self {
            id: r.id,
            key: r.key,
            name: r.name,
            description: r.description,
            created_at: time_of(r.created_at),
            updated_at: time_of(r.updated_at),
        }
    }
}

/// An application (OAuth client). Secrets appear only as hints.
#[derive(Debug, Clone)]
pub struct Application {
    /// ID.
    pub id: Uuid,
    /// OAuth `client_id`.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Application type.
    pub kind: crate::domain::oauth::AppType,
    /// Allowed redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Allowed post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Allowed CORS origins.
    pub allowed_origins: Vec<String>,
    /// Access token lifetime in seconds.
    pub access_token_lifetime: i64,
    /// Refresh token lifetime in seconds.
    pub refresh_token_lifetime: i64,
    /// Refresh token idle timeout in seconds.
    pub refresh_token_idle_timeout: i64,
    /// Rotate refresh tokens on use.
    pub refresh_token_rotation: bool,
    /// Access token signing algorithm.
    pub access_token_alg: String,
    /// May introspect tokens issued to other clients; otherwise only its own.
    pub can_introspect_all_tokens: bool,
    /// Secrets, newest first (hints only).
    pub secrets: Vec<SecretInfo>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// What can be shown of a client secret.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    /// ID.
    pub id: Uuid,
    /// Last four characters.
    pub hint: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Revocation time; revoked secrets no longer authenticate.
    pub revoked_at: Option<OffsetDateTime>,
}

/// An API resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// ID.
    pub id: Uuid,
    /// Resource URI (the `aud` of its tokens).
    pub uri: String,
    /// Display name.
    pub name: Option<String>,
    /// The built-in Admin API resource.
    pub builtin: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<entity::resource::Model> for Resource {
    fn from(m: entity::resource::Model) -> Self {
        Self {
            id: m.id,
            uri: m.uri,
            name: m.name,
            builtin: m.builtin,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

/// A scope of a resource.
#[derive(Debug, Clone)]
pub struct Scope {
    /// ID.
    pub id: Uuid,
    /// The resource.
    pub resource_id: Uuid,
    /// Scope token.
    pub scope: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<entity::resource_scope::Model> for Scope {
    fn from(m: entity::resource_scope::Model) -> Self {
        Self {
            id: m.id,
            resource_id: m.resource_id,
            scope: m.scope,
            description: m.description,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

/// The strings of a JSON array column (scopes, AMR, redirect URIs, ...); anything else
/// reads as empty.
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}
