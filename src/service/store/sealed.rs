//! Sealed values: JSON with an HMAC under the master key, for state a browser carries
//! between requests (the pending authorization request) so that no server process has
//! to remember it.

use crate::crypto::{b64, b64_decode, ct_eq};
use crate::service::Services;
use serde::Serialize;
use serde::de::DeserializeOwned;

impl Services {
    /// `value` as `base64url(json).base64url(mac)`, bound to `purpose`.
    pub fn seal<T: Serialize>(&self, purpose: &str, value: &T) -> String {
        let json = serde_json::to_vec(value).unwrap_or_default();
        let mac = self.master_key.mac(purpose, &json);
        format!("{}.{}", b64(&json), b64(mac))
    }

    /// The value of a sealed string, if its MAC is valid for `purpose`.
    pub fn unseal<T: DeserializeOwned>(&self, purpose: &str, sealed: &str) -> Option<T> {
        let (body, mac) = sealed.split_once('.')?;
        let json = b64_decode(body)?;
        let mac = b64_decode(mac)?;
        if !ct_eq(&self.master_key.mac(purpose, &json), &mac) {
            return None;
        }
        serde_json::from_slice(&json).ok()
    }

    /// A MAC of `data` for `purpose`, base64url (CSRF tokens).
    pub fn mac_b64(&self, purpose: &str, data: &[u8]) -> String {
        b64(self.master_key.mac(purpose, data))
    }
}
