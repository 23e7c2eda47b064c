//! Password policy checks (the hashing itself lives in `crypto::password`).

use super::Invalid;
use crate::domain::reason;
use serde::{Deserialize, Serialize};

/// Checks `password` against the policy; the message lists every rule it breaks.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<(), Invalid> {
    let mut broken = Vec::new();
    let len = password.chars().count();
    if len < policy.min_length {
        broken.push(format!("at least {} characters", policy.min_length));
    }
    if len > policy.max_length {
        broken.push(format!("at most {} characters", policy.max_length));
    }
    if policy.uppercase_required && !password.chars().any(char::is_uppercase) {
        broken.push("an upper-case letter".to_owned());
    }
    if policy.lowercase_required && !password.chars().any(char::is_lowercase) {
        broken.push("a lower-case letter".to_owned());
    }
    if policy.alphabet_required && !password.chars().any(char::is_alphabetic) {
        broken.push("a letter".to_owned());
    }
    if policy.digit_required && !password.chars().any(|c| c.is_ascii_digit()) {
        broken.push("a digit".to_owned());
    }
    if policy.symbol_required && !password.chars().any(|c| !c.is_alphanumeric()) {
        broken.push("a symbol".to_owned());
    }
    let lower = password.to_lowercase();
    if policy.excluded_keywords.iter().any(|k| !k.is_empty() && lower.contains(&k.to_lowercase())) {
        broken.push("none of the excluded keywords".to_owned());
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Invalid::new(reason::PASSWORD_POLICY_VIOLATED, format!("the password must contain {}", broken.join(", "))))
    }
}

/// The policy as sentences a person reads before choosing a password.
pub fn describe_policy(policy: &PasswordPolicy) -> Vec<String> {
    let mut rules = vec![format!("At least {} characters.", policy.min_length)];
    let mut needs = Vec::new();
    if policy.uppercase_required {
        needs.push("an upper-case letter");
    }
    if policy.lowercase_required {
        needs.push("a lower-case letter");
    }
    if policy.alphabet_required {
        needs.push("a letter");
    }
    if policy.digit_required {
        needs.push("a digit");
    }
    if policy.symbol_required {
        needs.push("a symbol");
    }
    if !needs.is_empty() {
        rules.push(format!("Contains {}.", needs.join(", ")));
    }
    if !policy.excluded_keywords.is_empty() {
        rules.push("Does not contain the name of this service or other common words.".into());
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let mut p = PasswordPolicy::default();
        assert!(check_policy(&p, "short").is_err());
        assert!(check_policy(&p, "long enough").is_ok());
        p.digit_required = true;
        p.uppercase_required = true;
        let err = check_policy(&p, "long enough").unwrap_err();
        assert!(err.message.contains("a digit"));
        assert!(err.message.contains("upper-case"));
    }
}

/// Rules a new password must follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters (Argon2 input is bounded).
    pub max_length: usize,
    /// At least one upper-case letter.
    pub uppercase_required: bool,
    /// At least one lower-case letter.
    pub lowercase_required: bool,
    /// At least one letter.
    pub alphabet_required: bool,
    /// At least one digit.
    pub digit_required: bool,
    /// At least one character that is neither a letter nor a digit.
    pub symbol_required: bool,
    /// Words a password must not contain (case-insensitive).
    pub excluded_keywords: Vec<String>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 256,
            uppercase_required: false,
            lowercase_required: false,
            alphabet_required: false,
            digit_required: false,
            symbol_required: false,
            excluded_keywords: Vec::new(),
        }
    }
}
