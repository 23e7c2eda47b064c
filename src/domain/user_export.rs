//! The request of a user export (Authgear's `POST /_api/admin/users/export` body, plus
//! the `users` list's filters and the password-hash option) and the CSV rules: field
//! pointers, field names, default fields and cell quoting.

use crate::domain::text::quoted;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Invalid;
use super::reason;
use super::text::{check_list, check_text};

/// Most CSV fields one export may list.
pub const MAX_CSV_FIELDS: usize = 200;

/// Longest JSON pointer or field name accepted.
pub const MAX_POINTER: usize = 256;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON record per line, each ended by `\n` (`application/x-ndjson`).
    Ndjson,
    /// RFC 4180 CSV: a header, then one row per record (`text/csv`).
    Csv,
}

impl ExportFormat {
    /// The request's spelling, also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }

    /// The `Content-Type` of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The format named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ndjson" => Some(Self::Ndjson),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// One CSV column: a JSON pointer into the record and, optionally, its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvField {
    /// RFC 6901 pointer with at least one non-empty reference token, e.g. `/address/formatted`.
    pub pointer: String,
    /// The header; default: the pointer's tokens joined by `.` (`address.formatted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
}

/// The `csv` object of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// The columns, in order.
    pub fields: Vec<CsvField>,
}

/// What to export and how: Authgear's request, with the `users` list's filters and the
/// password-hash option as extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `ndjson` or `csv`.
    pub format: ExportFormat,
    /// CSV columns; without it a CSV export has the default columns ([`default_csv_fields`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvOptions>,
    /// The `users` list's keyword: a user ID or login ID exactly, or a prefix of an email,
    /// username, phone number or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_keyword: Option<String>,
    /// Only users having all these roles (directly or through a group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_keys: Vec<String>,
    /// Only users in all these groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_keys: Vec<String>,
    /// Only disabled (true) or enabled (false) users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_disabled: Option<bool>,
    /// Add each user's password hashes (`password`, `mfa.password`); needs the scope
    /// `user:export-password-hashes`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_password_hashes: bool,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// A value is malformed or out of range.
    Invalid(Invalid),
    /// Two columns would have the same header (Authgear's `UserExportNonUniqueFieldNames`);
    /// every header, in order.
    NonUniqueFieldNames(Vec<String>),
}

impl From<Invalid> for RequestError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

impl From<RequestError> for Invalid {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Invalid(i) => i,
            RequestError::NonUniqueFieldNames(names) => Invalid::new(
                reason::USER_EXPORT_NON_UNIQUE_FIELD_NAMES,
                format!("field names are not unique: {}", names.join(", ")),
            ),
        }
    }
}

/// The reference tokens of an RFC 6901 pointer with at least one token, none empty.
pub fn pointer_tokens(pointer: &str) -> Result<Vec<String>, Invalid> {
    let bad = |why: &str| {
        Invalid::new(
            reason::VALIDATION_FAILED,
            format!("csv.fields: the pointer {} is not valid: {why}", quoted(pointer)),
        )
    };
    if pointer.len() > MAX_POINTER {
        return Err(bad(&format!("it is longer than {MAX_POINTER} bytes")));
    }
    if pointer.chars().any(char::is_control) {
        return Err(bad("it must not contain control characters"));
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad("it must start with `/`"));
    };
    let mut tokens = Vec::new();
    for raw in rest.split('/') {
        if raw.is_empty() {
            return Err(bad("every reference token must be non-empty"));
        }
        let mut token = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some('0') => token.push('~'),
                    Some('1') => token.push('/'),
                    _ => return Err(bad("`~` must be followed by 0 or 1")),
                }
            } else {
                token.push(c);
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// Authgear's default CSV columns, with `family_name` added (Authgear's list lacks it), and
/// `password.type` and `password.password_hash` when hashes are included.
pub fn default_csv_fields(include_password_hashes: bool) -> Vec<CsvField> {
    let mut pointers = vec![
        "/sub",
        "/preferred_username",
        "/email",
        "/phone_number",
        "/email_verified",
        "/phone_number_verified",
        "/name",
        "/given_name",
        "/family_name",
        "/middle_name",
        "/nickname",
        "/profile",
        "/picture",
        "/website",
        "/gender",
        "/birthdate",
        "/zoneinfo",
        "/locale",
        "/address/formatted",
        "/address/street_address",
        "/address/locality",
        "/address/region",
        "/address/postal_code",
        "/address/country",
        "/roles",
        "/groups",
        "/disabled",
        "/identities",
        "/mfa/emails",
        "/mfa/phone_numbers",
        "/mfa/totps",
        "/biometric_count",
        "/passkey_count",
    ];
    if include_password_hashes {
        pointers.extend(["/password/type", "/password/password_hash"]);
    }
    pointers.into_iter().map(|p| CsvField { pointer: p.to_owned(), field_name: None }).collect()
}

impl ExportRequest {
    /// Checks every value; for a CSV export, also that the headers are unique.
    pub fn validate(&self) -> Result<(), RequestError> {
        if let Some(kw) = &self.search_keyword {
            check_text("search_keyword", kw)?;
        }
        check_list("role_keys", self.role_keys.len())?;
        check_list("group_keys", self.group_keys.len())?;
        for k in self.role_keys.iter().chain(&self.group_keys) {
            check_text("role_keys/group_keys", k)?;
        }
        match (&self.csv, self.format) {
            (Some(_), ExportFormat::Ndjson) => {
                return Err(Invalid::new(reason::VALIDATION_FAILED, "`csv` applies only to the csv format").into());
            }
            (Some(csv), ExportFormat::Csv) if csv.fields.is_empty() => {
                return Err(Invalid::new(reason::VALIDATION_FAILED, "csv.fields must not be empty").into());
            }
            (Some(csv), ExportFormat::Csv) if csv.fields.len() > MAX_CSV_FIELDS => {
                return Err(Invalid::new(
                    reason::VALIDATION_FAILED,
                    format!("csv.fields may hold at most {MAX_CSV_FIELDS} fields"),
                )
                .into());
            }
            _ => {}
        }
        if self.format == ExportFormat::Csv {
            self.csv_headers()?;
        }
        Ok(())
    }

    /// The CSV columns: the requested ones, or the defaults.
    pub fn csv_fields(&self) -> Vec<CsvField> {
        match &self.csv {
            Some(csv) => csv.fields.clone(),
            None => default_csv_fields(self.include_password_hashes),
        }
    }

    /// The CSV header, in column order; fails on a bad pointer or a repeated name.
    pub fn csv_headers(&self) -> Result<Vec<String>, RequestError> {
        let mut names = Vec::new();
        for f in self.csv_fields() {
            let tokens = pointer_tokens(&f.pointer)?;
            let name = match &f.field_name {
                Some(n) => {
                    check_text("csv.fields.field_name", n)?;
                    if n.len() > MAX_POINTER {
                        return Err(Invalid::new(
                            reason::VALIDATION_FAILED,
                            format!("csv.fields.field_name may be at most {MAX_POINTER} bytes"),
                        )
                        .into());
                    }
                    n.clone()
                }
                None => tokens.join("."),
            };
            names.push(name);
        }
        let mut seen = std::collections::HashSet::new();
        if names.iter().any(|n| !seen.insert(n.as_str())) {
            return Err(RequestError::NonUniqueFieldNames(names));
        }
        Ok(names)
    }
}

/// A record's value at a pointer as CSV text: strings as they are, numbers and booleans
/// as JSON writes them, null and missing values empty, arrays and objects as compact JSON.
pub fn csv_cell(record: &Value, pointer: &str) -> String {
    match record.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => v.to_string(),
    }
}

/// Appends one CSV row (RFC 4180, `\n` line ends as Go's `encoding/csv` writes them):
/// a cell is quoted when it holds a comma, a quote, CR or LF, or starts with white space.
pub fn write_csv_row<S: AsRef<str>>(out: &mut Vec<u8>, cells: &[S]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = cell.as_ref();
        let quote = cell == r"\."
            || cell.contains([',', '"', '\r', '\n'])
            || cell.chars().next().is_some_and(char::is_whitespace);
        if quote {
            out.push(b'"');
            for b in cell.bytes() {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_need_a_slash_and_non_empty_tokens() {
        assert_eq!(pointer_tokens("/address/formatted").unwrap(), ["address", "formatted"]);
        assert_eq!(pointer_tokens("/a~1b/c~0d").unwrap(), ["a/b", "c~d"]);
        for bad in ["", "/", "sub", "/a//b", "/a/", "/a~2", "/roles\0", "/a\u{7}b"] {
            assert!(pointer_tokens(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers_default_to_the_joined_tokens_and_must_be_unique() {
        let mut r: ExportRequest = serde_json::from_value(json!({
            "format": "csv", "csv": {"fields": [{"pointer": "/sub", "field_name": "user_id"}, {"pointer": "/roles/0"}]}
        }))
        .unwrap();
        assert_eq!(r.csv_headers().unwrap(), ["user_id", "roles.0"]);
        r.csv = Some(CsvOptions {
            fields: vec![
                CsvField { pointer: "/sub".into(), field_name: None },
                CsvField { pointer: "/email".into(), field_name: Some("sub".into()) },
            ],
        });
        assert_eq!(r.validate(), Err(RequestError::NonUniqueFieldNames(vec!["sub".into(), "sub".into()])));
    }

    #[test]
    fn unknown_keys_and_formats_are_refused() {
        assert!(serde_json::from_value::<ExportRequest>(json!({"format": "xml"})).is_err());
        assert!(serde_json::from_value::<ExportRequest>(json!({"format": "csv", "extra": 1})).is_err());
        assert!(serde_json::from_value::<ExportRequest>(json!({})).is_err());
        let ndjson_with_csv: ExportRequest =
            serde_json::from_value(json!({"format": "ndjson", "csv": {"fields": [{"pointer": "/sub"}]}})).unwrap();
        assert!(ndjson_with_csv.validate().is_err());
    }

    #[test]
    fn cells_follow_authgears_rules_and_rows_quote_as_rfc4180() {
        let rec = json!({"sub": "u1", "roles": ["a", "b"], "address": {"formatted": "1 Road, HK"}, "n": 3, "ok": true, "x": null});
        assert_eq!(csv_cell(&rec, "/sub"), "u1");
        assert_eq!(csv_cell(&rec, "/roles"), r#"["a","b"]"#);
        assert_eq!(csv_cell(&rec, "/roles/1"), "b");
        assert_eq!(csv_cell(&rec, "/n"), "3");
        assert_eq!(csv_cell(&rec, "/ok"), "true");
        assert_eq!(csv_cell(&rec, "/x"), "");
        assert_eq!(csv_cell(&rec, "/missing/deep"), "");
        let mut out = Vec::new();
        write_csv_row(&mut out, &["u1", r#"["a","b"]"#, "1 Road, HK", "", " lead", "plain"]);
        assert_eq!(String::from_utf8(out).unwrap(), "u1,\"[\"\"a\"\",\"\"b\"\"]\",\"1 Road, HK\",,\" lead\",plain\n");
    }
}
