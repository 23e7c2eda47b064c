//! Admin API tokens whose signature this process has verified.
//!
//! A dashboard sends the same bearer token with every request until it expires; checking
//! its RSA or ECDSA signature again each time cost some 6 % of a page of users. A token
//! verified once is remembered with its claims and the key that signed it. A remembered
//! token is taken as verified only while that key still verifies here (not removed, not
//! retired) and the token is inside its lifetime with the same leeway as a full check.
//! The deletion of its application is checked on every request (from the applications
//! cache). Its revocation is looked up again only when the revocations' change generation
//! has moved since it was last found not revoked: at once after a revocation made by this
//! process, within a poll (a quarter of a second) after one made by another.

use std::collections::HashMap;
use std::sync::Mutex;

use super::signing_keys::AccessClaims;

/// Most tokens remembered; the set starts over when it is full.
const CAPACITY: usize = 1024;

/// A verified token: the `kid` of its key, its claims, and the revocations' generation
/// at which it was last found not revoked.
type Verified = (Box<str>, AccessClaims, Option<i64>);

/// Verified tokens, by their text.
#[derive(Default)]
pub(in crate::service) struct AdminTokens(Mutex<HashMap<Box<str>, Verified>>);

impl AdminTokens {
    /// The key ID and the claims of `token`, if it was verified here.
    pub(in crate::service) fn get(&self, token: &str) -> Option<Verified> {
        self.0.lock().ok()?.get(token).cloned()
    }

    /// Remembers `token`, verified with the key `kid`.
    pub(in crate::service) fn put(&self, token: &str, kid: &str, claims: &AccessClaims) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(token.into(), (kid.into(), claims.clone(), None));
    }

    /// Records that `token` (remembered) was found not revoked with the revocations'
    /// generation at `generation`, read before the lookup.
    pub(in crate::service) fn not_revoked(&self, token: &str, generation: i64) {
        if let Ok(mut map) = self.0.lock()
            && let Some(v) = map.get_mut(token)
        {
            v.2 = Some(generation);
        }
    }
}
