//! What a process remembers of its upstream providers: each provider's endpoints (from
//! discovery) and each key set, for an hour. A sign-in then makes no back-channel call
//! before the code exchange. An ID token signed with a key the cached set does not hold
//! fetches the set again (the provider rotated its keys); such refetches happen at most
//! once per [`REFETCH_FLOOR`] per set, so that forged key IDs cannot make the server
//! hammer a provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

use super::upstream::Endpoints;

/// How long endpoints and key sets are used before they are fetched again.
pub(in crate::service) const TTL: Duration = Duration::from_secs(3600);

/// The shortest time between two refetches of one key set for an unknown key ID.
pub(in crate::service) const REFETCH_FLOOR: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Entry<T> {
    fetched: Instant,
    /// When the value was last fetched again for a key ID it lacked.
    refetched: Option<Instant>,
    value: T,
}

/// The cache; one per process, shared by every request.
#[derive(Debug, Default)]
pub(in crate::service) struct ProviderCache {
    endpoints: Mutex<HashMap<String, Entry<Endpoints>>>,
    key_sets: Mutex<HashMap<String, Entry<Arc<JwkSet>>>>,
}

impl ProviderCache {
    /// The endpoints of the provider `alias`, when fetched less than [`TTL`] ago.
    pub(super) fn endpoints(&self, alias: &str) -> Option<Endpoints> {
        let map = self.endpoints.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(alias).filter(|e| e.fetched.elapsed() < TTL).map(|e| e.value.clone())
    }

    /// Remembers the endpoints of `alias`.
    pub(super) fn put_endpoints(&self, alias: &str, value: Endpoints) {
        let mut map = self.endpoints.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(alias.to_owned(), Entry { fetched: Instant::now(), refetched: None, value });
    }

    /// The key set at `uri`, when fetched less than [`TTL`] ago.
    pub(super) fn key_set(&self, uri: &str) -> Option<Arc<JwkSet>> {
        let map = self.key_sets.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(uri).filter(|e| e.fetched.elapsed() < TTL).map(|e| Arc::clone(&e.value))
    }

    /// Whether the set at `uri` may be fetched again for a key it lacks: it never was, or
    /// not for [`REFETCH_FLOOR`].
    pub(super) fn may_refetch(&self, uri: &str) -> bool {
        let map = self.key_sets.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(uri).and_then(|e| e.refetched).is_none_or(|at| at.elapsed() >= REFETCH_FLOOR)
    }

    /// Remembers the key set at `uri`; `for_unknown_key` when it was fetched again for a
    /// key ID the kept set lacked.
    pub(super) fn put_key_set(&self, uri: &str, value: Arc<JwkSet>, for_unknown_key: bool) {
        let mut map = self.key_sets.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refetched = if for_unknown_key { Some(now) } else { map.get(uri).and_then(|e| e.refetched) };
        map.insert(uri.to_owned(), Entry { fetched: now, refetched, value });
    }
}
