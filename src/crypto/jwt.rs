//! JWT signing keys (RS256, ES256, EdDSA) and tokens.
//!
//! Signing uses parsed aws-lc-rs keys kept in memory (parsing an RSA key costs more than
//! signing with it); verification uses `jsonwebtoken` with cached decoding keys, and the
//! JWKS document is built once per key change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{b64, b64_into, sha256};

/// JWS algorithms this server signs with.
pub const ALGORITHMS: &[&str] = &["RS256", "ES256", "EdDSA"];

enum Inner {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key, parsed once.
pub struct SigningKey {
    /// RFC 7638 thumbprint, used as `kid`.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: &'static str,
    inner: Inner,
    /// The public JWK.
    pub jwk: Value,
    /// Unix time after which the key no longer verifies (it was rotated out).
    pub retire_at: Option<i64>,
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

fn err(e: impl std::fmt::Display) -> KeyError {
    KeyError(e.to_string())
}

/// The RFC 7638 thumbprint of the required members, in lexicographic order.
fn thumbprint(members: &[(&str, &str)]) -> String {
    let canonical: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
    b64(sha256(format!("{{{}}}", canonical.join(",")).as_bytes()))
}

impl SigningKey {
    /// Generates a new key for `alg` and returns it with its PKCS#8 DER encoding.
    pub fn generate(alg: &str) -> Result<(Self, Vec<u8>), KeyError> {
        let der = match alg {
            "RS256" => {
                let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(err)?;
                AsDer::<Pkcs8V1Der>::as_der(&key).map_err(err)?.as_ref().to_vec()
            }
            "ES256" => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(err)?
                .to_pkcs8v1()
                .map_err(err)?
                .as_ref()
                .to_vec(),
            "EdDSA" => Ed25519KeyPair::generate().map_err(err)?.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
            other => return Err(KeyError(format!("unsupported algorithm {other}"))),
        };
        Ok((Self::from_pkcs8(alg, &der)?, der))
    }

    /// Parses a PKCS#8 DER private key of the given algorithm.
    pub fn from_pkcs8(alg: &str, der: &[u8]) -> Result<Self, KeyError> {
        let (alg, inner, members): (&'static str, Inner, Vec<(&str, String)>) = match alg {
            "RS256" => {
                let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(err)?;
                let public = key.public_key();
                let n = b64(public.modulus().big_endian_without_leading_zero());
                let e = b64(public.exponent().big_endian_without_leading_zero());
                ("RS256", Inner::Rsa(key), vec![("e", e), ("kty", "RSA".into()), ("n", n)])
            }
            "ES256" => {
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(err)?;
                let point = key.public_key().as_ref().to_vec();
                if point.len() != 65 {
                    return Err(KeyError("unexpected P-256 public key encoding".into()));
                }
                let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
                ("ES256", Inner::Ec(key), vec![("crv", "P-256".into()), ("kty", "EC".into()), ("x", x), ("y", y)])
            }
            "EdDSA" => {
                let key = Ed25519KeyPair::from_pkcs8(der).map_err(err)?;
                let x = b64(key.public_key().as_ref());
                ("EdDSA", Inner::Ed(key), vec![("crv", "Ed25519".into()), ("kty", "OKP".into()), ("x", x)])
            }
            other => return Err(KeyError(format!("unsupported algorithm {other}"))),
        };
        let refs: Vec<(&str, &str)> = members.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let kid = thumbprint(&refs);
        let mut jwk = json!({"use": "sig", "alg": alg, "kid": kid});
        for (k, v) in &members {
            jwk[*k] = Value::String(v.clone());
        }
        Ok(Self { kid, alg, inner, jwk, retire_at: None })
    }

    /// Signs `claims` as a JWT with header `typ`.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        let header = serde_json::to_vec(&Header { alg: self.alg, typ, kid: &self.kid }).map_err(err)?;
        let claims = serde_json::to_vec(claims).map_err(err)?;
        // One string for the whole token: header and claims (4/3 of their length), the
        // separators and up to 342 characters of an RSA-2048 signature.
        let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 350);
        b64_into(header, &mut token);
        token.push('.');
        b64_into(claims, &mut token);
        let signature = match &self.inner {
            Inner::Rsa(key) => {
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), token.as_bytes(), &mut sig).map_err(err)?;
                sig
            }
            Inner::Ec(key) => key.sign(&SystemRandom::new(), token.as_bytes()).map_err(err)?.as_ref().to_vec(),
            Inner::Ed(key) => key.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        b64_into(signature, &mut token);
        Ok(token)
    }

    fn decoding_key(&self) -> Result<(Algorithm, DecodingKey), KeyError> {
        let s = |k: &str| self.jwk[k].as_str().unwrap_or_default().to_owned();
        Ok(match self.inner {
            Inner::Rsa(_) => (Algorithm::RS256, DecodingKey::from_rsa_components(&s("n"), &s("e")).map_err(err)?),
            Inner::Ec(_) => (Algorithm::ES256, DecodingKey::from_ec_components(&s("x"), &s("y")).map_err(err)?),
            Inner::Ed(_) => (Algorithm::EdDSA, DecodingKey::from_ed_components(&s("x")).map_err(err)?),
        })
    }
}

/// A JWS header, serialized in this order (a struct costs less to write than a JSON map).
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, unknown key, bad signature, wrong audience or issuer, expired.
    #[error("{0}")]
    Invalid(String),
}

/// A key that verifies: its algorithm, the parsed public key, when it retires, and its JWK.
type Verifier = (Algorithm, Arc<DecodingKey>, Option<i64>, Value);

/// The keys this server signs and verifies with.
#[derive(Default)]
pub struct KeyRing {
    active: RwLock<HashMap<&'static str, Arc<SigningKey>>>,
    verifiers: RwLock<HashMap<String, Verifier>>,
    jwks: RwLock<Arc<String>>,
    /// Unix time (seconds) of the last reload triggered by an unknown `kid`.
    last_reload: AtomicI64,
}

impl KeyRing {
    /// Replaces the whole key set: `active` sign (one per algorithm); all of `keys` verify
    /// and are published in the JWKS.
    pub fn install(&self, active: &[Arc<SigningKey>], keys: &[Arc<SigningKey>]) -> Result<(), KeyError> {
        let mut map = HashMap::new();
        for k in keys {
            let (alg, dk) = k.decoding_key()?;
            map.insert(k.kid.clone(), (alg, Arc::new(dk), k.retire_at, k.jwk.clone()));
        }
        let jwks = serde_json::to_string(&json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}))
            .map_err(err)?;
        // A poisoned lock only means a writer panicked; the data is still a whole value.
        *self.verifiers.write().unwrap_or_else(|p| p.into_inner()) = map;
        *self.jwks.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(jwks);
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = active.iter().map(|k| (k.alg, k.clone())).collect();
        Ok(())
    }

    /// The key that signs new tokens with `alg`.
    pub fn active(&self, alg: &str) -> Option<Arc<SigningKey>> {
        self.active.read().unwrap_or_else(|p| p.into_inner()).get(alg).cloned()
    }

    /// The JWKS document (every key that can still verify a live token).
    pub fn jwks(&self) -> Arc<String> {
        self.jwks.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether a reload for an unknown `kid` may run now: at most one every 10 seconds,
    /// so that tokens with made-up key IDs cannot make every request hit the database.
    pub fn may_reload(&self, now: i64) -> bool {
        let last = self.last_reload.load(Ordering::Relaxed);
        now - last >= 1 && self.last_reload.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// The public JWK of a loaded key.
    pub fn jwk(&self, kid: &str) -> Option<Value> {
        self.verifiers.read().unwrap_or_else(|p| p.into_inner()).get(kid).map(|v| v.3.clone())
    }

    /// Whether a key with this `kid` is known.
    pub fn knows(&self, kid: &str) -> bool {
        self.verifiers.read().unwrap_or_else(|p| p.into_inner()).contains_key(kid)
    }

    /// Whether the key `kid` verifies access tokens now: it is loaded and not retired.
    pub fn verifies_now(&self, kid: &str) -> bool {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let verifiers = self.verifiers.read().unwrap_or_else(|p| p.into_inner());
        verifiers.get(kid).is_some_and(|(_, _, retire_at, _)| retire_at.is_none_or(|t| now < t))
    }

    /// Seconds of clock skew allowed on `exp` (and `nbf`).
    pub const LEEWAY: i64 = 60;

    /// Verifies an access token (`typ` at+jwt): signature, `exp`, `iss`, and `aud` when
    /// `audience` is given. Returns the claims.
    pub fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Result<C, VerifyError> {
        self.check(token, issuer, audience, true, true)
    }

    /// Verifies an ID token this server issued (`id_token_hint`): signature and `iss`;
    /// an expired token still identifies its user, so `exp` is not checked.
    pub fn verify_id_token<C: DeserializeOwned>(&self, token: &str, issuer: &str) -> Result<C, VerifyError> {
        self.check(token, issuer, None, false, false)
    }

    fn check<C: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
        access_token: bool,
        validate_exp: bool,
    ) -> Result<C, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("malformed token".into()))?;
        // RFC 9068: an access token says so in its header, so that an ID token signed by
        // the same key can never pass as an access token, nor the other way round.
        let is_at = header.typ.as_deref().map(str::to_ascii_lowercase).as_deref() == Some("at+jwt");
        if is_at != access_token {
            let want = if access_token { "an access token (typ at+jwt)" } else { "an ID token" };
            return Err(VerifyError::Invalid(format!("token is not {want}")));
        }
        let kid = header.kid.ok_or_else(|| VerifyError::Invalid("token has no kid".into()))?;
        let (alg, key, retire_at, _) = self
            .verifiers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kid)
            .cloned()
            .ok_or_else(|| VerifyError::Invalid("token signed by an unknown key".into()))?;
        if validate_exp && retire_at.is_some_and(|t| time::OffsetDateTime::now_utc().unix_timestamp() >= t) {
            return Err(VerifyError::Invalid("token signed by a retired key".into()));
        }
        if header.alg != alg {
            return Err(VerifyError::Invalid("algorithm does not match the key".into()));
        }
        let mut v = Validation::new(alg);
        v.leeway = Self::LEEWAY.unsigned_abs();
        v.validate_exp = validate_exp;
        v.set_issuer(&[issuer]);
        match audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        let required: &[&str] = if validate_exp { &["exp", "iss", "aud", "sub"] } else { &["iss", "aud", "sub"] };
        v.set_required_spec_claims(required);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies_after_a_round_trip_through_pkcs8() {
        for alg in ALGORITHMS {
            let (_, der) = SigningKey::generate(alg).unwrap();
            let key = Arc::new(SigningKey::from_pkcs8(alg, &der).unwrap());
            let ring = KeyRing::default();
            ring.install(std::slice::from_ref(&key), std::slice::from_ref(&key)).unwrap();
            let claims = json!({"iss": "i", "sub": "s", "aud": "a", "exp": 4_000_000_000u64});
            let token = ring.active(alg).unwrap().sign("at+jwt", &claims).unwrap();
            let back: Value = ring.verify(&token, "i", Some("a")).unwrap();
            assert_eq!(back["sub"], "s", "{alg}");
            assert!(ring.jwks().contains(&key.kid));
        }
    }
}
