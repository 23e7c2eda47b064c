//! A device key pair as Authgear's SDKs keep one (ES256, or RSA-2048 on Android), and the
//! JWTs they sign with it for the anonymous-request grant: header `typ`, `kid`, `alg` and
//! the public `jwk`; payload `iat`, `exp` (a minute), `challenge`, `action`, `device_info`.

use authgraph::crypto::b64;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256};
use serde_json::{Value, json};

pub const ANONYMOUS_TYP: &str = "vnd.authgear.anonymous-request";
pub const BIOMETRIC_TYP: &str = "vnd.authgear.biometric-request";

enum Inner {
    Ec(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

pub struct DeviceKey {
    /// The key ID (the SDKs use a UUID).
    pub kid: String,
    inner: Inner,
}

impl DeviceKey {
    /// A new P-256 key, as the iOS SDK makes.
    pub fn es256() -> Self {
        let der = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap().to_pkcs8v1().unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref()).unwrap();
        Self { kid: uuid::Uuid::now_v7().to_string(), inner: Inner::Ec(key) }
    }

    /// A new RSA-2048 key, as the Android SDK makes.
    pub fn rs256() -> Self {
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        Self { kid: uuid::Uuid::now_v7().to_string(), inner: Inner::Rsa(key) }
    }

    /// Another key pair under the same key ID (what an attacker who knows the ID has).
    pub fn impostor(&self) -> Self {
        let mut other = match self.inner {
            Inner::Ec(_) => Self::es256(),
            Inner::Rsa(_) => Self::rs256(),
        };
        other.kid = self.kid.clone();
        other
    }

    pub fn alg(&self) -> &'static str {
        match self.inner {
            Inner::Ec(_) => "ES256",
            Inner::Rsa(_) => "RS256",
        }
    }

    /// The public JWK as the SDKs put it in the header.
    pub fn jwk(&self) -> Value {
        match &self.inner {
            Inner::Ec(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65]), "kid": self.kid})
            }
            Inner::Rsa(k) => {
                let p = k.public_key();
                let n = b64(p.modulus().big_endian_without_leading_zero());
                let e = b64(p.exponent().big_endian_without_leading_zero());
                json!({"kty": "RSA", "n": n, "e": e, "kid": self.kid, "alg": "RS256"})
            }
        }
    }

    /// Signs `header` and `claims` as a compact JWS.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let msg = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = match &self.inner {
            Inner::Ec(k) => k.sign(&SystemRandom::new(), msg.as_bytes()).unwrap().as_ref().to_vec(),
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg.as_bytes(), &mut sig).unwrap();
                sig
            }
        };
        format!("{msg}.{}", b64(sig))
    }

    /// The anonymous-request JWT over `challenge`, as the SDKs build it.
    pub fn anonymous_jwt(&self, challenge: &str) -> String {
        self.anonymous_jwt_for(challenge, "auth")
    }

    /// The anonymous-request JWT over `challenge` for `action` (`auth` or `promote`).
    pub fn anonymous_jwt_for(&self, challenge: &str, action: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({"typ": ANONYMOUS_TYP, "kid": self.kid, "alg": self.alg(), "jwk": self.jwk()});
        let claims = json!({
            "iat": now,
            "exp": now + 60,
            "challenge": challenge,
            "action": action,
            "device_info": {"ios": {"uname": {"machine": "iPhone13,1"}}},
        });
        self.sign(&header, &claims)
    }

    /// The biometric-request JWT over `challenge` for `action`, as the SDKs build it: the
    /// public key in the header for `setup`, only its `kid` for `authenticate`.
    pub fn biometric_jwt(&self, challenge: &str, action: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = json!({"typ": BIOMETRIC_TYP, "kid": self.kid, "alg": self.alg()});
        if action == "setup" {
            header["jwk"] = self.jwk();
        }
        let claims = json!({
            "iat": now,
            "exp": now + 60,
            "challenge": challenge,
            "action": action,
            "device_info": {"ios": {"uname": {"machine": "iPhone13,3"}, "UIDevice": {"systemName": "iOS", "systemVersion": "17.2"}}},
        });
        self.sign(&header, &claims)
    }
}

/// A fresh challenge from `POST /oauth2/challenge` for `purpose` (`anonymous_request`,
/// `biometric_request`).
pub async fn challenge(app: &crate::helpers::TestApp, purpose: &str) -> String {
    let res = app.client.post(format!("{}/oauth2/challenge", app.url)).json(&json!({"purpose": purpose}));
    let body: Value = res.send().await.unwrap().json().await.unwrap();
    body["result"]["token"].as_str().unwrap().to_owned()
}
