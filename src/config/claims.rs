//! Custom token claims without code: a mapping from a user's attributes, roles and groups
//! to extra claims in access tokens and ID tokens. It runs before the
//! `oidc.jwt.pre_create` and `oidc.id_token.pre_create` hooks, which see its claims.

use serde::{Deserialize, Serialize};

use super::{ConfigError, CustomAttribute};

/// Claims a mapping may not set: the ones the server itself decides.
const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "amr",
    "acr",
    "sid",
    "nonce",
    "at_hash",
    "c_hash",
    "scope",
    "client_id",
    "azp",
    "typ",
    "cnf",
];

/// Which tokens a claim goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The JWT access token.
    AccessToken,
    /// The ID token.
    IdToken,
}

/// One extra claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomClaim {
    /// The claim's name in the token, e.g. `department` or `https://example.com/tier`.
    pub claim: String,
    /// Where its value comes from: `standard_attributes.<name>`, `custom_attributes.<name>`,
    /// `roles` (the effective role keys) or `groups` (the group keys). A missing value
    /// leaves the claim out.
    pub from: String,
    /// The tokens it goes into (default both).
    #[serde(default = "both")]
    pub tokens: Vec<TokenKind>,
}

fn both() -> Vec<TokenKind> {
    vec![TokenKind::AccessToken, TokenKind::IdToken]
}

/// Where a claim's value comes from, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimSource {
    /// A standard attribute.
    Standard(String),
    /// A custom attribute.
    Custom(String),
    /// The effective role keys.
    Roles,
    /// The group keys.
    Groups,
}

impl CustomClaim {
    /// The parsed `from`.
    pub fn source(&self) -> Option<ClaimSource> {
        match self.from.as_str() {
            "roles" => Some(ClaimSource::Roles),
            "groups" => Some(ClaimSource::Groups),
            other => {
                if let Some(n) = other.strip_prefix("standard_attributes.") {
                    (!n.is_empty()).then(|| ClaimSource::Standard(n.to_owned()))
                } else {
                    other
                        .strip_prefix("custom_attributes.")
                        .filter(|n| !n.is_empty())
                        .map(|n| ClaimSource::Custom(n.to_owned()))
                }
            }
        }
    }
}

/// Checks the mapping.
pub fn validate(claims: &[CustomClaim], custom: &[CustomAttribute]) -> Result<(), ConfigError> {
    let bad = |i: usize, k: &str, msg: &str| Err(ConfigError(format!("`custom_claims[{i}].{k}`: {msg}")));
    let mut seen = std::collections::HashSet::new();
    for (i, c) in claims.iter().enumerate() {
        if c.claim.is_empty() || c.claim.len() > 200 || c.claim.chars().any(char::is_control) {
            return bad(i, "claim", "must be a name of 1 to 200 characters");
        }
        if RESERVED.contains(&c.claim.as_str()) || c.claim.starts_with("https://authgear.com/claims/") {
            return bad(i, "claim", "is a claim the server sets itself");
        }
        if c.tokens.is_empty() {
            return bad(i, "tokens", "lists no token (access_token, id_token)");
        }
        for t in &c.tokens {
            if !seen.insert((c.claim.clone(), *t)) {
                return bad(i, "claim", "is mapped twice for one token");
            }
        }
        match c.source() {
            None => {
                return bad(i, "from", "must be standard_attributes.<name>, custom_attributes.<name>, roles or groups");
            }
            Some(ClaimSource::Custom(name)) if !custom.iter().any(|a| a.name() == name) => {
                return bad(i, "from", "names a custom attribute that `custom_attributes` does not declare");
            }
            Some(_) => {}
        }
    }
    Ok(())
}
