//! One user as Authgear's export record, built from the rows of a batch.
//!
//! Field rules, as Authgear writes them: strings of the standard attributes are left out
//! when absent or empty; `email_verified`, `phone_number_verified`, `disabled`,
//! `is_anonymized`, `biometric_count` and `passkey_count` are always there; `roles`,
//! `groups`, `identities` and `custom_attributes` are left out when empty; `mfa` is always
//! an object (its lists left out when empty). Beyond Authgear's record: `created_at` always,
//! the other times (`last_login_at`, `delete_at`, `anonymize_at`,
//! `temporarily_disabled_from/until`, `account_valid_from/until`) when set, and with the
//! password-hash option `password` and `mfa.password`.

use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use crate::service::store::time::time_of;
use entity::{authenticator, identity, user};

/// A password hash as the import reads it: `{type, password_hash, expire_after?}`.
#[derive(Serialize)]
pub(super) struct PasswordRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    password_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_after: Option<String>,
}

/// A TOTP authenticator: the base32 secret and its `otpauth://` URI.
#[derive(Serialize)]
pub(super) struct TotpRecord {
    secret: String,
    uri: String,
}

#[derive(Serialize, Default)]
pub(super) struct MfaRecord<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    emails: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    phone_numbers: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    totps: Vec<TotpRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<PasswordRecord<'a>>,
}

#[derive(Serialize)]
pub(super) struct LoginIdRecord<'a> {
    key: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    value: &'a str,
    original_value: &'a str,
}

#[derive(Serialize)]
pub(super) struct OAuthRecord<'a> {
    provider_alias: &'a Value,
    provider_type: &'a Value,
    provider_subject_id: &'a Value,
    user_profile: &'a Value,
}

#[derive(Serialize)]
pub(super) struct IdentityRecord<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    login_id: Option<LoginIdRecord<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth: Option<OAuthRecord<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    claims: Map<String, Value>,
}

/// The export record of one user.
#[derive(Serialize)]
pub(super) struct Record<'a> {
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    email_verified: bool,
    phone_number_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    middle_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    picture: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    website: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gender: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birthdate: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zoneinfo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_attributes: Option<&'a Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<&'a str>,
    disabled: bool,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_at: Option<String>,
    is_anonymized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    anonymize_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporarily_disabled_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporarily_disabled_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_valid_until: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identities: Vec<IdentityRecord<'a>>,
    mfa: MfaRecord<'a>,
    biometric_count: usize,
    passkey_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<PasswordRecord<'a>>,
}

/// A time column as RFC 3339 text.
fn rfc3339(v: i64) -> String {
    time_of(v).format(&Rfc3339).unwrap_or_default()
}

/// The import `type` of a stored hash: `argon2` for the server's own (and imported)
/// Argon2 PHC strings, `bcrypt` for `$2a$`/`$2b$`/`$2y$`, otherwise the PHC identifier
/// with `-` as `_` (`$pbkdf2-sha256$…` is `pbkdf2_sha256`).
pub(super) fn hash_type(hash: &str) -> &'static str {
    if hash.starts_with("$argon2") {
        "argon2"
    } else if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        "bcrypt"
    } else {
        let id = hash.strip_prefix('$').and_then(|h| h.split('$').next()).unwrap_or("");
        match id {
            "scrypt" => "scrypt",
            "pbkdf2-sha256" => "pbkdf2_sha256",
            "pbkdf2-sha1" | "pbkdf2" => "pbkdf2_sha1",
            _ => "unknown",
        }
    }
}

fn password<'a>(a: &'a authenticator::Model) -> Option<PasswordRecord<'a>> {
    let hash = a.password_hash.as_deref()?;
    Some(PasswordRecord { kind: hash_type(hash), password_hash: hash, expire_after: a.expire_after.map(rfc3339) })
}

/// What the record builder needs besides the rows.
pub(super) struct Context<'a> {
    /// The TOTP URIs' issuer (`ui.app_name`).
    pub issuer: &'a str,
    /// Whether `password` and `mfa.password` are wanted.
    pub include_password_hashes: bool,
    /// Decrypts a stored TOTP seed (sealed with the master key).
    pub decrypt: &'a (dyn Fn(&[u8]) -> Option<Vec<u8>> + Sync),
}

fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The record of `u` with its identities, authenticators, role keys and group keys.
pub(super) fn build<'a>(
    cx: &Context<'_>,
    u: &'a user::Model,
    identities: &'a [identity::Model],
    authenticators: &'a [authenticator::Model],
    roles: Vec<&'a str>,
    groups: Vec<&'a str>,
) -> Record<'a> {
    let sa = &u.standard_attributes;
    let address = sa.get("address").and_then(Value::as_object).map(|a| {
        a.iter()
            .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<String, Value>>()
    });
    let custom = Some(&u.custom_attributes).filter(|c| c.as_object().is_some_and(|m| !m.is_empty()));
    let mut out = Record {
        sub: u.id.to_string(),
        preferred_username: attr(sa, "preferred_username"),
        email: attr(sa, "email"),
        phone_number: attr(sa, "phone_number"),
        email_verified: sa.get("email_verified").and_then(Value::as_bool).unwrap_or(false),
        phone_number_verified: sa.get("phone_number_verified").and_then(Value::as_bool).unwrap_or(false),
        name: attr(sa, "name"),
        given_name: attr(sa, "given_name"),
        family_name: attr(sa, "family_name"),
        middle_name: attr(sa, "middle_name"),
        nickname: attr(sa, "nickname"),
        profile: attr(sa, "profile"),
        picture: attr(sa, "picture"),
        website: attr(sa, "website"),
        gender: attr(sa, "gender"),
        birthdate: attr(sa, "birthdate"),
        zoneinfo: attr(sa, "zoneinfo"),
        locale: attr(sa, "locale"),
        address: address.filter(|a| !a.is_empty()),
        custom_attributes: custom,
        roles,
        groups,
        disabled: u.is_disabled,
        created_at: rfc3339(u.created_at),
        last_login_at: u.last_login_at.map(rfc3339),
        delete_at: u.delete_at.map(rfc3339),
        is_anonymized: u.is_anonymized,
        anonymize_at: u.anonymize_at.map(rfc3339),
        temporarily_disabled_from: u.temporarily_disabled_from.map(rfc3339),
        temporarily_disabled_until: u.temporarily_disabled_until.map(rfc3339),
        account_valid_from: u.account_valid_from.map(rfc3339),
        account_valid_until: u.account_valid_until.map(rfc3339),
        identities: Vec::new(),
        mfa: MfaRecord::default(),
        biometric_count: 0,
        passkey_count: 0,
        password: None,
    };
    for i in identities {
        match i.kind.as_str() {
            "login_id" => {
                let claim = match i.login_id_type.as_str() {
                    "email" => "email",
                    "phone" => "phone_number",
                    _ => "preferred_username",
                };
                let mut claims = Map::new();
                claims.insert(claim.to_owned(), Value::String(i.value.clone()));
                out.identities.push(IdentityRecord {
                    kind: "login_id",
                    login_id: Some(LoginIdRecord {
                        key: &i.login_id_key,
                        kind: &i.login_id_type,
                        value: &i.value,
                        original_value: &i.original_value,
                    }),
                    oauth: None,
                    claims,
                });
            }
            "oauth" => {
                const NULL: &Value = &Value::Null;
                let d = i.details.as_ref().unwrap_or(NULL);
                let get = |k: &str| d.get(k).unwrap_or(NULL);
                let profile = get("profile");
                let mut claims = Map::new();
                if let Some(email) = profile.get("email").filter(|e| e.is_string()) {
                    claims.insert("email".to_owned(), email.clone());
                }
                out.identities.push(IdentityRecord {
                    kind: "oauth",
                    login_id: None,
                    oauth: Some(OAuthRecord {
                        provider_alias: get("provider_alias"),
                        provider_type: get("provider_type"),
                        provider_subject_id: get("subject_id"),
                        user_profile: profile,
                    }),
                    claims,
                });
            }
            "biometric" => out.biometric_count += 1,
            "passkey" => out.passkey_count += 1,
            _ => {}
        }
    }
    let account = out.email.or(out.preferred_username).or(out.phone_number).map(str::to_owned);
    for a in authenticators {
        match (a.kind.as_str(), a.factor.as_str()) {
            ("password", "primary") if cx.include_password_hashes => out.password = password(a),
            ("password", "secondary") if cx.include_password_hashes => out.mfa.password = password(a),
            ("oob_otp_email", "secondary") => out.mfa.emails.extend(a.oob_target.as_deref()),
            ("oob_otp_sms", "secondary") => out.mfa.phone_numbers.extend(a.oob_target.as_deref()),
            ("totp", _) => {
                let Some(secret) = a.totp_secret.as_deref().and_then(|s| (cx.decrypt)(s)) else {
                    tracing::error!(authenticator = %a.id, "a TOTP secret does not decrypt; left out of the export");
                    continue;
                };
                let account = account.clone().unwrap_or_else(|| u.id.to_string());
                out.mfa.totps.push(TotpRecord {
                    secret: crate::crypto::totp::base32(&secret),
                    uri: crate::crypto::totp::otpauth_uri(cx.issuer, &account, &secret),
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hash_type;

    #[test]
    fn hash_types_follow_the_stored_form() {
        assert_eq!(hash_type("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"), "argon2");
        assert_eq!(hash_type("$2b$10$abcdefghijklmnopqrstuv"), "bcrypt");
        assert_eq!(hash_type("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"), "pbkdf2_sha256");
        assert_eq!(hash_type("plain"), "unknown");
    }
}
