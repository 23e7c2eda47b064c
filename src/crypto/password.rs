//! Argon2id password hashing on a bounded pool of low-priority threads (see
//! [`super::hash_threads`]); verification also accepts the foreign hashes of imported
//! users (see [`super::foreign_hash`]).

use std::sync::Arc;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

use super::foreign_hash::StoredHash;
use super::hash_threads::{HashThreads, argon2_into};

/// Hashes and verifies passwords with Argon2id (m=19456 KiB, t=2, p=1).
///
/// At most one hash per CPU core runs at a time, on threads of its own below the request
/// threads' priority, so that password work can neither starve the async executor nor
/// exhaust memory. The threads start with the first hash.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Slots of the pool.
    concurrency: usize,
    /// Hashes waiting for a slot (the queue depth that metrics report).
    queued: Arc<AtomicUsize>,
    /// The threads, once a hash has run.
    threads: Arc<tokio::sync::OnceCell<HashThreads>>,
    /// Hash of a random password, checked when a login ID is unknown. Made on first use,
    /// so start-up stays fast and small.
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
}

/// Hashing failed for an internal reason (never because of the password itself).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn argon2() -> Argon2<'static> {
    // These parameters are constants that Params::new accepts.
    #[allow(clippy::expect_used)]
    let params = Params::new(19_456, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_sync(password: &[u8]) -> Result<String, HashError> {
    let raw_salt = super::random_bytes::<16>();
    let salt = SaltString::encode_b64(&raw_salt).map_err(|e| HashError(e.to_string()))?;
    let argon = argon2();
    let mut out = [0u8; 32];
    argon2_into(&argon, password, &raw_salt, &mut out).map_err(|e| HashError(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| HashError(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| HashError(e.to_string()))?),
    };
    Ok(phc.to_string())
}

impl PasswordHasher {
    /// A hasher allowing `concurrency` hashes at once (default: the number of cores).
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            queued: Arc::default(),
            threads: Arc::default(),
            dummy_hash: Arc::default(),
        }
    }

    /// Hashes waiting for a slot, and hashes running.
    pub fn load(&self) -> (usize, usize) {
        (self.queued.load(Ordering::Relaxed), self.concurrency.saturating_sub(self.permits.available_permits()))
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        /// Counts a waiter until it gets its slot or gives up (its future dropped).
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let threads = self
            .threads
            .get_or_try_init(|| async { HashThreads::start(self.concurrency) })
            .await
            .map_err(|e| HashError(format!("could not start the password-hash threads: {e}")))?;
        self.queued.fetch_add(1, Ordering::Relaxed);
        let waiting = Queued(&self.queued);
        let permit = Arc::clone(&self.permits).acquire_owned().await;
        drop(waiting);
        let permit = permit.map_err(|e| HashError(e.to_string()))?;
        // The slot is given back when the hash ends, even if the caller stopped waiting.
        threads
            .run(move || {
                let out = f();
                drop(permit);
                out
            })
            .await
            .ok_or_else(|| HashError("a password-hash thread failed".to_owned()))
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash_sync(password.as_bytes())).await?
    }

    /// Verifies a password against any stored form: the server's Argon2id, or a foreign
    /// hash of an imported user (bcrypt, Argon2, scrypt, Firebase scrypt, PBKDF2, salted
    /// SHA-2), on the hash threads with constant-time comparisons. A stored hash in no
    /// known form matches nothing. With `None` it checks a dummy hash so that an unknown
    /// user takes as long as a known one, and returns false.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc = match phc {
            Some(phc) => phc,
            None => {
                let random = super::b64(super::random_bytes::<16>());
                self.dummy_hash.get_or_try_init(|| self.hash(random)).await?.clone()
            }
        };
        let ok = self.run(move || StoredHash::parse(&phc).is_ok_and(|h| h.verify(password.as_bytes()))).await?;
        Ok(ok && known)
    }

    /// Whether a stored hash that a password just matched should be replaced by a fresh
    /// hash of that password: a foreign hash, or an Argon2 hash with other parameters than
    /// the server's (Argon2id v19, m=19456 KiB, t=2, p=1, 32 bytes).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        StoredHash::parse(stored).is_ok_and(|h| h.needs_rehash())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[tokio::test]
    async fn hashes_verify_in_kept_memory_on_low_priority_threads() {
        let hasher = PasswordHasher::new(2);
        let first = hasher.hash("correct horse".to_owned()).await.unwrap();
        let second = hasher.hash("correct horse".to_owned()).await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        // argon2's own verifier, with memory of its own, agrees with the kept-memory hash.
        let parsed = PasswordHash::new(&first).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        // Each thread's memory holds the previous hash's blocks: the answers stay right.
        for _ in 0..3 {
            for phc in [&first, &second] {
                assert!(hasher.verify("correct horse".to_owned(), Some(phc.clone())).await.unwrap());
                assert!(!hasher.verify("correct horsf".to_owned(), Some(phc.clone())).await.unwrap());
            }
        }
        assert!(!hasher.verify("correct horse".to_owned(), None).await.unwrap(), "no stored hash matches nothing");
        let ours = rustix::process::getpriority_process(None).unwrap();
        let theirs = hasher.run(|| rustix::process::getpriority_process(None).ok()).await.unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(theirs, Some((ours + 10).min(19)), "hashes run below the request threads' priority");
        }
        assert_eq!(hasher.load(), (0, 0), "every slot is free again");
    }
}
