//! Free text and list limits that apply to every input.

use crate::domain::reason;
use serde_json::Value;

use super::Invalid;

/// Most items a list argument may hold (IDs, keys, addresses).
pub const MAX_LIST: usize = 1_000;

/// Longest free text accepted (names, descriptions, reasons, keywords).
pub const MAX_TEXT: usize = 4_096;

/// The one character no text input may hold anywhere: NUL (U+0000). PostgreSQL cannot
/// store it in `text` or `jsonb`, so the request edges (OAuth parameters, Auth UI forms
/// and query strings, Admin API arguments and variables) refuse it before anything runs,
/// and both databases answer the same 4xx. Other control characters are valid text for
/// the database; fields that store free text refuse them with [`check_text`].
pub const FORBIDDEN_CHAR: char = '\0';

/// Whether `s` holds [`FORBIDDEN_CHAR`].
pub fn has_forbidden_char(s: &str) -> bool {
    s.contains(FORBIDDEN_CHAR)
}

/// Refuses control characters (other than tab and line breaks) and over-long text.
/// PostgreSQL cannot store NUL in text or JSON, so without this check a stray `\0`
/// would fail deep in the database instead of as bad input.
pub fn check_text(field: &str, s: &str) -> Result<(), Invalid> {
    if s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(Invalid::new(reason::INVALID_TEXT, format!("{field} must not contain control characters")));
    }
    if s.len() > MAX_TEXT {
        return Err(Invalid::new(reason::INVALID_TEXT, format!("{field} must be at most {MAX_TEXT} bytes")));
    }
    Ok(())
}

/// [`check_text`] for every string and key inside a JSON value.
pub fn check_json_text(field: &str, v: &Value) -> Result<(), Invalid> {
    match v {
        Value::String(s) => check_text(field, s),
        Value::Array(items) => items.iter().try_for_each(|i| check_json_text(field, i)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_text(field, k)?;
            check_json_text(field, v)
        }),
        _ => Ok(()),
    }
}

/// Most characters of an input that an error message quotes.
pub const MAX_QUOTED: usize = 80;

/// `input` as an error message quotes it: in backticks, control characters shown as
/// `\u{…}` escapes, and clipped to [`MAX_QUOTED`] characters (with `…`), so that a
/// megabyte of bad input gives a short message.
pub fn quoted(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(MAX_QUOTED * 2) + 2);
    out.push('`');
    for (i, c) in input.chars().enumerate() {
        if i == MAX_QUOTED {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// Refuses lists longer than [`MAX_LIST`].
pub fn check_list(field: &str, len: usize) -> Result<(), Invalid> {
    if len > MAX_LIST {
        return Err(Invalid::new(reason::TOO_MANY_ITEMS, format!("{field} may hold at most {MAX_LIST} items")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(check_text("name", "Ann\nLee\t").is_ok());
        assert!(check_text("name", "a\0b").is_err());
        assert!(check_json_text("attrs", &serde_json::json!({"a": ["x\u{1}"]})).is_err());
        assert!(check_list("ids", 1_001).is_err());
        assert!(has_forbidden_char("a\0b"));
        assert!(!has_forbidden_char("a\r\n\u{1}b"));
    }

    #[test]
    fn quoted_input_is_short_and_printable() {
        assert_eq!(quoted("ann@x"), "`ann@x`");
        assert_eq!(quoted("a\u{7}b"), "`a\\u{7}b`");
        let long = "x".repeat(1_000_000);
        let q = quoted(&long);
        assert_eq!(q.chars().count(), MAX_QUOTED + 3, "{q}");
        assert!(q.ends_with("…`"));
    }
}
