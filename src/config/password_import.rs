//! Password hashes imported from other systems (`[password_import]`): the project-wide
//! parameters that some foreign hash types need besides each user's hash and salt.

use std::path::PathBuf;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, within};

/// Settings for the `password` objects of imported users.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordImportConfig {
    /// The project's parameters of Firebase's modified scrypt, as the Firebase console shows
    /// them under "Password hash parameters". Without them, records of type
    /// `firebase_scrypt` are refused.
    pub firebase_scrypt: Option<FirebaseScryptConfig>,
}

/// A Firebase project's password hash parameters (`hash_config` of the Firebase console).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirebaseScryptConfig {
    /// `base64_signer_key`, standard base64. Also read from the file `signer_key_file`.
    pub signer_key: Option<Secret>,
    /// A file holding `signer_key`.
    pub signer_key_file: Option<PathBuf>,
    /// `base64_salt_separator`, standard base64 (Firebase's is usually `Bw==`).
    pub salt_separator: String,
    /// `rounds`: scrypt's block size `r` (Firebase uses 8).
    pub rounds: u32,
    /// `mem_cost`: scrypt's `N` is `2^mem_cost` (Firebase uses 14).
    pub mem_cost: u32,
}

impl Default for FirebaseScryptConfig {
    fn default() -> Self {
        Self { signer_key: None, signer_key_file: None, salt_separator: "Bw==".into(), rounds: 8, mem_cost: 14 }
    }
}

/// Decodes standard base64, with or without padding.
fn decode(text: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(text.trim()).ok()
}

impl FirebaseScryptConfig {
    /// The signer key's bytes (after `validate`, always `Some`).
    pub fn signer_key_bytes(&self) -> Option<Vec<u8>> {
        self.signer_key.as_ref().and_then(|k| decode(k.expose())).filter(|k| !k.is_empty())
    }

    /// The salt separator's bytes (after `validate`, always `Some`).
    pub fn salt_separator_bytes(&self) -> Option<Vec<u8>> {
        decode(&self.salt_separator)
    }
}

impl PasswordImportConfig {
    /// Reads `firebase_scrypt.signer_key_file` into `signer_key`.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(f) = &mut self.firebase_scrypt
            && f.signer_key.is_none()
            && let Some(path) = &f.signer_key_file
        {
            let value = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "`password_import.firebase_scrypt.signer_key_file`: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            f.signer_key = Some(Secret::new(value.trim().to_owned()));
        }
        Ok(())
    }

    /// Checks the Firebase parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(f) = &self.firebase_scrypt else { return Ok(()) };
        let bad = |key: &str, msg: &str| Err(ConfigError(format!("`password_import.firebase_scrypt.{key}`: {msg}")));
        if f.signer_key.is_none() {
            return bad("signer_key", "is required (or `signer_key_file`): the project's base64_signer_key");
        }
        if f.signer_key_bytes().is_none() {
            return bad("signer_key", "must be standard base64 of at least one byte");
        }
        if f.salt_separator_bytes().is_none() {
            return bad("salt_separator", "must be standard base64");
        }
        within("password_import.firebase_scrypt.rounds", f.rounds, 1, 32)?;
        within("password_import.firebase_scrypt.mem_cost", f.mem_cost, 1, 20)?;
        // scrypt needs 128 · r · N bytes.
        if (128u64 * u64::from(f.rounds)) << f.mem_cost > 1 << 30 {
            return bad("mem_cost", "with these rounds scrypt would need more than 1 GiB");
        }
        Ok(())
    }
}
