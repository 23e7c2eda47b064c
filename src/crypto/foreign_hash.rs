//! TEMPORARY stand-in until the foreign-hash module lands: the `password` object of an
//! import record, accepting only hashes the server itself verifies.

/// The `password` object of an import record.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedPassword {
    /// The hash's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The hash.
    pub password_hash: String,
    /// A salt kept beside the hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// When the password expires.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub expire_after: Option<time::OffsetDateTime>,
}

/// A hash that cannot be imported.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForeignHashError(pub String);

impl ImportedPassword {
    /// What goes into the authenticator's `password_hash`.
    pub fn stored_form(&self) -> Result<String, ForeignHashError> {
        match self.kind.as_str() {
            "argon2" if self.password_hash.starts_with("$argon2") => Ok(self.password_hash.clone()),
            "bcrypt" if self.password_hash.starts_with("$2") => Ok(self.password_hash.clone()),
            k => Err(ForeignHashError(format!("unsupported password type `{k}`"))),
        }
    }
}
