//! Value types with parse constructors: the only places that validate input formats.

pub mod attributes;
pub mod device_info;
pub mod ids;
pub mod key;
pub mod login_id;
pub mod oauth;
pub mod password;
pub mod phone_country;
pub mod reason;
pub mod scope;
pub mod text;
pub mod user_agent;
pub mod user_export;

/// A validation failure: `reason` is machine-readable, `message` tells a person what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Machine-readable reason, e.g. `InvalidEmail`.
    pub reason: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Invalid {
    /// Builds a validation failure.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}
