//! Login IDs: email, phone and username, with their normalisation rules.

use super::Invalid;
use crate::domain::reason;
use crate::domain::text::quoted;
use serde::{Deserialize, Serialize};

/// A validated login ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginId {
    /// Its type.
    pub kind: LoginIdType,
    /// Normalised value (email domain lower-cased; username as typed).
    pub value: String,
    /// The value as given (trimmed).
    pub original: String,
    /// The case-folded form that uniqueness and lookups use.
    pub unique_key: String,
}

impl LoginId {
    /// Parses `value` as a login ID of the type named by `key` (`email`, `phone`, `username`).
    pub fn parse(cfg: &LoginIdConfig, key: &str, value: &str) -> Result<Self, Invalid> {
        let kind = match key {
            "email" => LoginIdType::Email,
            "phone" => LoginIdType::Phone,
            "username" => LoginIdType::Username,
            _ => {
                return Err(Invalid::new(
                    reason::INVALID_LOGIN_ID_KEY,
                    format!("unknown login ID key {}: use email, phone or username", quoted(key)),
                ));
            }
        };
        if !cfg.types.contains(&kind) {
            return Err(Invalid::new(
                reason::INVALID_LOGIN_ID_KEY,
                format!("login ID type {} is not enabled in login_id.types", quoted(key)),
            ));
        }
        let original = value.trim().to_owned();
        match kind {
            LoginIdType::Email => {
                let value = normalize_email(&original)?;
                let unique_key = if cfg.email_case_sensitive { value.clone() } else { value.to_lowercase() };
                Ok(Self { kind, value, original, unique_key })
            }
            LoginIdType::Phone => {
                let value = normalize_phone(&original)?;
                Ok(Self { kind, unique_key: value.clone(), value, original })
            }
            LoginIdType::Username => {
                validate_username(cfg, &original)?;
                Ok(Self { kind, unique_key: original.to_lowercase(), value: original.clone(), original })
            }
        }
    }

    /// The case-folded form of `value` for lookups, without uniqueness side rules
    /// (reserved names are allowed so that existing users can still be found).
    pub fn lookup_key(cfg: &LoginIdConfig, key: &str, value: &str) -> Result<String, Invalid> {
        let value = value.trim();
        match key {
            "email" => {
                let v = normalize_email(value)?;
                Ok(if cfg.email_case_sensitive { v } else { v.to_lowercase() })
            }
            "phone" => normalize_phone(value),
            "username" => Ok(value.to_lowercase()),
            _ => Err(Invalid::new(
                reason::INVALID_LOGIN_ID_KEY,
                format!("unknown login ID key {}: use email, phone or username", quoted(key)),
            )),
        }
    }
}

/// Checks email syntax and lower-cases the domain.
pub fn normalize_email(input: &str) -> Result<String, Invalid> {
    let bad = || Invalid::new(reason::INVALID_EMAIL, format!("{} is not a valid email address", quoted(input)));
    let (local, domain) = input.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain_ok = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !local_ok || !domain_ok {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// Checks an E.164 phone number (`+` then 7 to 15 digits, no leading zero).
pub fn normalize_phone(input: &str) -> Result<String, Invalid> {
    let digits = input.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
    if ok {
        Ok(input.to_owned())
    } else {
        Err(Invalid::new(
            reason::INVALID_PHONE_NUMBER,
            format!("{} is not an E.164 phone number (e.g. +14155550100)", quoted(input)),
        ))
    }
}

fn validate_username(cfg: &LoginIdConfig, input: &str) -> Result<(), Invalid> {
    if input.is_empty() || input.chars().count() > cfg.username_max_length {
        return Err(Invalid::new(
            reason::INVALID_USERNAME,
            format!("a username has 1 to {} characters", cfg.username_max_length),
        ));
    }
    if !input.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(Invalid::new(
            reason::INVALID_USERNAME,
            format!("{} may contain only letters, digits, `_`, `.` and `-`", quoted(input)),
        ));
    }
    let folded = input.to_lowercase();
    if cfg.reserved_usernames.iter().any(|r| r.to_lowercase() == folded) {
        return Err(Invalid::new(reason::USERNAME_RESERVED, format!("the username `{input}` is reserved")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domain_is_lower_cased_and_key_folded() {
        let cfg = LoginIdConfig::default();
        let id = LoginId::parse(&cfg, "email", " Alice@Example.COM ").unwrap();
        assert_eq!(id.value, "Alice@example.com");
        assert_eq!(id.unique_key, "alice@example.com");
        assert_eq!(id.original, "Alice@Example.COM");
        assert!(LoginId::parse(&cfg, "email", "no-at-sign").is_err());
        assert!(LoginId::parse(&cfg, "email", "a@b").is_err());
    }

    #[test]
    fn phone_must_be_e164() {
        assert!(normalize_phone("+14155550100").is_ok());
        assert!(normalize_phone("4155550100").is_err());
        assert!(normalize_phone("+0123456789").is_err());
    }

    #[test]
    fn usernames() {
        let cfg = LoginIdConfig::default();
        assert_eq!(LoginId::parse(&cfg, "username", "Bob_1").unwrap().unique_key, "bob_1");
        assert!(LoginId::parse(&cfg, "username", "Admin").is_err());
        assert!(LoginId::parse(&cfg, "username", "bad name").is_err());
        assert!(LoginId::parse(&cfg, "username", &"x".repeat(41)).is_err());
    }
}

/// A login ID type.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum LoginIdType {
    /// An email address.
    Email,
    /// A phone number in E.164 form.
    Phone,
    /// A user name.
    Username,
}

impl LoginIdType {
    /// The config and claim spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Username => "username",
        }
    }

    /// The type a typed login ID reads as: an `@` makes an email address, a leading `+` a
    /// phone number, anything else a username.
    pub fn of_text(text: &str) -> Self {
        if text.contains('@') {
            Self::Email
        } else if text.starts_with('+') {
            Self::Phone
        } else {
            Self::Username
        }
    }
}

/// Login ID settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginIdConfig {
    /// Enabled login ID types; the key of each is its type name.
    pub types: Vec<LoginIdType>,
    /// Compare emails case-sensitively (the domain is always lower-cased).
    pub email_case_sensitive: bool,
    /// Maximum username length.
    pub username_max_length: usize,
    /// Usernames nobody may take (compared case-insensitively).
    pub reserved_usernames: Vec<String>,
}

impl Default for LoginIdConfig {
    fn default() -> Self {
        Self {
            types: vec![LoginIdType::Email, LoginIdType::Username, LoginIdType::Phone],
            email_case_sensitive: false,
            username_max_length: 40,
            reserved_usernames: [
                "admin",
                "administrator",
                "root",
                "system",
                "support",
                "help",
                "security",
                "webmaster",
                "postmaster",
                "hostmaster",
                "abuse",
                "noreply",
                "no-reply",
                "null",
                "undefined",
                "authgraph",
                "api",
                "www",
                "mail",
                "oauth",
                "oidc",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        }
    }
}
