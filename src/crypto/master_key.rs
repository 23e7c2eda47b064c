//! The server's master key: AES-256-GCM encryption of secrets at rest (signing keys).

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;

use super::{b64, b64_decode, random_bytes, sha256};

/// A 256-bit key that encrypts secrets stored in the database.
pub struct MasterKey {
    key: LessSafeKey,
    mac: hmac::Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Why a master key could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The key text is not base64url of 32 bytes.
    #[error("the master key must be base64url (no padding) of 32 bytes")]
    Malformed,
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Decryption failed: wrong master key or corrupted data.
    #[error("cannot decrypt: wrong master key or corrupted data")]
    Decrypt,
}

impl MasterKey {
    /// Parses base64url text of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = b64_decode(text.trim()).ok_or(MasterKeyError::Malformed)?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| MasterKeyError::Malformed)?;
        if bytes.len() != 32 {
            return Err(MasterKeyError::Malformed);
        }
        // A separate key for MACs, derived so that it never equals the encryption key.
        let mut material = b"authgraph mac key\0".to_vec();
        material.extend_from_slice(&bytes);
        let mac = hmac::Key::new(hmac::HMAC_SHA256, &sha256(&material));
        Ok(Self { key: LessSafeKey::new(key), mac })
    }

    /// Reads the key from `path`; `None` if the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, MasterKeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Self::parse(&text)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MasterKeyError::Io { path: path.display().to_string(), source: e }),
        }
    }

    /// Creates the file `path` (mode 0600) with a new random key; if another process
    /// created it first, reads that one. Returns the key and whether it was created.
    pub fn create(path: &Path) -> Result<(Self, bool), MasterKeyError> {
        let text = b64(random_bytes::<32>());
        match write_private(path, &text) {
            Ok(()) => Ok((Self::parse(&text)?, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match Self::load(path)? {
                Some(key) => Ok((key, false)),
                None => Err(MasterKeyError::Io { path: path.display().to_string(), source: e }),
            },
            Err(e) => Err(MasterKeyError::Io { path: path.display().to_string(), source: e }),
        }
    }

    /// Reads the key from `path`, or creates the file (mode 0600) with a new random key.
    /// Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), MasterKeyError> {
        match Self::load(path)? {
            Some(key) => Ok((key, false)),
            None => Self::create(path),
        }
    }

    /// Encrypts `plaintext`; the output is nonce || ciphertext || tag.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        // Sealing only fails for inputs longer than the GCM limit (64 GiB).
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::empty(), &mut buf)
            .expect("AES-GCM seal");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// HMAC-SHA256 of `data` under a key derived from the master key, separated by
    /// `purpose` so that a MAC made for one use never verifies for another.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(purpose.as_bytes());
        ctx.update(b"\0");
        ctx.update(data);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Decrypts the output of [`MasterKey::encrypt`].
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        if data.len() < NONCE_LEN {
            return Err(MasterKeyError::Decrypt);
        }
        let (nonce, ct) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| MasterKeyError::Decrypt)?;
        let mut buf = ct.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).map_err(|_| MasterKeyError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let (k, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let sealed = k.encrypt(b"secret");
        let (k2, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k2.decrypt(&sealed).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let other = MasterKey::parse(&b64([7u8; 32])).unwrap();
        assert!(other.decrypt(&sealed).is_err());
    }
}
