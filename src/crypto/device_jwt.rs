//! JWTs that a device signs with its own key pair, as Authgear's SDKs send them to the
//! token endpoint (`vnd.authgear.anonymous-request`, later `vnd.authgear.biometric-request`).
//!
//! The header carries the public key (`jwk`), or only its key ID (`kid`) when the server
//! already knows the key. Only RS256 and ES256 are accepted (the SDKs' algorithms), the
//! key ID must match `^[-\w]{8,64}$`, and `exp`, `nbf` and `iat` are checked only when
//! present, with five minutes of clock skew either way (Authgear's checks). The payload
//! carries the challenge from `POST /oauth2/challenge`, which the caller checks.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::{b64, b64_decode};

/// The `typ` of an anonymous-request JWT.
pub const ANONYMOUS_REQUEST_TYP: &str = "vnd.authgear.anonymous-request";

/// The `typ` of a biometric-request JWT.
pub const BIOMETRIC_REQUEST_TYP: &str = "vnd.authgear.biometric-request";

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 300;

/// Why a device JWT was refused; the message is for the `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceJwtError(pub String);

fn refuse(why: &str) -> DeviceJwtError {
    DeviceJwtError(why.to_owned())
}

/// Whether `kid` matches `^[-\w]{8,64}$`, with `\w` as ASCII letters, digits and `_`
/// (Go's `\w`, which Authgear's pattern uses).
pub fn valid_key_id(kid: &str) -> bool {
    (8..=64).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A device JWT whose header passed the checks, before its signature is verified.
#[derive(Debug, Clone)]
pub struct DeviceJwt {
    /// The device key's ID: the `jwk`'s `kid`, else the header's.
    pub key_id: String,
    /// The public key the header carries, as JSON with public members only.
    pub jwk: Option<Value>,
    alg: Algorithm,
}

/// The payload of a device JWT.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceClaims {
    /// The challenge from `POST /oauth2/challenge`.
    pub challenge: String,
    /// `auth` or `promote` (anonymous), `setup` or `authenticate` (biometric).
    #[serde(default)]
    pub action: Option<String>,
    /// What the SDK says about the device.
    #[serde(default)]
    pub device_info: Option<Value>,
    /// Issued at, Unix seconds.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Not before, Unix seconds.
    #[serde(default)]
    pub nbf: Option<i64>,
}

/// Whether `jwk` is a public key for `alg`: RSA for RS256, P-256 for ES256, and its own
/// `alg`, if it names one, the same.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let kind = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => KeyAlgorithm::RS256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) if p.curve == EllipticCurve::P256 => {
            KeyAlgorithm::ES256
        }
        _ => return false,
    };
    jwk.common.key_algorithm.is_none_or(|a| a == kind)
}

/// The JWK with its RSA modulus stripped of leading zero bytes: old Android SDKs encode
/// `n` as a signed big-endian integer (a 0x00 byte before a high bit), which the RSA
/// verifier refuses.
fn without_leading_zeros(mut jwk: Jwk) -> Jwk {
    if let AlgorithmParameters::RSA(p) = &mut jwk.algorithm
        && let Some(n) = b64_decode(&p.n)
        && n.first() == Some(&0)
    {
        let start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
        p.n = b64(&n[start..]);
    }
    jwk
}

impl DeviceJwt {
    /// Reads the header of `token` and checks it: `typ` equal to `typ`, RS256 or ES256, a
    /// `jwk` that fits the algorithm or at least a `kid`, and a valid key ID. The
    /// signature is not verified yet: see [`DeviceJwt::verify`].
    pub fn parse(token: &str, typ: &str) -> Result<Self, DeviceJwtError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| refuse("the JWT is malformed or its algorithm is not supported"))?;
        if header.typ.as_deref() != Some(typ) {
            return Err(DeviceJwtError(format!("the JWT's typ must be {typ}")));
        }
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(refuse("the JWT must be signed with RS256 or ES256"));
        }
        let (key_id, jwk) = match header.jwk {
            Some(jwk) => {
                if !key_fits(&jwk, header.alg) {
                    return Err(refuse("the JWT's jwk is not a public key for its algorithm"));
                }
                let kid = match (jwk.common.key_id.clone(), header.kid) {
                    (Some(a), Some(b)) if a != b => return Err(refuse("the JWT's kid and its jwk's kid differ")),
                    (Some(k), _) | (None, Some(k)) => k,
                    (None, None) => return Err(refuse("the JWT names no key ID")),
                };
                // Re-serialised from the parsed key: public members only.
                let value = serde_json::to_value(&jwk).map_err(|_| refuse("the JWT's jwk is not valid"))?;
                (kid, Some(value))
            }
            None => (header.kid.ok_or_else(|| refuse("the JWT has neither a jwk nor a kid"))?, None),
        };
        if !valid_key_id(&key_id) {
            return Err(refuse("the key ID must be 8 to 64 letters, digits, `-` or `_`"));
        }
        Ok(Self { key_id, jwk, alg: header.alg })
    }

    /// Verifies the signature of `token` with `jwk` (the stored key, or the header's own
    /// on first use) and the times at `now` (Unix seconds); returns the payload.
    pub fn verify(&self, token: &str, jwk: &Value, now: i64) -> Result<DeviceClaims, DeviceJwtError> {
        let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| refuse("the device key is not a valid JWK"))?;
        let jwk = without_leading_zeros(jwk);
        if !key_fits(&jwk, self.alg) {
            return Err(refuse("the JWT's algorithm does not fit the device key"));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| refuse("the device key is not a valid JWK"))?;
        let mut v = Validation::new(self.alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        let claims = jsonwebtoken::decode::<DeviceClaims>(token, &key, &v)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => refuse("the JWT's signature is invalid"),
                _ => refuse("the JWT is invalid"),
            })?
            .claims;
        if claims.exp.is_some_and(|exp| exp + LEEWAY_SECONDS <= now) {
            return Err(refuse("the JWT expired"));
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECONDS > now)
            || claims.iat.is_some_and(|iat| iat - LEEWAY_SECONDS > now)
        {
            return Err(refuse("the JWT is not valid yet"));
        }
        Ok(claims)
    }
}

/// The `action` in the payload of `token`, read without verifying anything: the
/// biometric grant picks between setup and sign-in by it, then verifies the JWT.
pub fn unverified_action(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = b64_decode(payload)?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("action")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hmac_sha256;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const KID: &str = "0d9f3c1e-7b2a-4e58-9c61-2f4a8b7d3e10";

    enum Key {
        Ec(EcdsaKeyPair),
        Rsa(aws_lc_rs::rsa::KeyPair),
    }

    impl Key {
        fn ec() -> Self {
            let der = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap().to_pkcs8v1().unwrap();
            Self::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref()).unwrap())
        }
        fn rsa() -> Self {
            Self::Rsa(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
        }
        fn alg(&self) -> &'static str {
            match self {
                Self::Ec(_) => "ES256",
                Self::Rsa(_) => "RS256",
            }
        }
        fn jwk(&self) -> Value {
            match self {
                Self::Ec(k) => {
                    let p = k.public_key().as_ref();
                    json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65]), "kid": KID, "alg": "ES256"})
                }
                Self::Rsa(k) => {
                    let p = k.public_key();
                    let n = b64(p.modulus().big_endian_without_leading_zero());
                    let e = b64(p.exponent().big_endian_without_leading_zero());
                    json!({"kty": "RSA", "n": n, "e": e, "kid": KID, "alg": "RS256"})
                }
            }
        }
        fn sign(&self, header: &Value, claims: &Value) -> String {
            let msg = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
            let sig = match self {
                Self::Ec(k) => k.sign(&SystemRandom::new(), msg.as_bytes()).unwrap().as_ref().to_vec(),
                Self::Rsa(k) => {
                    let mut sig = vec![0u8; k.public_modulus_len()];
                    k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg.as_bytes(), &mut sig).unwrap();
                    sig
                }
            };
            format!("{msg}.{}", b64(sig))
        }
        /// A JWT as the SDKs build it: typ, kid, alg and the public jwk in the header.
        fn sdk_jwt(&self, claims: &Value) -> String {
            let header = json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": self.alg(), "jwk": self.jwk()});
            self.sign(&header, claims)
        }
    }

    fn claims() -> Value {
        json!({"iat": NOW, "exp": NOW + 60, "challenge": "c", "action": "auth"})
    }

    #[test]
    fn sdk_jwts_verify_with_es256_and_rs256() {
        for key in [Key::ec(), Key::rsa()] {
            let token = key.sdk_jwt(&claims());
            let jwt = DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).unwrap();
            assert_eq!(jwt.key_id, KID);
            let stored = jwt.jwk.clone().unwrap();
            assert!(stored.get("d").is_none());
            let c = jwt.verify(&token, &stored, NOW).unwrap();
            assert_eq!(c.challenge, "c");
            assert_eq!(c.action.as_deref(), Some("auth"));
            // Later uses name the key by kid only and verify against the stored key.
            let by_kid = key.sign(&json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": key.alg()}), &claims());
            let jwt = DeviceJwt::parse(&by_kid, ANONYMOUS_REQUEST_TYP).unwrap();
            assert!(jwt.jwk.is_none());
            jwt.verify(&by_kid, &stored, NOW).unwrap();
        }
    }

    #[test]
    fn an_rsa_modulus_with_a_leading_zero_byte_verifies() {
        let key = Key::rsa();
        let mut jwk = key.jwk();
        let n = b64_decode(jwk["n"].as_str().unwrap()).unwrap();
        jwk["n"] = json!(b64([&[0u8][..], n.as_slice()].concat()));
        let header = json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": "RS256", "jwk": jwk});
        let token = key.sign(&header, &claims());
        let jwt = DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).unwrap();
        jwt.verify(&token, jwt.jwk.as_ref().unwrap(), NOW).unwrap();
    }

    #[test]
    fn a_wrong_typ_is_refused() {
        let key = Key::ec();
        for typ in [Some("JWT"), Some("vnd.authgear.biometric-request"), None] {
            let mut header = json!({"kid": KID, "alg": "ES256", "jwk": key.jwk()});
            if let Some(t) = typ {
                header["typ"] = json!(t);
            }
            let token = key.sign(&header, &claims());
            assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err(), "{typ:?}");
        }
    }

    #[test]
    fn alg_none_and_hs256_are_refused() {
        let key = Key::ec();
        let body = b64(claims().to_string());
        let none = json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": "none"});
        let token = format!("{}.{body}.", b64(none.to_string()));
        assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err());
        // HS256 keyed with the public key's bytes: the classic confusion attack.
        let secret = key.jwk()["x"].as_str().unwrap().as_bytes().to_vec();
        let hs = json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": "HS256"});
        let msg = format!("{}.{body}", b64(hs.to_string()));
        let token = format!("{msg}.{}", b64(hmac_sha256(&secret, msg.as_bytes())));
        assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err());
        // An HS256 header with an `oct` jwk is refused too.
        let oct = json!({"kty": "oct", "k": b64(&secret), "kid": KID});
        let hs = json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": "HS256", "jwk": oct});
        let msg = format!("{}.{body}", b64(hs.to_string()));
        let token = format!("{msg}.{}", b64(hmac_sha256(&secret, msg.as_bytes())));
        assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err());
    }

    #[test]
    fn bad_or_missing_key_ids_are_refused() {
        let key = Key::ec();
        let long = "a".repeat(65);
        for kid in ["short", "has space in it", "ünïcödé-kid-1234", long.as_str(), "slash/es/are/out"] {
            let mut jwk = key.jwk();
            jwk["kid"] = json!(kid);
            let token =
                key.sign(&json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": kid, "alg": "ES256", "jwk": jwk}), &claims());
            assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err(), "{kid}");
        }
        assert!(valid_key_id("abcdefgh") && valid_key_id(&"A_-9".repeat(16)));
        let mut jwk = key.jwk();
        jwk.as_object_mut().unwrap().remove("kid");
        let token = key.sign(&json!({"typ": ANONYMOUS_REQUEST_TYP, "alg": "ES256", "jwk": jwk}), &claims());
        assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err(), "no kid anywhere");
        let token = key.sign(&json!({"typ": ANONYMOUS_REQUEST_TYP, "alg": "ES256"}), &claims());
        assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err(), "neither jwk nor kid");
        let token = key.sign(
            &json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": "another-kid-1", "alg": "ES256", "jwk": key.jwk()}),
            &claims(),
        );
        assert!(DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).is_err(), "kid and jwk.kid differ");
    }

    #[test]
    fn expired_and_future_tokens_are_refused_beyond_the_leeway() {
        let key = Key::ec();
        let check = |c: Value| {
            let token = key.sdk_jwt(&c);
            let jwt = DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).unwrap();
            let jwk = jwt.jwk.clone().unwrap();
            jwt.verify(&token, &jwk, NOW)
        };
        let mut c = claims();
        c["exp"] = json!(NOW - LEEWAY_SECONDS - 1);
        assert_eq!(check(c).unwrap_err().0, "the JWT expired");
        let mut c = claims();
        c["exp"] = json!(NOW - LEEWAY_SECONDS + 10);
        assert!(check(c).is_ok(), "within the leeway");
        let mut c = claims();
        c["iat"] = json!(NOW + LEEWAY_SECONDS + 10);
        assert!(check(c).is_err(), "issued in the future");
        let mut c = claims();
        c["nbf"] = json!(NOW + LEEWAY_SECONDS + 10);
        assert!(check(c).is_err(), "not valid yet");
        // exp and iat are optional.
        assert!(check(json!({"challenge": "c"})).is_ok());
    }

    #[test]
    fn a_signature_by_another_key_or_a_key_of_another_type_is_refused() {
        let (key, other) = (Key::ec(), Key::ec());
        let token = key.sdk_jwt(&claims());
        let jwt = DeviceJwt::parse(&token, ANONYMOUS_REQUEST_TYP).unwrap();
        assert_eq!(jwt.verify(&token, &other.jwk(), NOW).unwrap_err().0, "the JWT's signature is invalid");
        assert!(jwt.verify(&token, &Key::rsa().jwk(), NOW).is_err());
        // A header jwk of the wrong type for the algorithm.
        let header = json!({"typ": ANONYMOUS_REQUEST_TYP, "kid": KID, "alg": "ES256", "jwk": Key::rsa().jwk()});
        assert!(DeviceJwt::parse(&key.sign(&header, &claims()), ANONYMOUS_REQUEST_TYP).is_err());
    }
}
