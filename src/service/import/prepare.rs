//! Turning a record into the rows it writes: every check that needs no database.

use std::collections::HashMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::record::{ImportRecord, MfaRecord, redacted};
use crate::config::Config;
use crate::crypto::master_key::MasterKey;
use crate::domain::attributes::{formatted_name, validate_custom, validate_standard};
use crate::domain::login_id::LoginId;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::domain::text::{check_json_text, check_text};
use crate::service::store::time::micros;

/// Which login ID finds an existing user (Authgear's `identifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// `email`.
    Email,
    /// `phone_number`.
    PhoneNumber,
    /// `preferred_username`.
    PreferredUsername,
}

impl Identifier {
    /// Parses Authgear's name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "phone_number" => Some(Self::PhoneNumber),
            "preferred_username" => Some(Self::PreferredUsername),
            _ => None,
        }
    }

    /// Authgear's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::PreferredUsername => "preferred_username",
        }
    }

    /// The login ID key (and type) it names.
    pub fn login_key(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PhoneNumber => "phone",
            Self::PreferredUsername => "username",
        }
    }
}

/// A failed check: the reason code and what to fix.
#[derive(Debug, Clone)]
pub struct RecordError {
    /// Machine-readable reason.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl RecordError {
    pub(super) fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }

    /// Authgear's `APIError` shape.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"name": "Invalid", "reason": self.reason, "message": self.message, "code": 400})
    }
}

/// A provider account a record connects: the identity's look-up key
/// (`<alias>:<subject>`) and its details, as a sign-in through the provider stores them.
#[derive(Debug, Clone)]
pub(super) struct OAuthAccount {
    pub key: String,
    pub details: Value,
}

/// Most characters of a provider alias or subject.
const MAX_OAUTH_FIELD: usize = 255;

/// The provider accounts of `rec` (deduplicated), and a warning for each whose alias no
/// configured provider has.
fn oauth_accounts(config: &Config, rec: &ImportRecord) -> Result<(Vec<OAuthAccount>, Vec<String>), RecordError> {
    let mut out: Vec<OAuthAccount> = Vec::new();
    let mut warnings = Vec::new();
    for ident in rec.oauth_identities() {
        let o = &ident["oauth"];
        let text = |field: &str| {
            o.get(field)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.chars().count() <= MAX_OAUTH_FIELD)
                .ok_or_else(|| {
                    RecordError::new(
                        reason::INVALID_IMPORT_RECORD,
                        format!("identities[].oauth.{field} must be a text of 1 to {MAX_OAUTH_FIELD} characters"),
                    )
                })
        };
        let (alias, subject) = (text("provider_alias")?, text("provider_subject_id")?);
        let configured = config.social_login.providers.iter().find(|p| p.alias == alias);
        let kind = match (o.get("provider_type").and_then(Value::as_str), configured) {
            (Some(t), _) => t.to_owned(),
            (None, Some(p)) => p.kind.as_str().to_owned(),
            (None, None) => "oidc".to_owned(),
        };
        if configured.is_none() {
            warnings.push(format!(
                "no provider `{alias}` is configured: the connected account was imported and signs in once one is"
            ));
        }
        let profile = match o.get("user_profile") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => Value::Object(Map::new()),
        };
        // Neither database stores NUL, and no profile needs control characters.
        for v in [alias, subject] {
            check_text("identities[].oauth", v).map_err(|e| RecordError::new(e.reason, e.message))?;
        }
        check_json_text("identities[].oauth.user_profile", &profile)
            .map_err(|e| RecordError::new(e.reason, e.message))?;
        let key = format!("{alias}:{subject}");
        if out.iter().any(|a| a.key == key) {
            continue;
        }
        let details = serde_json::json!({
            "provider_type": kind, "provider_alias": alias, "subject_id": subject, "profile": profile,
        });
        out.push(OAuthAccount { key, details });
    }
    Ok((out, warnings))
}

/// A secondary factor to add.
#[derive(Debug, Clone)]
pub(super) enum Factor {
    /// Email codes to this address.
    Email(String),
    /// SMS codes to this number.
    Sms(String),
    /// A secondary password (stored form).
    Password(String),
    /// A TOTP seed, sealed with the master key.
    Totp(Vec<u8>),
}

/// A record checked and ready to write.
#[derive(Debug, Clone)]
pub(super) struct Prepared {
    /// Index of the record in the input.
    pub idx: i64,
    /// The ID to give a new user.
    pub user_id: Option<Uuid>,
    /// The identifier's unique key.
    pub key: String,
    /// Login IDs named by the record, with their keys.
    pub login_ids: Vec<(&'static str, LoginId)>,
    /// Standard attributes named by the record (login IDs and flags apart).
    pub standard: Map<String, Value>,
    /// Custom attributes named by the record.
    pub custom: Option<Map<String, Value>>,
    pub disabled: Option<bool>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub created_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub email_verified: Option<bool>,
    pub phone_verified: Option<bool>,
    /// Role IDs, when the record names roles.
    pub roles: Option<Vec<Uuid>>,
    /// Group IDs, when the record names groups.
    pub groups: Option<Vec<Uuid>>,
    /// Primary password: stored form and expiry.
    pub password: Option<(String, Option<i64>)>,
    pub factors: Vec<Factor>,
    /// Provider accounts to connect.
    pub oauth: Vec<OAuthAccount>,
    /// The record with secrets redacted, for the job's details.
    pub redacted: Value,
    pub warnings: Vec<String>,
}

impl Prepared {
    /// The keys this record's new user would take: each login ID (`email:…`, its kind
    /// and unique key) and the `sub` it asks for (`sub:…`). The identifier is one of the
    /// login IDs.
    pub fn user_keys(&self) -> impl Iterator<Item = String> + '_ {
        let logins = self.login_ids.iter().map(|(_, id)| format!("{}:{}", id.kind.as_str(), id.unique_key));
        logins.chain(self.user_id.map(|u| format!("sub:{u}")))
    }

    /// The standard attributes of a new user: the named ones, the login IDs and their
    /// verification flags, as `refresh_derived` would compute them.
    pub fn new_user_attributes(&self) -> (Value, Option<String>) {
        let mut attrs = self.standard.clone();
        for (key, id) in &self.login_ids {
            let (claim, flag) = match *key {
                "email" => ("email", Some(self.email_verified.unwrap_or(false))),
                "phone" => ("phone_number", Some(self.phone_verified.unwrap_or(false))),
                _ => ("preferred_username", None),
            };
            attrs.insert(claim.into(), Value::String(id.value.clone()));
            if let Some(f) = flag {
                attrs.insert(format!("{claim}_verified"), Value::Bool(f));
            }
        }
        let attrs = Value::Object(attrs);
        let name_key = formatted_name(&attrs).map(|n| n.to_lowercase());
        (attrs, name_key)
    }
}

/// Role and group IDs by key.
pub(super) struct Keys {
    pub roles: HashMap<String, Uuid>,
    pub groups: HashMap<String, Uuid>,
}

fn time_field(name: &str, v: &Option<String>) -> Result<Option<i64>, RecordError> {
    v.as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map(micros).map_err(|_| {
                RecordError::new(reason::INVALID_IMPORT_RECORD, format!("{name} must be an RFC 3339 date-time"))
            })
        })
        .transpose()
}

fn login(config: &Config, key: &'static str, field: &str, v: &str) -> Result<LoginId, RecordError> {
    LoginId::parse(&config.login_id, key, v).map_err(|e| RecordError::new(e.reason, format!("{field}: {}", e.message)))
}

fn password(
    config: &Config,
    p: &crate::crypto::foreign_hash::ImportedPassword,
    field: &str,
) -> Result<String, RecordError> {
    p.stored_form(&config.password_import)
        .map_err(|e| RecordError::new(reason::INVALID_PASSWORD_HASH, format!("{field}: {e}")))
}

fn by_key(map: &HashMap<String, Uuid>, keys: &[String], what: &str) -> Result<Vec<Uuid>, RecordError> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let id = map.get(k).ok_or_else(|| {
            let reason = if what == "role" { reason::ROLE_NOT_FOUND } else { reason::GROUP_NOT_FOUND };
            RecordError::new(reason, format!("{what} {} does not exist; create it first", quoted(k)))
        })?;
        if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

/// Checks a record and builds what it writes.
pub(super) fn prepare(
    config: &Config,
    master_key: &MasterKey,
    keys: &Keys,
    identifier: Identifier,
    idx: i64,
    raw: &Value,
) -> Result<Prepared, RecordError> {
    let rec: ImportRecord = serde_json::from_value(raw.clone())
        .map_err(|e| RecordError::new(reason::INVALID_IMPORT_RECORD, format!("the record is malformed: {e}")))?;
    let user_id = rec
        .sub
        .as_deref()
        .map(|s| {
            Uuid::parse_str(s)
                .map_err(|_| RecordError::new(reason::INVALID_IMPORT_RECORD, "sub must be a UUID (the user ID)"))
        })
        .transpose()?;
    let mut login_ids = Vec::new();
    if let Some(v) = &rec.email {
        login_ids.push(("email", login(config, "email", "email", v)?));
    }
    if let Some(v) = &rec.phone_number {
        login_ids.push(("phone", login(config, "phone", "phone_number", v)?));
    }
    if let Some(v) = &rec.preferred_username {
        login_ids.push(("username", login(config, "username", "preferred_username", v)?));
    }
    let key =
        login_ids.iter().find(|(k, _)| *k == identifier.login_key()).map(|(_, id)| id.unique_key.clone()).ok_or_else(
            || {
                RecordError::new(
                    reason::INVALID_IMPORT_RECORD,
                    format!("the identifier {} is required in every record", identifier.as_str()),
                )
            },
        )?;
    let standard =
        validate_standard(&Value::Object(rec.standard_map())).map_err(|e| RecordError::new(e.reason, e.message))?;
    let custom = rec
        .custom_attributes
        .as_ref()
        .map(|c| validate_custom(&config.custom_attributes, &Value::Object(c.clone())))
        .transpose()
        .map_err(|e| RecordError::new(e.reason, e.message))?;
    let valid_from = time_field("account_valid_from", &rec.account_valid_from)?;
    let valid_until = time_field("account_valid_until", &rec.account_valid_until)?;
    if let (Some(f), Some(u)) = (valid_from, valid_until)
        && f >= u
    {
        return Err(RecordError::new(
            reason::INVALID_ACCOUNT_VALID_PERIOD,
            "account_valid_from must be before account_valid_until",
        ));
    }
    // An export writes `false` for a login ID the user does not have; `true` needs one.
    if rec.email_verified == Some(true) && rec.email.is_none() {
        return Err(RecordError::new(reason::INVALID_IMPORT_RECORD, "email_verified needs email"));
    }
    if rec.phone_number_verified == Some(true) && rec.phone_number.is_none() {
        return Err(RecordError::new(reason::INVALID_IMPORT_RECORD, "phone_number_verified needs phone_number"));
    }
    let roles = rec.roles.as_deref().map(|r| by_key(&keys.roles, r, "role")).transpose()?;
    let groups = rec.groups.as_deref().map(|g| by_key(&keys.groups, g, "group")).transpose()?;
    let password = rec
        .password
        .as_ref()
        .map(|p| Ok::<_, RecordError>((password(config, p, "password")?, p.expire_after.map(micros))))
        .transpose()?;
    let factors = match &rec.mfa {
        Some(m) => factors(config, master_key, m)?,
        None => Vec::new(),
    };
    let (oauth, mut warnings) = oauth_accounts(config, &rec)?;
    for t in rec.foreign_identity_types() {
        let why = match t.as_str() {
            "passkey" | "biometric" => ": its private key never leaves the user's device; the user registers a new one",
            _ => "",
        };
        warnings.push(format!("an identity of type {t} cannot be imported and was left out{why}"));
    }
    Ok(Prepared {
        idx,
        user_id,
        key,
        login_ids,
        standard,
        custom,
        disabled: rec.disabled,
        valid_from,
        valid_until,
        created_at: time_field("created_at", &rec.created_at)?,
        last_login_at: time_field("last_login_at", &rec.last_login_at)?,
        email_verified: rec.email_verified,
        phone_verified: rec.phone_number_verified,
        roles,
        groups,
        password,
        factors,
        oauth,
        redacted: redacted(raw),
        warnings,
    })
}

fn factors(config: &Config, master_key: &MasterKey, m: &MfaRecord) -> Result<Vec<Factor>, RecordError> {
    let mut out = Vec::new();
    for e in m.email.iter().chain(&m.emails) {
        let id = login(config, "email", "mfa.email", e)?;
        out.push(Factor::Email(id.value));
    }
    for p in m.phone_number.iter().chain(&m.phone_numbers) {
        let id = login(config, "phone", "mfa.phone_number", p)?;
        out.push(Factor::Sms(id.value));
    }
    if let Some(p) = &m.password {
        out.push(Factor::Password(password(config, p, "mfa.password")?));
    }
    for t in m.totp.iter().chain(&m.totps) {
        let cleaned: String = t.secret.chars().filter(|c| !c.is_whitespace() && *c != '=').collect();
        let secret = data_encoding::BASE32_NOPAD
            .decode(cleaned.to_ascii_uppercase().as_bytes())
            .ok()
            .filter(|s| s.len() >= 10)
            .ok_or_else(|| {
                RecordError::new(
                    reason::INVALID_IMPORT_RECORD,
                    "mfa.totp.secret must be a base32 secret of 80 bits or more",
                )
            })?;
        out.push(Factor::Totp(master_key.encrypt(&secret)));
    }
    Ok(out)
}
