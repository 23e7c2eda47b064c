//! Biometric sign-in (Authgear's `identity.biometric`): an app keeps a key pair behind the
//! phone's Face ID or fingerprint and signs in with it.

use serde::{Deserialize, Serialize};

/// Biometric sign-in for apps: the grant
/// `urn:authgear:params:oauth:grant-type:biometric-request`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BiometricConfig {
    /// Whether first-party SPA, native and traditional web applications may set up and
    /// use biometric sign-in (off by default, as in Authgear).
    pub enabled: bool,
}
