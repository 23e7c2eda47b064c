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
    crate::service::time::rfc3339_micros(time_of(v))
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

impl Record<'_> {
    /// The CSV cell at `pointer`: what `csv_cell` reads from the record's JSON value, with
    /// the record's own fields read where they are (building the whole value for every
    /// record was most of a CSV export's cost). `whole` holds that value once a pointer
    /// this does not know needs it.
    pub(super) fn cell(&self, pointer: &str, whole: &mut Option<Value>) -> String {
        fn text(s: Option<&str>) -> String {
            s.map(str::to_owned).unwrap_or_default()
        }
        fn list<T: Serialize>(v: &[T]) -> String {
            if v.is_empty() {
                return String::new();
            }
            // Through a value, so objects' keys come out in the order the whole value has.
            serde_json::to_value(v).map(|v| v.to_string()).unwrap_or_default()
        }
        match pointer {
            "/sub" => self.sub.clone(),
            "/preferred_username" => text(self.preferred_username),
            "/email" => text(self.email),
            "/phone_number" => text(self.phone_number),
            "/email_verified" => self.email_verified.to_string(),
            "/phone_number_verified" => self.phone_number_verified.to_string(),
            "/name" => text(self.name),
            "/given_name" => text(self.given_name),
            "/family_name" => text(self.family_name),
            "/middle_name" => text(self.middle_name),
            "/nickname" => text(self.nickname),
            "/profile" => text(self.profile),
            "/picture" => text(self.picture),
            "/website" => text(self.website),
            "/gender" => text(self.gender),
            "/birthdate" => text(self.birthdate),
            "/zoneinfo" => text(self.zoneinfo),
            "/locale" => text(self.locale),
            "/roles" => list(&self.roles),
            "/groups" => list(&self.groups),
            "/disabled" => self.disabled.to_string(),
            "/created_at" => self.created_at.clone(),
            "/last_login_at" => self.last_login_at.clone().unwrap_or_default(),
            "/delete_at" => self.delete_at.clone().unwrap_or_default(),
            "/is_anonymized" => self.is_anonymized.to_string(),
            "/anonymize_at" => self.anonymize_at.clone().unwrap_or_default(),
            "/identities" => list(&self.identities),
            "/mfa/emails" => list(&self.mfa.emails),
            "/mfa/phone_numbers" => list(&self.mfa.phone_numbers),
            "/mfa/totps" => list(&self.mfa.totps),
            "/biometric_count" => self.biometric_count.to_string(),
            "/passkey_count" => self.passkey_count.to_string(),
            _ => match pointer.strip_prefix("/address/").filter(|k| !k.contains(['/', '~'])) {
                // The record's address holds only non-empty strings.
                Some(key) => self
                    .address
                    .as_ref()
                    .and_then(|a| a.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_default(),
                None => {
                    let value = whole.get_or_insert_with(|| serde_json::to_value(self).unwrap_or(Value::Null));
                    crate::domain::user_export::csv_cell(value, pointer)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_types_follow_the_stored_form() {
        assert_eq!(hash_type("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"), "argon2");
        assert_eq!(hash_type("$2b$10$abcdefghijklmnopqrstuv"), "bcrypt");
        assert_eq!(hash_type("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"), "pbkdf2_sha256");
        assert_eq!(hash_type("plain"), "unknown");
    }

    fn user(id: &str) -> user::Model {
        user::Model {
            id: id.parse().unwrap(),
            created_at: 1_700_000_000_000_000,
            updated_at: 0,
            last_login_at: Some(1_700_000_100_000_000),
            standard_attributes: serde_json::json!({
                "email": "a@example.com", "email_verified": true, "name": "A, \"B\"", "given_name": "",
                "address": {"locality": "Town", "region": "", "country": "NZ"}, "preferred_username": "ab"
            }),
            custom_attributes: serde_json::json!({"tier": {"level": 3}, "a/b": "slash"}),
            name_key: None,
            is_disabled: true,
            disable_reason: None,
            is_deactivated: false,
            is_anonymous: false,
            is_anonymized: false,
            delete_at: None,
            delete_reason: None,
            anonymize_at: Some(1_700_000_200_000_000),
            temporarily_disabled_from: None,
            temporarily_disabled_until: None,
            account_valid_from: None,
            account_valid_until: None,
            mfa_grace_period_end_at: None,
            anonymized_at: None,
        }
    }

    #[test]
    fn cells_read_from_the_record_match_cells_read_from_its_value() {
        let decrypt = |_: &[u8]| Some(b"12345678901234567890".to_vec());
        let cx = Context { issuer: "App", include_password_hashes: true, decrypt: &decrypt };
        let u = user("0190f0f0-0000-7000-8000-000000000001");
        let identity = identity::Model {
            id: uuid::Uuid::nil(),
            user_id: u.id,
            kind: "login_id".into(),
            login_id_key: "email".into(),
            login_id_type: "email".into(),
            value: "a@example.com".into(),
            original_value: "A@example.com".into(),
            unique_key: "a@example.com".into(),
            details: None,
            created_at: 0,
            updated_at: 0,
        };
        let totp = authenticator::Model {
            id: uuid::Uuid::nil(),
            user_id: u.id,
            kind: "totp".into(),
            factor: "secondary".into(),
            is_default: true,
            password_hash: None,
            expire_after: None,
            oob_target: None,
            display_name: None,
            totp_secret: Some(vec![1, 2, 3]),
            totp_last_step: None,
            passkey_credential_id: None,
            created_at: 0,
            updated_at: 0,
        };
        let mut email = totp.clone();
        email.kind = "oob_otp_email".into();
        email.oob_target = Some("b@example.com".into());
        let idents = [identity];
        let auths = [totp, email];
        let bare = user("0190f0f0-0000-7000-8000-000000000002");
        let records = [
            build(&cx, &u, &idents, &auths, vec!["admin", "ops"], vec!["staff"]),
            build(&cx, &bare, &[], &[], Vec::new(), Vec::new()),
        ];
        let mut pointers: Vec<String> =
            crate::domain::user_export::default_csv_fields(true).into_iter().map(|f| f.pointer).collect();
        pointers.extend(
            ["/created_at", "/last_login_at", "/delete_at", "/is_anonymized", "/anonymize_at", "/address/region"]
                .map(str::to_owned),
        );
        pointers.extend(
            ["/custom_attributes/tier", "/custom_attributes/a~1b", "/mfa", "/address", "", "/nope"].map(str::to_owned),
        );
        for rec in &records {
            let value = serde_json::to_value(rec).unwrap();
            let mut whole = None;
            for p in &pointers {
                assert_eq!(rec.cell(p, &mut whole), crate::domain::user_export::csv_cell(&value, p), "pointer {p:?}");
            }
        }
    }
}
