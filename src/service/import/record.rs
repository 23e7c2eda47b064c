//! The import record: Authgear's flat object, one per NDJSON line or CSV row. Fields that
//! an export record carries and an import cannot set (identities other than login IDs and
//! provider accounts, counts) are accepted, so that what `export` writes, `import` reads
//! back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::foreign_hash::ImportedPassword;

/// One user to import.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    /// The user ID to keep (a UUID), when moving users with their IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Email login ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone login ID (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Username login ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Disabled indefinitely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Start of the account valid period (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_valid_from: Option<String>,
    /// End of the account valid period (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_valid_until: Option<String>,
    /// Whether the email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Whether the phone number is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// Standard attribute `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Value>,
    /// Standard attribute `given_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<Value>,
    /// Standard attribute `family_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<Value>,
    /// Standard attribute `middle_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<Value>,
    /// Standard attribute `nickname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<Value>,
    /// Standard attribute `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Value>,
    /// Standard attribute `picture`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<Value>,
    /// Standard attribute `website`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<Value>,
    /// Standard attribute `gender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Value>,
    /// Standard attribute `birthdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<Value>,
    /// Standard attribute `zoneinfo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<Value>,
    /// Standard attribute `locale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Value>,
    /// Standard attribute `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Value>,
    /// Custom attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_attributes: Option<Map<String, Value>>,
    /// Role keys: the user's roles become exactly these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Group keys: the user's groups become exactly these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// The primary password's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<ImportedPassword>,
    /// Second factors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<MfaRecord>,
    /// When the user signed up (RFC 3339); kept when moving users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the user last signed in (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<String>,
    /// Export field (read-only here) `identities`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Value>,
    /// Export field (read-only here) `is_anonymized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_anonymized: Option<Value>,
    /// Export field (read-only here) `delete_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<Value>,
    /// Export field (read-only here) `anonymize_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymize_at: Option<Value>,
    /// Export field (read-only here) `temporarily_disabled_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporarily_disabled_from: Option<Value>,
    /// Export field (read-only here) `temporarily_disabled_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporarily_disabled_until: Option<Value>,
    /// Export field (read-only here) `biometric_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biometric_count: Option<Value>,
    /// Export field (read-only here) `passkey_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey_count: Option<Value>,
    /// Export field (read-only here) `updated_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Value>,
}

impl ImportRecord {
    /// The standard attributes the record names (login IDs apart).
    pub fn standard_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in [
            ("name", &self.name),
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("middle_name", &self.middle_name),
            ("nickname", &self.nickname),
            ("profile", &self.profile),
            ("picture", &self.picture),
            ("website", &self.website),
            ("gender", &self.gender),
            ("birthdate", &self.birthdate),
            ("zoneinfo", &self.zoneinfo),
            ("locale", &self.locale),
            ("address", &self.address),
        ] {
            if let Some(v) = v {
                m.insert(k.to_owned(), v.clone());
            }
        }
        m
    }

    /// Identities that an import cannot recreate (neither login IDs nor provider
    /// accounts), by type.
    pub fn foreign_identity_types(&self) -> Vec<String> {
        self.identities_of(|t| t != "login_id" && t != "oauth")
            .filter_map(|i| i.get("type")?.as_str())
            .map(str::to_owned)
            .collect()
    }

    /// The provider accounts of the record (an export's `identities` of type `oauth`).
    pub fn oauth_identities(&self) -> impl Iterator<Item = &Value> {
        self.identities_of(|t| t == "oauth")
    }

    fn identities_of(&self, kind: impl Fn(&str) -> bool) -> impl Iterator<Item = &Value> {
        let list = match &self.identities {
            Some(Value::Array(list)) => list.as_slice(),
            _ => &[],
        };
        list.iter().filter(move |i| i.get("type").and_then(Value::as_str).is_some_and(&kind))
    }
}

/// The `mfa` object: Authgear's import form (`email`, `phone_number`, `password`, `totp`)
/// and the export form (`emails`, `phone_numbers`, `totps`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MfaRecord {
    /// Email for email codes as a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone for SMS codes as a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// A secondary password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<ImportedPassword>,
    /// A TOTP authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpRecord>,
    /// Emails (export form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// Phone numbers (export form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<String>,
    /// TOTP authenticators (export form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totps: Vec<TotpRecord>,
}

/// A TOTP authenticator: its base32 secret (the export adds the `otpauth://` URI).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TotpRecord {
    /// Base32 secret.
    pub secret: String,
    /// The `otpauth://` URI (export form; ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// The record with secrets replaced by `REDACTED`, as the job's details show it.
pub fn redacted(raw: &Value) -> Value {
    let mut v = raw.clone();
    if let Some(p) = v.get_mut("password").and_then(|p| p.get_mut("password_hash")) {
        *p = Value::String("REDACTED".into());
    }
    if let Some(mfa) = v.get_mut("mfa") {
        if let Some(p) = mfa.get_mut("password").and_then(|p| p.get_mut("password_hash")) {
            *p = Value::String("REDACTED".into());
        }
        if let Some(s) = mfa.get_mut("totp").and_then(|t| t.get_mut("secret")) {
            *s = Value::String("REDACTED".into());
        }
        if let Some(Value::Array(list)) = mfa.get_mut("totps") {
            for t in list {
                if let Some(obj) = t.as_object_mut() {
                    obj.insert("secret".into(), Value::String("REDACTED".into()));
                    obj.remove("uri");
                }
            }
        }
    }
    v
}

/// Columns of a CSV file whose cells hold JSON (objects and arrays); `roles` and `groups`
/// also take keys separated by spaces or commas.
const JSON_COLUMNS: &[&str] = &["custom_attributes", "address", "password", "mfa", "identities"];
/// Columns that hold `true` / `false`.
const BOOL_COLUMNS: &[&str] = &["disabled", "email_verified", "phone_number_verified", "is_anonymized"];

/// A CSV row as a record object: column names are the record's field names; an empty
/// cell is an absent field.
pub fn csv_row(headers: &[String], row: &[String]) -> Result<Value, String> {
    let mut m = Map::new();
    for (h, cell) in headers.iter().zip(row) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let value = if JSON_COLUMNS.contains(&h.as_str()) {
            serde_json::from_str(cell).map_err(|e| format!("column {h}: not JSON: {e}"))?
        } else if BOOL_COLUMNS.contains(&h.as_str()) {
            match cell.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                _ => return Err(format!("column {h}: `{cell}` is not true or false")),
            }
        } else if matches!(h.as_str(), "roles" | "groups") {
            if cell.starts_with('[') {
                serde_json::from_str(cell).map_err(|e| format!("column {h}: not JSON: {e}"))?
            } else {
                Value::Array(
                    cell.split([',', ' ']).filter(|s| !s.is_empty()).map(|s| Value::String(s.to_owned())).collect(),
                )
            }
        } else {
            Value::String(cell.to_owned())
        };
        m.insert(h.clone(), value);
    }
    Ok(Value::Object(m))
}
