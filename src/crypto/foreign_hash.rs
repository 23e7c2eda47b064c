//! Password hashes from other systems: an imported user signs in with the old password,
//! and the first success replaces the hash by the server's Argon2id.
//!
//! [`ImportedPassword::stored_form`] checks an import record's `password` object and turns
//! it into the text that `authenticators.password_hash` keeps; [`StoredHash`] reads that
//! text back and verifies a password against it. Each stored form names its scheme:
//!
//! | `type` | stored form |
//! |---|---|
//! | `bcrypt` | the bcrypt string itself: `$2a$`, `$2b$` or `$2y$` |
//! | `argon2` | the PHC string itself (`$argon2i$`, `$argon2d$`, `$argon2id$`), with `v=` made explicit |
//! | `scrypt` | `$authgraph-scrypt$ln=..,r=..,p=..$<salt>$<hash>` |
//! | `firebase_scrypt` | `$authgraph-firebase-scrypt$rounds=..,mem_cost=..$<separator>$<signer key>$<salt>$<hash>` |
//! | `pbkdf2_sha1`, `pbkdf2_sha256` | `$authgraph-pbkdf2-sha1$i=..$<salt>$<hash>`, `$authgraph-pbkdf2-sha256$...` |
//! | `sha256_salted`, `sha512_salted` | `$authgraph-sha256-salted$salt=before$<salt>$<digest>` (or `after`), `$authgraph-sha512-salted$...` |
//!
//! `<...>` are the raw bytes in standard base64 without padding. A `password_hash` that is
//! already a stored `$authgraph-…` form of its `type` (what an export writes, see
//! [`StoredHash::export_record`]) is taken as it is. The Firebase form carries
//! the project's parameters, so a later change of `[password_import.firebase_scrypt]`
//! cannot lock out users who have not signed in yet. Every form bounds its cost (memory,
//! iterations), checked both at import and before each verification.

use std::num::NonZeroU32;

use argon2::password_hash::PasswordHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::{Deserialize, Serialize};

use super::ct_eq;

/// The `type`s an import record's `password` object may have.
pub const TYPES: [&str; 8] =
    ["bcrypt", "argon2", "scrypt", "firebase_scrypt", "pbkdf2_sha1", "pbkdf2_sha256", "sha256_salted", "sha512_salted"];

/// The most memory one verification may take (Argon2's `m`, scrypt's `128·r·N`).
const MAX_MEMORY_BYTES: u64 = 1 << 30;
/// The highest bcrypt cost accepted (2^18 rounds: some seconds per sign-in).
const MAX_BCRYPT_COST: u32 = 18;
/// The most Argon2 passes accepted.
const MAX_ARGON2_T: u32 = 64;
/// The most PBKDF2 iterations accepted (Django 5.2 uses 1,000,000).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The most scrypt lanes accepted.
const MAX_SCRYPT_P: u32 = 16;
/// Bounds of a salt, in bytes.
const MAX_SALT: usize = 1024;
/// Bounds of a derived key (PBKDF2, scrypt), in bytes.
const MIN_KEY: usize = 16;
const MAX_KEY: usize = 128;

/// The `password` object of an import record (Authgear's, extended with more `type`s).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedPassword {
    /// One of [`TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The hash, in the form its `type` documents.
    pub password_hash: String,
    /// The user's salt, for `firebase_scrypt` (base64) and `sha256_salted`/`sha512_salted`
    /// (see `salt_encoding`); the other types carry the salt inside `password_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// When the password expires: the user must then change it at sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub expire_after: Option<time::OffsetDateTime>,
    /// `sha256_salted`/`sha512_salted`: `before` (the default: digest of salt + password)
    /// or `after` (digest of password + salt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_position: Option<String>,
    /// `sha256_salted`/`sha512_salted`: how `salt` is written: `utf8` (the default: its
    /// text is the salt), `hex` or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_encoding: Option<String>,
}

/// An import record's password was refused: the message names the type and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ForeignHashError(String);

impl ForeignHashError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// `Err` with `message` about `kind`'s `password_hash`.
fn malformed<T>(kind: &str, message: impl std::fmt::Display) -> Result<T, ForeignHashError> {
    Err(ForeignHashError::new(format!("password_hash of type {kind} is malformed: {message}")))
}

/// Decodes base64 in any common spelling: standard or URL-safe alphabet, passlib's `.`
/// for `+`, with or without padding.
fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let normal: String = text
        .chars()
        .map(|c| match c {
            '-' | '.' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    engine.decode(normal).ok()
}

fn b64(data: &[u8]) -> String {
    STANDARD_NO_PAD.encode(data)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// A digest for the salted SHA-2 types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sha {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Sha {
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }
}

/// The HMAC of a PBKDF2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Prf {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
}

impl Pbkdf2Prf {
    fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }
}

/// A stored password hash, read from `authenticators.password_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredHash {
    /// An Argon2 PHC string (the server's own hashes, and imported ones).
    Argon2(String),
    /// A bcrypt string (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt(String),
    /// scrypt with `N = 2^log_n`.
    Scrypt {
        /// log2 of `N`.
        log_n: u8,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
        /// The salt.
        salt: Vec<u8>,
        /// The derived key.
        hash: Vec<u8>,
    },
    /// Firebase's modified scrypt: the key `scrypt(password, salt + separator, N =
    /// 2^mem_cost, r = rounds, p = 1)` encrypts the signer key with AES-256-CTR.
    FirebaseScrypt {
        /// scrypt's `r`.
        rounds: u32,
        /// log2 of scrypt's `N`.
        mem_cost: u32,
        /// The project's salt separator.
        separator: Vec<u8>,
        /// The project's signer key.
        signer_key: Vec<u8>,
        /// The user's salt.
        salt: Vec<u8>,
        /// The encrypted signer key.
        hash: Vec<u8>,
    },
    /// PBKDF2.
    Pbkdf2 {
        /// The HMAC.
        prf: Pbkdf2Prf,
        /// Iterations.
        iterations: u32,
        /// The salt.
        salt: Vec<u8>,
        /// The derived key.
        hash: Vec<u8>,
    },
    /// One SHA-2 digest of the salt and the password.
    SaltedSha {
        /// The digest.
        sha: Sha,
        /// Whether the salt follows the password (else it precedes it).
        salt_after: bool,
        /// The salt.
        salt: Vec<u8>,
        /// The digest.
        hash: Vec<u8>,
    },
}

/// The server's own Argon2id parameters (see `password.rs`): m=19456 KiB, t=2, p=1.
const OWN_ARGON2: (u32, u32, u32) = (19_456, 2, 1);

impl ImportedPassword {
    /// Validates the hash for its type and returns what goes into authenticators.password_hash.
    /// An unknown type or a malformed hash is an Err with a message naming what is wrong.
    pub fn stored_form(&self, cfg: &crate::config::PasswordImportConfig) -> Result<String, ForeignHashError> {
        let kind = self.kind.as_str();
        let embeds_salt = matches!(kind, "bcrypt" | "argon2" | "scrypt" | "pbkdf2_sha1" | "pbkdf2_sha256");
        if embeds_salt && self.salt.is_some() {
            return Err(ForeignHashError::new(format!(
                "password.salt is not used by type {kind}: its password_hash carries the salt"
            )));
        }
        let salted_sha = matches!(kind, "sha256_salted" | "sha512_salted");
        if !salted_sha && (self.salt_position.is_some() || self.salt_encoding.is_some()) {
            return Err(ForeignHashError::new(format!(
                "password.salt_position and password.salt_encoding are only for sha256_salted and sha512_salted, not {kind}"
            )));
        }
        let h = self.password_hash.as_str();
        // A stored form as an export wrote it reads back unchanged (for Firebase hashes,
        // with the project's parameters it carries).
        if h.starts_with("$authgraph-") && TYPES.contains(&kind) {
            let stored = StoredHash::parse(h).map_err(|e| ForeignHashError::new(format!("password_hash: {e}")))?;
            if stored.import_type() != kind {
                return malformed(kind, format!("it is a stored {} hash", stored.import_type()));
            }
            if self.salt.is_some() {
                return Err(ForeignHashError::new("password.salt is not used with a stored $authgraph-… hash"));
            }
            return Ok(stored.encode());
        }
        let stored = match kind {
            "bcrypt" => parse_bcrypt(h, kind)?,
            "argon2" => parse_argon2(&normalize_argon2(h, kind)?, kind)?,
            "scrypt" => import_scrypt(h)?,
            "firebase_scrypt" => self.import_firebase(cfg)?,
            "pbkdf2_sha1" => import_pbkdf2(h, Pbkdf2Prf::Sha1)?,
            "pbkdf2_sha256" => import_pbkdf2(h, Pbkdf2Prf::Sha256)?,
            "sha256_salted" => self.import_salted_sha(Sha::Sha256)?,
            "sha512_salted" => self.import_salted_sha(Sha::Sha512)?,
            other => {
                return Err(ForeignHashError::new(format!(
                    "password.type {} is not supported; use one of {}",
                    shown(other),
                    TYPES.join(", ")
                )));
            }
        };
        Ok(stored.encode())
    }

    fn import_firebase(&self, cfg: &crate::config::PasswordImportConfig) -> Result<StoredHash, ForeignHashError> {
        const KIND: &str = "firebase_scrypt";
        let Some(f) = &cfg.firebase_scrypt else {
            return Err(ForeignHashError::new(
                "type firebase_scrypt needs the project's parameters in the server's config: [password_import.firebase_scrypt]",
            ));
        };
        let (Some(signer_key), Some(separator)) = (f.signer_key_bytes(), f.salt_separator_bytes()) else {
            return Err(ForeignHashError::new("[password_import.firebase_scrypt] has no valid signer_key"));
        };
        let Some(salt) = self.salt.as_deref() else {
            return Err(ForeignHashError::new("type firebase_scrypt needs password.salt (the user's base64 salt)"));
        };
        let Some(salt) = decode_lenient(salt).filter(|s| !s.is_empty()) else {
            return Err(ForeignHashError::new("password.salt of type firebase_scrypt must be non-empty base64"));
        };
        let Some(hash) = decode_lenient(&self.password_hash) else {
            return malformed(KIND, "expected base64");
        };
        if hash.len() != signer_key.len() {
            return malformed(
                KIND,
                format!(
                    "it is {} bytes but the project's signer key is {}: is [password_import.firebase_scrypt] the right project's?",
                    hash.len(),
                    signer_key.len()
                ),
            );
        }
        let stored =
            StoredHash::FirebaseScrypt { rounds: f.rounds, mem_cost: f.mem_cost, separator, signer_key, salt, hash };
        stored.check_cost(KIND)?;
        Ok(stored)
    }

    fn import_salted_sha(&self, sha: Sha) -> Result<StoredHash, ForeignHashError> {
        let kind = if sha == Sha::Sha256 { "sha256_salted" } else { "sha512_salted" };
        let salt_after = match self.salt_position.as_deref() {
            None | Some("before") => false,
            Some("after") => true,
            Some(other) => {
                return Err(ForeignHashError::new(format!(
                    "password.salt_position {} must be `before` or `after`",
                    shown(other)
                )));
            }
        };
        let Some(salt_text) = self.salt.as_deref().filter(|s| !s.is_empty()) else {
            return Err(ForeignHashError::new(format!("type {kind} needs password.salt")));
        };
        let salt = match self.salt_encoding.as_deref() {
            None | Some("utf8") => Some(salt_text.as_bytes().to_vec()),
            Some("hex") => decode_hex(salt_text),
            Some("base64") => decode_lenient(salt_text),
            Some(other) => {
                return Err(ForeignHashError::new(format!(
                    "password.salt_encoding {} must be `utf8`, `hex` or `base64`",
                    shown(other)
                )));
            }
        };
        let Some(salt) = salt.filter(|s| !s.is_empty()) else {
            return Err(ForeignHashError::new(format!(
                "password.salt is not valid {}",
                self.salt_encoding.as_deref().unwrap_or("utf8")
            )));
        };
        let h = self.password_hash.as_str();
        let hex_len = 2 * sha.len();
        let hash = if h.len() == hex_len { decode_hex(h) } else { decode_lenient(h) };
        let Some(hash) = hash.filter(|d| d.len() == sha.len()) else {
            return malformed(
                kind,
                format!("expected the {}-byte digest as {hex_len} hex digits or in base64", sha.len()),
            );
        };
        let stored = StoredHash::SaltedSha { sha, salt_after, salt, hash };
        stored.check_cost(kind)?;
        Ok(stored)
    }
}

/// Checks a bcrypt string.
fn parse_bcrypt(h: &str, kind: &str) -> Result<StoredHash, ForeignHashError> {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let b = h.as_bytes();
    if !(h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$")) {
        return malformed(kind, "expected $2a$, $2b$ or $2y$ followed by the cost");
    }
    if h.len() != 60 || b[6] != b'$' || !b[4..6].iter().all(u8::is_ascii_digit) {
        return malformed(kind, "expected 60 characters: $2b$, a two-digit cost, $, then 53 characters");
    }
    if !b[7..].iter().all(|c| ALPHABET.contains(c)) || h.parse::<bcrypt::HashParts>().is_err() {
        return malformed(kind, "the salt and hash are not in bcrypt's base64");
    }
    let cost: u32 = h[4..6].parse().unwrap_or(0);
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return malformed(kind, format!("cost {cost} is outside 4 to {MAX_BCRYPT_COST}"));
    }
    Ok(StoredHash::Bcrypt(h.to_owned()))
}

/// An Argon2 PHC string with its version made explicit: without `v=`, the reference
/// implementation means version 16 (0x10), where the Rust crate would assume 19.
fn normalize_argon2(h: &str, kind: &str) -> Result<String, ForeignHashError> {
    let mut parts = h.splitn(3, '$');
    let (Some(""), Some(alg), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return malformed(kind, "expected a PHC string such as $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>");
    };
    if rest.starts_with("v=") { Ok(h.to_owned()) } else { Ok(format!("${alg}$v=16${rest}")) }
}

/// Checks an Argon2 PHC string.
fn parse_argon2(h: &str, kind: &str) -> Result<StoredHash, ForeignHashError> {
    let Ok(phc) = PasswordHash::new(h) else {
        return malformed(kind, "expected a PHC string such as $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>");
    };
    if !["argon2i", "argon2d", "argon2id"].contains(&phc.algorithm.as_str()) {
        return malformed(kind, format!("`{}` is not argon2i, argon2d or argon2id", phc.algorithm));
    }
    if !matches!(phc.version, Some(0x10 | 0x13)) {
        return malformed(kind, "the version must be v=16 or v=19");
    }
    if phc.params.get("keyid").is_some() {
        return malformed(kind, "it was made with a secret key (keyid), which this server does not have");
    }
    let given = ["m", "t", "p"].iter().all(|k| phc.params.get(*k).is_some());
    let Some(params) = argon2::Params::try_from(&phc).ok().filter(|_| given) else {
        return malformed(kind, "m, t and p must be given and valid (m ≥ 8·p)");
    };
    if phc.salt.is_none() || phc.hash.is_none() {
        return malformed(kind, "the salt or the hash is missing");
    }
    if u64::from(params.m_cost()) * 1024 > MAX_MEMORY_BYTES || params.t_cost() > MAX_ARGON2_T {
        return malformed(kind, format!("m above {} KiB or t above {MAX_ARGON2_T}", MAX_MEMORY_BYTES / 1024));
    }
    Ok(StoredHash::Argon2(h.to_owned()))
}

/// Whether `password` gives the Argon2 hash `h`, decided as `argon2`'s own verifier does
/// (algorithm, version, parameters and output length from the PHC string), computed in the
/// thread's kept memory and compared in constant time.
fn verify_argon2(h: &PasswordHash<'_>, password: &[u8]) -> bool {
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(h.algorithm) else { return false };
    let Ok(version) = h.version.map(argon2::Version::try_from).transpose() else { return false };
    let Ok(params) = argon2::Params::try_from(h) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let argon = argon2::Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut out = vec![0u8; expected.len()];
    super::hash_threads::argon2_into(&argon, password, salt, &mut out).is_ok() && ct_eq(&out, expected.as_bytes())
}

/// Parses `a=1,b=2` into pairs.
fn params(text: &str) -> Option<Vec<(&str, u32)>> {
    text.split(',').map(|kv| kv.split_once('=').and_then(|(k, v)| Some((k, v.parse().ok()?)))).collect()
}

/// The value of `key` in `pairs`.
fn param(pairs: &[(&str, u32)], key: &str) -> Option<u32> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// A PHC scrypt string: `$scrypt$ln=..,r=..,p=..$<salt>$<hash>`.
fn import_scrypt(h: &str) -> Result<StoredHash, ForeignHashError> {
    const KIND: &str = "scrypt";
    const FORM: &str = "expected $scrypt$ln=<log2 N>,r=<r>,p=<p>$<base64 salt>$<base64 hash>";
    let fields: Vec<&str> = h.split('$').collect();
    let ["", "scrypt", ps, salt, hash] = fields.as_slice() else { return malformed(KIND, FORM) };
    let Some(pairs) = params(ps).filter(|p| p.len() == 3) else { return malformed(KIND, FORM) };
    let (Some(ln), Some(r), Some(p)) = (param(&pairs, "ln"), param(&pairs, "r"), param(&pairs, "p")) else {
        return malformed(KIND, FORM);
    };
    let (Some(salt), Some(hash)) = (decode_lenient(salt), decode_lenient(hash)) else {
        return malformed(KIND, "the salt or the hash is not base64");
    };
    let Ok(log_n) = u8::try_from(ln) else { return malformed(KIND, "ln is too large") };
    let stored = StoredHash::Scrypt { log_n, r, p, salt, hash };
    stored.check_cost(KIND)?;
    Ok(stored)
}

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (the salt is text) or the
/// PHC `$pbkdf2-sha256$i=<iterations>[,l=<length>]$<base64 salt>$<base64 hash>`, also in
/// passlib's spelling `$pbkdf2-sha256$<iterations>$...` (and `$pbkdf2$` for SHA-1).
fn import_pbkdf2(h: &str, prf: Pbkdf2Prf) -> Result<StoredHash, ForeignHashError> {
    let kind = if prf == Pbkdf2Prf::Sha1 { "pbkdf2_sha1" } else { "pbkdf2_sha256" };
    let fields: Vec<&str> = h.split('$').collect();
    let form = format!(
        "expected Django's {kind}$<iterations>$<salt>$<base64 hash> or PHC's $pbkdf2-{}$i=<iterations>$<base64 salt>$<base64 hash>",
        prf.name()
    );
    let named = |ident: &str| match ident {
        "pbkdf2_sha1" | "pbkdf2-sha1" | "pbkdf2" => Some(Pbkdf2Prf::Sha1),
        "pbkdf2_sha256" | "pbkdf2-sha256" => Some(Pbkdf2Prf::Sha256),
        _ => None,
    };
    let (ident, iterations, salt, hash) = match fields.as_slice() {
        // Django: the salt is used as its UTF-8 text.
        [ident, i, salt, hash] if ident.contains('_') => {
            (*ident, i.parse::<u32>().ok(), Some(salt.as_bytes().to_vec()), decode_lenient(hash))
        }
        ["", ident, ps, salt, hash] if !ident.contains('_') => {
            let iterations = match params(ps) {
                Some(pairs) => {
                    let l = param(&pairs, "l");
                    let known = pairs.iter().all(|(k, _)| *k == "i" || *k == "l");
                    let hash_len = decode_lenient(hash).map(|b| b.len());
                    if !known || l.is_some_and(|l| Some(l as usize) != hash_len) {
                        return malformed(kind, "the parameters must be i=<iterations> and l=<hash length>");
                    }
                    param(&pairs, "i")
                }
                None => ps.parse::<u32>().ok(),
            };
            (*ident, iterations, decode_lenient(salt), decode_lenient(hash))
        }
        _ => return malformed(kind, form),
    };
    match named(ident) {
        Some(p) if p == prf => {}
        Some(Pbkdf2Prf::Sha1) => return malformed(kind, "it is a PBKDF2-SHA1 hash: use type pbkdf2_sha1"),
        Some(Pbkdf2Prf::Sha256) => return malformed(kind, "it is a PBKDF2-SHA256 hash: use type pbkdf2_sha256"),
        None => return malformed(kind, form),
    }
    let Some(iterations) = iterations else { return malformed(kind, "the iteration count is not a number") };
    let (Some(salt), Some(hash)) = (salt, hash) else {
        return malformed(kind, "the salt or the hash is not base64");
    };
    let stored = StoredHash::Pbkdf2 { prf, iterations, salt, hash };
    stored.check_cost(kind)?;
    Ok(stored)
}

/// Splits a stored form `$<ident>$<params>$<fields...>` with exactly `n` base64 fields.
fn split_stored(rest: &str, n: usize) -> Option<(&str, Vec<Vec<u8>>)> {
    let mut parts = rest.split('$');
    let ps = parts.next()?;
    let fields: Option<Vec<Vec<u8>>> = parts.map(|f| STANDARD_NO_PAD.decode(f).ok()).collect();
    fields.filter(|f| f.len() == n).map(|f| (ps, f))
}

impl StoredHash {
    /// Reads a stored form, checking its cost bounds. Every stored form this server writes
    /// parses; anything else is an error.
    pub fn parse(stored: &str) -> Result<Self, ForeignHashError> {
        let unknown = || Err(ForeignHashError::new("the stored password hash has an unknown form"));
        if stored.starts_with("$argon2") {
            return parse_argon2(stored, "argon2");
        }
        if stored.starts_with("$2") {
            return parse_bcrypt(stored, "bcrypt");
        }
        let Some(rest) = stored.strip_prefix("$authgraph-") else { return unknown() };
        let Some((ident, rest)) = rest.split_once('$') else { return unknown() };
        let hash = match ident {
            "scrypt" => {
                let Some((ps, mut f)) = split_stored(rest, 2) else { return unknown() };
                let Some(pairs) = params(ps).filter(|p| p.len() == 3) else { return unknown() };
                let (Some(ln), Some(r), Some(p)) = (param(&pairs, "ln"), param(&pairs, "r"), param(&pairs, "p")) else {
                    return unknown();
                };
                let Ok(log_n) = u8::try_from(ln) else { return unknown() };
                let (hash, salt) = (f.remove(1), f.remove(0));
                StoredHash::Scrypt { log_n, r, p, salt, hash }
            }
            "firebase-scrypt" => {
                let Some((ps, mut f)) = split_stored(rest, 4) else { return unknown() };
                let Some(pairs) = params(ps).filter(|p| p.len() == 2) else { return unknown() };
                let (Some(rounds), Some(mem_cost)) = (param(&pairs, "rounds"), param(&pairs, "mem_cost")) else {
                    return unknown();
                };
                let hash = f.remove(3);
                let salt = f.remove(2);
                let signer_key = f.remove(1);
                let separator = f.remove(0);
                StoredHash::FirebaseScrypt { rounds, mem_cost, separator, signer_key, salt, hash }
            }
            "pbkdf2-sha1" | "pbkdf2-sha256" => {
                let prf = if ident == "pbkdf2-sha1" { Pbkdf2Prf::Sha1 } else { Pbkdf2Prf::Sha256 };
                let Some((ps, mut f)) = split_stored(rest, 2) else { return unknown() };
                let Some(iterations) = ps.strip_prefix("i=").and_then(|i| i.parse().ok()) else { return unknown() };
                let (hash, salt) = (f.remove(1), f.remove(0));
                StoredHash::Pbkdf2 { prf, iterations, salt, hash }
            }
            "sha256-salted" | "sha512-salted" => {
                let sha = if ident == "sha256-salted" { Sha::Sha256 } else { Sha::Sha512 };
                let Some((ps, mut f)) = split_stored(rest, 2) else { return unknown() };
                let salt_after = match ps {
                    "salt=before" => false,
                    "salt=after" => true,
                    _ => return unknown(),
                };
                let (hash, salt) = (f.remove(1), f.remove(0));
                StoredHash::SaltedSha { sha, salt_after, salt, hash }
            }
            _ => return unknown(),
        };
        hash.check_cost("stored")?;
        Ok(hash)
    }

    /// The import `type` this hash came in as (`argon2` for the server's own).
    pub fn import_type(&self) -> &'static str {
        match self {
            Self::Argon2(_) => "argon2",
            Self::Bcrypt(_) => "bcrypt",
            Self::Scrypt { .. } => "scrypt",
            Self::FirebaseScrypt { .. } => "firebase_scrypt",
            Self::Pbkdf2 { prf: Pbkdf2Prf::Sha1, .. } => "pbkdf2_sha1",
            Self::Pbkdf2 { prf: Pbkdf2Prf::Sha256, .. } => "pbkdf2_sha256",
            Self::SaltedSha { sha: Sha::Sha256, .. } => "sha256_salted",
            Self::SaltedSha { sha: Sha::Sha512, .. } => "sha512_salted",
        }
    }

    /// The `password` object of an export record for a stored hash: `{type,
    /// password_hash}` with the stored form itself, which an import reads back unchanged.
    /// `None` for a form this server cannot read.
    pub fn export_record(stored: &str) -> Option<ImportedPassword> {
        let hash = Self::parse(stored).ok()?;
        Some(ImportedPassword {
            kind: hash.import_type().to_owned(),
            password_hash: hash.encode(),
            salt: None,
            expire_after: None,
            salt_position: None,
            salt_encoding: None,
        })
    }

    /// The stored form ([`StoredHash::parse`] reads it back).
    pub fn encode(&self) -> String {
        match self {
            Self::Argon2(s) | Self::Bcrypt(s) => s.clone(),
            Self::Scrypt { log_n, r, p, salt, hash } => {
                format!("$authgraph-scrypt$ln={log_n},r={r},p={p}${}${}", b64(salt), b64(hash))
            }
            Self::FirebaseScrypt { rounds, mem_cost, separator, signer_key, salt, hash } => format!(
                "$authgraph-firebase-scrypt$rounds={rounds},mem_cost={mem_cost}${}${}${}${}",
                b64(separator),
                b64(signer_key),
                b64(salt),
                b64(hash)
            ),
            Self::Pbkdf2 { prf, iterations, salt, hash } => {
                format!("$authgraph-pbkdf2-{}$i={iterations}${}${}", prf.name(), b64(salt), b64(hash))
            }
            Self::SaltedSha { sha, salt_after, salt, hash } => format!(
                "$authgraph-{}-salted$salt={}${}${}",
                sha.name(),
                if *salt_after { "after" } else { "before" },
                b64(salt),
                b64(hash)
            ),
        }
    }

    /// Refuses parameters outside the bounds (cost, lengths); `kind` names the type.
    fn check_cost(&self, kind: &str) -> Result<(), ForeignHashError> {
        let salt_ok = |salt: &[u8]| !salt.is_empty() && salt.len() <= MAX_SALT;
        let key_ok = |hash: &[u8]| (MIN_KEY..=MAX_KEY).contains(&hash.len());
        match self {
            Self::Argon2(_) | Self::Bcrypt(_) => Ok(()),
            Self::Scrypt { log_n, r, p, salt, hash } => {
                if !salt_ok(salt) || !key_ok(hash) {
                    return malformed(
                        kind,
                        format!("the salt must be 1 to {MAX_SALT} bytes and the hash {MIN_KEY} to {MAX_KEY}"),
                    );
                }
                scrypt_bounds(kind, u32::from(*log_n), *r, *p)
            }
            Self::FirebaseScrypt { rounds, mem_cost, signer_key, salt, hash, .. } => {
                if !salt_ok(salt)
                    || signer_key.is_empty()
                    || signer_key.len() > MAX_KEY
                    || hash.len() != signer_key.len()
                {
                    return malformed(kind, "the salt, the signer key or the hash has a wrong length");
                }
                scrypt_bounds(kind, *mem_cost, *rounds, 1)
            }
            Self::Pbkdf2 { iterations, salt, hash, .. } => {
                if !salt_ok(salt) || !key_ok(hash) {
                    return malformed(
                        kind,
                        format!("the salt must be 1 to {MAX_SALT} bytes and the hash {MIN_KEY} to {MAX_KEY}"),
                    );
                }
                if !(1..=MAX_PBKDF2_ITERATIONS).contains(iterations) {
                    return malformed(kind, format!("the iterations must be 1 to {MAX_PBKDF2_ITERATIONS}"));
                }
                Ok(())
            }
            Self::SaltedSha { sha, salt, hash, .. } => {
                if !salt_ok(salt) || hash.len() != sha.len() {
                    return malformed(kind, "the salt or the digest has a wrong length");
                }
                Ok(())
            }
        }
    }

    /// Whether the password is `password`. CPU- and memory-heavy: call on a blocking thread.
    /// Digests are compared in constant time.
    pub fn verify(&self, password: &[u8]) -> bool {
        if self.check_cost("stored").is_err() {
            return false;
        }
        match self {
            Self::Argon2(phc) => PasswordHash::new(phc).is_ok_and(|h| verify_argon2(&h, password)),
            Self::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Self::Scrypt { log_n, r, p, salt, hash } => {
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p) else { return false };
                let mut out = vec![0u8; hash.len()];
                scrypt::scrypt(password, salt, &params, &mut out).is_ok() && ct_eq(&out, hash)
            }
            Self::FirebaseScrypt { rounds, mem_cost, separator, signer_key, salt, hash } => {
                firebase_scrypt(password, *rounds, *mem_cost, separator, signer_key, salt)
                    .is_some_and(|out| ct_eq(&out, hash))
            }
            Self::Pbkdf2 { prf, iterations, salt, hash } => {
                let alg = match prf {
                    Pbkdf2Prf::Sha1 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
                    Pbkdf2Prf::Sha256 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
                };
                let Some(iterations) = NonZeroU32::new(*iterations) else { return false };
                aws_lc_rs::pbkdf2::verify(alg, iterations, salt, password, hash).is_ok()
            }
            Self::SaltedSha { sha, salt_after, salt, hash } => {
                let alg = match sha {
                    Sha::Sha256 => &aws_lc_rs::digest::SHA256,
                    Sha::Sha512 => &aws_lc_rs::digest::SHA512,
                };
                let mut ctx = aws_lc_rs::digest::Context::new(alg);
                if *salt_after {
                    ctx.update(password);
                    ctx.update(salt);
                } else {
                    ctx.update(salt);
                    ctx.update(password);
                }
                ct_eq(ctx.finish().as_ref(), hash)
            }
        }
    }

    /// Whether a password that matched this hash should be hashed anew with the server's
    /// Argon2id: every foreign scheme, and Argon2 with other parameters than the server's.
    pub fn needs_rehash(&self) -> bool {
        let Self::Argon2(phc) = self else { return true };
        let Ok(h) = PasswordHash::new(phc) else { return true };
        let Ok(params) = argon2::Params::try_from(&h) else { return true };
        let own = (params.m_cost(), params.t_cost(), params.p_cost()) == OWN_ARGON2;
        let output_ok = h.hash.is_some_and(|o| o.len() == 32);
        let salt_ok = h.salt.is_some_and(|s| s.len() >= 22); // 16 bytes in base64
        !(h.algorithm.as_str() == "argon2id" && h.version == Some(0x13) && own && output_ok && salt_ok)
    }
}

/// scrypt's bounds: `N = 2^log_n`, memory `128·r·N` at most [`MAX_MEMORY_BYTES`].
fn scrypt_bounds(kind: &str, log_n: u32, r: u32, p: u32) -> Result<(), ForeignHashError> {
    // With log_n < 40 and r < 2^32 the product stays below 2^79.
    let memory = (128u128 * u128::from(r)) << log_n.min(39);
    if !(1..40).contains(&log_n) || r == 0 || !(1..=MAX_SCRYPT_P).contains(&p) || memory > u128::from(MAX_MEMORY_BYTES)
    {
        return malformed(
            kind,
            format!("scrypt parameters out of bounds: 128·r·2^ln at most 1 GiB, p from 1 to {MAX_SCRYPT_P}"),
        );
    }
    Ok(())
}

/// Firebase's modified scrypt: AES-256-CTR (zero IV) of the signer key under the first 32
/// bytes of `scrypt(password, salt + separator, N = 2^mem_cost, r = rounds, p = 1)`.
fn firebase_scrypt(
    password: &[u8],
    rounds: u32,
    mem_cost: u32,
    separator: &[u8],
    signer_key: &[u8],
    salt: &[u8],
) -> Option<Vec<u8>> {
    use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
    use aws_lc_rs::iv::FixedLength;
    let params = scrypt::Params::new(u8::try_from(mem_cost).ok()?, rounds, 1).ok()?;
    let mut key = [0u8; 32];
    let salted = [salt, separator].concat();
    scrypt::scrypt(password, &salted, &params, &mut key).ok()?;
    let cipher = EncryptingKey::ctr(UnboundCipherKey::new(&AES_256, &key).ok()?).ok()?;
    let mut out = signer_key.to_vec();
    cipher.less_safe_encrypt(&mut out, EncryptionContext::Iv128(FixedLength::from([0u8; 16]))).ok()?;
    Some(out)
}

/// A value of the record as a message quotes it: in backticks, at most 80 characters.
/// (`domain::text::quoted` is a layer above this module.)
fn shown(value: &str) -> String {
    let clipped: String = value.chars().take(80).filter(|c| !c.is_control()).collect();
    let more = if value.chars().count() > 80 { "…" } else { "" };
    format!("`{clipped}{more}`")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{FirebaseScryptConfig, PasswordImportConfig, Secret};

    /// The password of every vector below (made with Python's hashlib, `bcrypt`,
    /// `argon2-cffi` and `cryptography`).
    const PW: &str = "correct horse battery";

    /// The example project of Firebase's own scrypt repository.
    const FIREBASE_SIGNER_KEY: &str =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";

    fn firebase_cfg() -> PasswordImportConfig {
        PasswordImportConfig {
            firebase_scrypt: Some(FirebaseScryptConfig {
                signer_key: Some(Secret::new(FIREBASE_SIGNER_KEY)),
                ..FirebaseScryptConfig::default()
            }),
        }
    }

    fn record(kind: &str, hash: &str) -> ImportedPassword {
        ImportedPassword {
            kind: kind.into(),
            password_hash: hash.into(),
            salt: None,
            expire_after: None,
            salt_position: None,
            salt_encoding: None,
        }
    }

    fn with_salt(kind: &str, hash: &str, salt: &str) -> ImportedPassword {
        ImportedPassword { salt: Some(salt.into()), ..record(kind, hash) }
    }

    /// Imports `rec`, reads the stored form back, and checks the right and a wrong
    /// password; returns the stored form.
    fn round_trip(rec: &ImportedPassword, password: &str) -> String {
        let stored = rec.stored_form(&firebase_cfg()).unwrap_or_else(|e| panic!("{}: {e}", rec.password_hash));
        let parsed = StoredHash::parse(&stored).unwrap();
        assert_eq!(parsed.encode(), stored, "the stored form reads back unchanged");
        assert!(parsed.verify(password.as_bytes()), "{} accepts the right password", rec.kind);
        assert!(!parsed.verify(b"wrong password"), "{} refuses a wrong password", rec.kind);
        assert!(!parsed.verify(format!("{password} ").as_bytes()), "{} refuses a near miss", rec.kind);
        assert!(parsed.needs_rehash(), "{} is upgraded at sign-in", rec.kind);
        // What an export writes, an import reads back unchanged, even without the config.
        let exported = StoredHash::export_record(&stored).unwrap();
        assert_eq!(exported.kind, rec.kind);
        assert_eq!(exported.stored_form(&PasswordImportConfig::default()).unwrap(), stored);
        stored
    }

    fn error(rec: &ImportedPassword) -> String {
        rec.stored_form(&firebase_cfg()).unwrap_err().message().to_owned()
    }

    #[test]
    fn bcrypt_vectors() {
        for h in [
            "$2b$04$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm6",
            "$2a$05$ZPCAFQHmvEEYXufecUJ6UuDhkBYDfvCYZ2Mm1ebjThbe3GpPhU.qW",
            "$2y$04$7V2lyvLvJlbBPXQW0bzfDeD6awq1qFAxapKHEuUfOzRhdWp22Zw5O",
        ] {
            assert_eq!(round_trip(&record("bcrypt", h), PW), h);
        }
        let bad = [
            ("$2x$04$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm6", "expected $2a$, $2b$ or $2y$"),
            ("$2b$04$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm", "60 characters"),
            ("$2b$4x$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm6", "two-digit cost"),
            ("$2b$04$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuL!6", "bcrypt's base64"),
            ("$2b$31$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm6", "cost 31 is outside"),
        ];
        for (h, why) in bad {
            let e = error(&record("bcrypt", h));
            assert!(e.contains("type bcrypt is malformed") && e.contains(why), "{h}: {e}");
        }
        assert!(error(&with_salt("bcrypt", "$2b$04$x", "s")).contains("salt is not used by type bcrypt"));
    }

    #[test]
    fn argon2_vectors() {
        for h in [
            "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW",
            "$argon2i$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$7l5w3a2OWUIUxwnDJhw0MuDxUvDWeDYy",
            "$argon2d$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$xcImOiYMjlZeoInZVilOMNrnwDVZeAVO",
            "$argon2i$v=16$m=32,t=2,p=1$c2FsdHNhbHRzYWx0MTIzNA$d4wHfcSTLMr5rVgsA34vKGSIgFV99HYT6y+yOqLCiXk",
        ] {
            assert_eq!(round_trip(&record("argon2", h), PW), h);
        }
        // Without `v=` the reference implementation means version 16.
        let old = "$argon2i$m=32,t=2,p=1$c2FsdHNhbHRzYWx0MTIzNA$d4wHfcSTLMr5rVgsA34vKGSIgFV99HYT6y+yOqLCiXk";
        assert!(round_trip(&record("argon2", old), PW).starts_with("$argon2i$v=16$m=32"));
        // The server's own parameters: nothing to upgrade.
        let own = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0MTIzNA$McfjnuDazlq+xj4cXAVGpUg0zLxIcBa8UMk4NuX3lqU";
        let stored = StoredHash::parse(&record("argon2", own).stored_form(&firebase_cfg()).unwrap()).unwrap();
        assert!(stored.verify(PW.as_bytes()) && !stored.needs_rehash());
        let bad = [
            ("argon2id$v=19$m=64,t=1,p=2$c2FsdA$aGFzaA", "expected a PHC string"),
            ("$argon2x$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW", "not argon2i"),
            ("$argon2id$v=18$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW", "version"),
            ("$argon2id$v=19$m=4,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW", "m ≥ 8·p"),
            ("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW", "m above"),
            ("$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA", "missing"),
            ("$argon2id$v=19$m=64,p=2$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW", "must be given"),
        ];
        for (h, why) in bad {
            let e = error(&record("argon2", h));
            assert!(e.contains("type argon2 is malformed") && e.contains(why), "{h}: {e}");
        }
    }

    #[test]
    fn scrypt_vectors() {
        let h = "$scrypt$ln=10,r=8,p=2$AQJzY3J5cHQtc2FsdP8$+wKy8flRjsc6458dTYfKCdNZhLlYVV/86995J92aOPw";
        let stored = round_trip(&record("scrypt", h), PW);
        assert!(stored.starts_with("$authgraph-scrypt$ln=10,r=8,p=2$"), "{stored}");
        let bad = [
            ("$scrypt$ln=10,r=8$AQJzY3J5cHQtc2FsdP8$+wKy8flRjsc6458dTYfKCdNZhLlYVV/86995J92aOPw", "expected $scrypt$"),
            ("$scrypt$ln=10,r=8,p=2$AQJz!$+wKy8flRjsc6458dTYfKCdNZhLlYVV/86995J92aOPw", "not base64"),
            ("$scrypt$ln=30,r=8,p=2$AQJzY3J5cHQtc2FsdP8$+wKy8flRjsc6458dTYfKCdNZhLlYVV/86995J92aOPw", "out of bounds"),
            ("$scrypt$ln=10,r=8,p=2$AQJzY3J5cHQtc2FsdP8$+wKy8flR", "hash 16 to 128"),
        ];
        for (h, why) in bad {
            let e = error(&record("scrypt", h));
            assert!(e.contains("type scrypt is malformed") && e.contains(why), "{h}: {e}");
        }
    }

    #[test]
    fn firebase_scrypt_vectors() {
        // Firebase's published example: password `user1password`.
        let example = with_salt(
            "firebase_scrypt",
            "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
            "42xEC+ixf3L2lw==",
        );
        let stored = round_trip(&example, "user1password");
        assert!(stored.starts_with("$authgraph-firebase-scrypt$rounds=8,mem_cost=14$Bw$jxspr8Ki0RYy"), "{stored}");
        let ours = with_salt(
            "firebase_scrypt",
            "i6qfwhZA2YLLN+ziDp+CRWMh5HZprE1FSs7WVrhtE4n/lAnuGL5vb5fZ23zC7gT9I+nPn3ssTWSYGPB+F7L7Tg==",
            "ZmlyZWJhc2Utc2FsdCE=",
        );
        let stored = round_trip(&ours, PW);
        // The project's parameters travel with the hash: a later config change is harmless.
        let again = StoredHash::parse(&stored).unwrap();
        assert!(again.verify(PW.as_bytes()));
        // Without the project's parameters, or with another project's key, it is refused.
        let e = ours.stored_form(&PasswordImportConfig::default()).unwrap_err();
        assert!(e.message().contains("[password_import.firebase_scrypt]"), "{e}");
        let other = PasswordImportConfig {
            firebase_scrypt: Some(FirebaseScryptConfig {
                signer_key: Some(Secret::new("c2hvcnQ=")),
                ..FirebaseScryptConfig::default()
            }),
        };
        assert!(ours.stored_form(&other).unwrap_err().message().contains("right project's"));
        assert!(error(&record("firebase_scrypt", "aGFzaA==")).contains("needs password.salt"));
        let e = error(&with_salt("firebase_scrypt", "not base64!", "ZmlyZWJhc2Utc2FsdCE="));
        assert!(e.contains("type firebase_scrypt is malformed: expected base64"), "{e}");
    }

    #[test]
    fn pbkdf2_vectors() {
        let sha256 = [
            "pbkdf2_sha256$1000$seasalt123$8LLL/IKTXXEzdJJ5hUYPuyAMUebCj/rtkXlKp0V5hNo=",
            "$pbkdf2-sha256$i=1200,l=32$++++LXBia2RmMi1zYWx0$WYgsCdPksPRcXCYy4AMZIhtWJ2HdCO/2MNYuuWMmps0",
            "$pbkdf2-sha256$1200$....LXBia2RmMi1zYWx0$WYgsCdPksPRcXCYy4AMZIhtWJ2HdCO/2MNYuuWMmps0",
        ];
        for h in sha256 {
            assert!(round_trip(&record("pbkdf2_sha256", h), PW).starts_with("$authgraph-pbkdf2-sha256$i="));
        }
        let sha1 = [
            "pbkdf2_sha1$1000$seasalt123$A42vLgCFbuKZoNE6BlYlfsm8nVs=",
            "$pbkdf2-sha1$i=1200,l=20$++++LXBia2RmMi1zYWx0$u+yLZPE2E/7LN4vNlyBE3+qEChI",
            "$pbkdf2$1200$....LXBia2RmMi1zYWx0$u.yLZPE2E/7LN4vNlyBE3.qEChI",
        ];
        for h in sha1 {
            assert!(round_trip(&record("pbkdf2_sha1", h), PW).starts_with("$authgraph-pbkdf2-sha1$i="));
        }
        let e = error(&record("pbkdf2_sha1", sha256[0]));
        assert!(e.contains("use type pbkdf2_sha256"), "{e}");
        let bad = [
            ("pbkdf2_sha256$many$seasalt123$8LLL/IKTXXEzdJJ5hUYPuyAMUebCj/rtkXlKp0V5hNo=", "not a number"),
            ("pbkdf2_sha256$1000$seasalt123", "expected Django's"),
            ("md5$1000$seasalt123$8LLL/IKTXXEzdJJ5hUYPuyAMUebCj/rtkXlKp0V5hNo=", "expected Django's"),
            ("pbkdf2_sha256$0$seasalt123$8LLL/IKTXXEzdJJ5hUYPuyAMUebCj/rtkXlKp0V5hNo=", "iterations must be"),
            ("pbkdf2_sha256$1000$$8LLL/IKTXXEzdJJ5hUYPuyAMUebCj/rtkXlKp0V5hNo=", "the salt must be"),
            (
                "$pbkdf2-sha256$i=1200,l=16$++++LXBia2RmMi1zYWx0$WYgsCdPksPRcXCYy4AMZIhtWJ2HdCO/2MNYuuWMmps0",
                "l=<hash length>",
            ),
        ];
        for (h, why) in bad {
            let e = error(&record("pbkdf2_sha256", h));
            assert!(e.contains("type pbkdf2_sha256 is malformed") && e.contains(why), "{h}: {e}");
        }
    }

    #[test]
    fn salted_sha_vectors() {
        let salt = "pepper-and-salt";
        let sha256_hex = "4ecde0b80c3e2724a0e56f8903554336a174bc25b0bbc9ff7d50c808c5342d18";
        let stored = round_trip(&with_salt("sha256_salted", sha256_hex, salt), PW);
        assert!(stored.starts_with("$authgraph-sha256-salted$salt=before$"), "{stored}");
        let after = ImportedPassword {
            salt_position: Some("after".into()),
            ..with_salt("sha256_salted", "aHkDrFOVIcXP1cIBT7R0Csvr6yV6/T/fk8F5Ye6/W6U=", salt)
        };
        assert!(round_trip(&after, PW).starts_with("$authgraph-sha256-salted$salt=after$"));
        let sha512_b64 = "1eAEwHsE8Xb9fDac7hX+P4HfEJOLAVpJ9CbuuK6w6PufWXGF+X/rvq7/+5ZMLN2QcuNzH1jc5l+tBr4Lmgf7fQ==";
        round_trip(&with_salt("sha512_salted", sha512_b64, salt), PW);
        let sha512_after = ImportedPassword {
            salt_position: Some("after".into()),
            ..with_salt(
                "sha512_salted",
                "f28c44f6b385677ac6f79540aab2a0f1b1a1d4fe9e4ffb3df7c6321ac55afa6211971a5f08b6a63880e007216d49ac9cc7e647b57268070b2c2c6feb31bbb10a",
                salt,
            )
        };
        round_trip(&sha512_after, PW);
        let hex_salt = ImportedPassword {
            salt_encoding: Some("hex".into()),
            ..with_salt("sha256_salted", "3e1e808216696cb755b1196c1d483ebdcd81477ef645ddde3e8dd2ec04eceba1", "00ff10ab")
        };
        round_trip(&hex_salt, PW);
        // The salt's position matters.
        let swapped =
            ImportedPassword { salt_position: Some("after".into()), ..with_salt("sha256_salted", sha256_hex, salt) };
        let stored = StoredHash::parse(&swapped.stored_form(&firebase_cfg()).unwrap()).unwrap();
        assert!(!stored.verify(PW.as_bytes()));

        assert!(error(&record("sha256_salted", sha256_hex)).contains("needs password.salt"));
        let e = error(&with_salt("sha512_salted", sha256_hex, salt));
        assert!(e.contains("type sha512_salted is malformed") && e.contains("128 hex digits"), "{e}");
        let e = error(&with_salt("sha256_salted", &sha256_hex.replace('4', "g"), salt));
        assert!(e.contains("type sha256_salted is malformed"), "{e}");
        let e = error(&ImportedPassword {
            salt_position: Some("middle".into()),
            ..with_salt("sha256_salted", sha256_hex, salt)
        });
        assert!(e.contains("`middle` must be `before` or `after`"), "{e}");
        let e = error(&ImportedPassword {
            salt_encoding: Some("hex".into()),
            ..with_salt("sha256_salted", sha256_hex, "xyz")
        });
        assert!(e.contains("not valid hex"), "{e}");
        let e = error(&ImportedPassword { salt_position: Some("after".into()), ..record("bcrypt", "$2b$") });
        assert!(e.contains("only for sha256_salted and sha512_salted"), "{e}");
    }

    #[test]
    fn unknown_types_and_forms_are_refused() {
        let e = error(&record("md5", "5f4dcc3b5aa765d61d8327deb882cf99"));
        assert!(e.contains("`md5` is not supported") && e.contains("bcrypt, argon2, scrypt"), "{e}");
        for s in ["", "plain", "$md5$abc", "$authgraph-md5$x$y$z", "$authgraph-scrypt$ln=10$a$b", "$2b$"] {
            assert!(StoredHash::parse(s).is_err(), "{s}");
        }
        // A stored form of another type, or with a salt beside it, is refused.
        let stored =
            with_salt("sha256_salted", "4ecde0b80c3e2724a0e56f8903554336a174bc25b0bbc9ff7d50c808c5342d18", "s")
                .stored_form(&firebase_cfg())
                .unwrap();
        assert!(error(&record("sha512_salted", &stored)).contains("it is a stored sha256_salted hash"));
        assert!(error(&with_salt("sha256_salted", &stored, "s")).contains("salt is not used"));
        assert!(error(&record("scrypt", "$authgraph-scrypt$ln=10$a$b")).contains("unknown form"));
        // A stored form edited to cost too much is refused before any work.
        let huge = "$authgraph-pbkdf2-sha256$i=4000000000$c2FsdA$WYgsCdPksPRcXCYy4AMZIhtWJ2HdCO/2MNYuuWMmps0";
        assert!(StoredHash::parse(huge).is_err());
    }

    #[test]
    fn deserializes_authgear_records() {
        let rec: ImportedPassword = serde_json::from_value(serde_json::json!({
            "type": "bcrypt",
            "password_hash": "$2b$04$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm6",
            "expire_after": "2030-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(rec.expire_after.unwrap().year(), 2030);
        let unknown = serde_json::from_value::<ImportedPassword>(serde_json::json!({
            "type": "bcrypt", "password_hash": "x", "pepper": "y"
        }));
        assert!(unknown.is_err());
    }
}
