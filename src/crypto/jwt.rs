//! JWT signing keys and tokens.
//!
//! Signing uses a parsed aws-lc-rs key kept in memory (parsing an RSA key costs more
//! than signing with it); verification uses `jsonwebtoken` with cached decoding keys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{b64, sha256};

/// A private signing key, parsed once.
pub struct SigningKey {
    /// RFC 7638 thumbprint, used as `kid`.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: &'static str,
    key: KeyPair,
    /// The public JWK.
    pub jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg, self.kid)
    }
}

/// A key could not be generated or parsed, or a token not signed.
#[derive(Debug, thiserror::Error)]
#[error("signing key error: {0}")]
pub struct KeyError(pub String);

impl SigningKey {
    /// Generates a new RSA-2048 key and returns it with its PKCS#8 DER encoding.
    pub fn generate_rs256() -> Result<(Self, Vec<u8>), KeyError> {
        use aws_lc_rs::encoding::AsDer;
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|e| KeyError(e.to_string()))?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key)
            .map_err(|e| KeyError(e.to_string()))?
            .as_ref()
            .to_vec();
        Ok((Self::from_rsa_parts(key), der))
    }

    /// Parses a PKCS#8 DER private key of the given algorithm.
    pub fn from_pkcs8(alg: &str, der: &[u8]) -> Result<Self, KeyError> {
        match alg {
            "RS256" => Ok(Self::from_rsa_parts(KeyPair::from_pkcs8(der).map_err(|e| KeyError(e.to_string()))?)),
            other => Err(KeyError(format!("unsupported algorithm {other}"))),
        }
    }

    fn from_rsa_parts(key: KeyPair) -> Self {
        let public = key.public_key();
        let n = b64(public.modulus().big_endian_without_leading_zero());
        let e = b64(public.exponent().big_endian_without_leading_zero());
        // RFC 7638: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = b64(sha256(canonical.as_bytes()));
        let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
        Self { kid, alg: "RS256", key, jwk }
    }

    /// Signs `claims` as a JWT with header `typ`.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        let header = json!({"alg": self.alg, "typ": typ, "kid": self.kid});
        let header = serde_json::to_vec(&header).map_err(|e| KeyError(e.to_string()))?;
        let claims = serde_json::to_vec(claims).map_err(|e| KeyError(e.to_string()))?;
        let mut token = format!("{}.{}", b64(header), b64(claims));
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), token.as_bytes(), &mut sig)
            .map_err(|e| KeyError(e.to_string()))?;
        token.push('.');
        token.push_str(&b64(sig));
        Ok(token)
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, unknown key, bad signature, wrong audience or issuer, expired.
    #[error("{0}")]
    Invalid(String),
}

/// The keys this server signs and verifies with.
#[derive(Default)]
pub struct KeyRing {
    active: RwLock<Option<Arc<SigningKey>>>,
    verifiers: RwLock<HashMap<String, (Algorithm, Arc<DecodingKey>)>>,
    /// Unix time (seconds) of the last reload triggered by an unknown `kid`.
    last_reload: std::sync::atomic::AtomicI64,
}

impl KeyRing {
    /// Replaces the whole key set: `active` signs; all of `keys` verify.
    pub fn install(&self, active: Option<Arc<SigningKey>>, keys: &[Arc<SigningKey>]) -> Result<(), KeyError> {
        let mut map = HashMap::new();
        for k in keys {
            let n = k.jwk["n"].as_str().unwrap_or_default();
            let e = k.jwk["e"].as_str().unwrap_or_default();
            let dk = DecodingKey::from_rsa_components(n, e).map_err(|e| KeyError(e.to_string()))?;
            map.insert(k.kid.clone(), (Algorithm::RS256, Arc::new(dk)));
        }
        // A poisoned lock only means a writer panicked; the data is still a whole value.
        *self.verifiers.write().unwrap_or_else(|p| p.into_inner()) = map;
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = active;
        Ok(())
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> Option<Arc<SigningKey>> {
        self.active.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether a reload for an unknown `kid` may run now: at most one every 10 seconds,
    /// so that tokens with made-up key IDs cannot make every request hit the database.
    pub fn may_reload(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last_reload.load(Ordering::Relaxed);
        now - last >= 10 && self.last_reload.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Whether a key with this `kid` is known.
    pub fn knows(&self, kid: &str) -> bool {
        self.verifiers.read().unwrap_or_else(|p| p.into_inner()).contains_key(kid)
    }

    /// Verifies signature, `exp`, `iss` and `aud`, and returns the claims.
    pub fn verify<C: DeserializeOwned>(&self, token: &str, issuer: &str, audience: &str) -> Result<C, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("malformed token".into()))?;
        // RFC 9068: an access token says so in its header, so that an ID token signed by
        // the same key can never pass as an access token.
        if header.typ.as_deref().map(str::to_ascii_lowercase).as_deref() != Some("at+jwt") {
            return Err(VerifyError::Invalid("token is not an access token (typ at+jwt)".into()));
        }
        let kid = header.kid.ok_or_else(|| VerifyError::Invalid("token has no kid".into()))?;
        let (alg, key) = self
            .verifiers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kid)
            .cloned()
            .ok_or_else(|| VerifyError::Invalid("token signed by an unknown key".into()))?;
        if header.alg != alg {
            return Err(VerifyError::Invalid("algorithm does not match the key".into()));
        }
        let mut v = Validation::new(alg);
        v.leeway = 60;
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<C>(token, &key, &v).map(|d| d.claims).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let msg = match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidAudience => "token audience is not this API",
                ErrorKind::InvalidIssuer => "token issuer is not this server",
                ErrorKind::InvalidSignature => "token signature is invalid",
                ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
                _ => "token is invalid",
            };
            VerifyError::Invalid(msg.into())
        })
    }
}
