//! Role and group keys.

use super::Invalid;
use crate::domain::reason;
use crate::domain::text::quoted;

/// Validates a role or group key: `^[a-zA-Z_][a-zA-Z0-9:_]*$`, 1 to 40 characters,
/// and not in the reserved `authgraph:` or `authgear:` namespaces.
pub fn validate_key(what: &str, key: &str) -> Result<(), Invalid> {
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '_');
    if !first_ok || !rest_ok || key.len() > 40 {
        return Err(Invalid::new(
            reason::INVALID_KEY,
            format!("{what} key {} must be 1 to 40 characters matching ^[a-zA-Z_][a-zA-Z0-9:_]*$", quoted(key)),
        ));
    }
    if key.starts_with("authgraph:") || key.starts_with("authgear:") {
        return Err(Invalid::new(reason::RESERVED_KEY, format!("{what} key {} uses a reserved prefix", quoted(key))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_key;

    #[test]
    fn keys() {
        assert!(validate_key("role", "admin").is_ok());
        assert!(validate_key("role", "_a:b_1").is_ok());
        assert!(validate_key("role", "1abc").is_err());
        assert!(validate_key("role", "").is_err());
        assert!(validate_key("role", "a-b").is_err());
        assert!(validate_key("role", &"a".repeat(41)).is_err());
        assert!(validate_key("role", "authgear:x").is_err());
    }
}
