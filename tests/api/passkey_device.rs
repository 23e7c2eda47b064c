//! A software passkey authenticator for the tests: a P-256 key (ES256), attestation
//! "none", CBOR by `ciborium`, and the JSON a browser's `navigator.credentials` gives the
//! page's script. It answers the options the server put in the page.

use authgraph::crypto::{b64, b64_decode, sha256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use ciborium::Value as Cbor;
use serde_json::{Value, json};

/// One discoverable credential held by the device.
pub struct Device {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub counter: u32,
    /// The origin the "browser" reports in the client data.
    pub origin: String,
    rp_id: String,
}

/// The `data-options` JSON of the passkey form on `html` (HTML-unescaped).
pub fn options_in(html: &str) -> Value {
    let marker = "data-options=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no passkey form in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    let raw = html[start..end]
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("options {raw}: {e}"))
}

fn cbor(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})).unwrap()
}

impl Device {
    /// A new device for the RP ID and origin of `url` (`http://localhost:<port>`).
    pub fn new(url: &str) -> Self {
        let u = url::Url::parse(url).unwrap();
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        Self {
            key,
            credential_id: aws_lc_rs::rand::generate::<[u8; 32]>(&SystemRandom::new()).unwrap().expose().to_vec(),
            user_handle: Vec::new(),
            counter: 0,
            origin: u.origin().ascii_serialization(),
            rp_id: u.host_str().unwrap().to_owned(),
        }
    }

    /// The credential ID as the server names it (base64url).
    pub fn id(&self) -> String {
        b64(&self.credential_id)
    }

    fn cose_key(&self) -> Cbor {
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65);
        Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
            (Cbor::Integer(3.into()), Cbor::Integer((-7).into())),
            (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
            (Cbor::Integer((-2).into()), Cbor::Bytes(point[1..33].to_vec())),
            (Cbor::Integer((-3).into()), Cbor::Bytes(point[33..].to_vec())),
        ])
    }

    fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
        let mut d = sha256(self.rp_id.as_bytes()).to_vec();
        d.push(flags);
        d.extend_from_slice(&self.counter.to_be_bytes());
        if attested {
            d.extend_from_slice(&[0u8; 16]);
            d.extend_from_slice(&u16::try_from(self.credential_id.len()).unwrap().to_be_bytes());
            d.extend_from_slice(&self.credential_id);
            d.extend_from_slice(&cbor(&self.cose_key()));
        }
        d
    }

    /// `navigator.credentials.create` for `options`: the credential JSON to post.
    pub fn create(&mut self, options: &Value) -> String {
        assert_eq!(options["rp"]["id"], self.rp_id, "{options}");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "{options}");
        self.user_handle = b64_decode(options["user"]["id"].as_str().unwrap()).unwrap();
        let challenge = options["challenge"].as_str().unwrap();
        let cd = client_data("webauthn.create", challenge, &self.origin);
        // User present, user verified, attested credential data.
        let auth_data = self.auth_data(0x01 | 0x04 | 0x40, true);
        let att = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        json!({
            "id": self.id(), "rawId": self.id(), "type": "public-key", "extensions": {},
            "response": {"attestationObject": b64(cbor(&att)), "clientDataJSON": b64(&cd), "transports": ["internal"]},
        })
        .to_string()
    }

    /// `navigator.credentials.get` for `options` with the next counter value: the
    /// assertion JSON to post.
    pub fn get(&mut self, options: &Value) -> String {
        self.counter += 1;
        self.assert_with(options, self.counter)
    }

    /// An assertion for `options` signed with counter `counter` (the device's own is left).
    pub fn assert_with(&self, options: &Value, counter: u32) -> String {
        let challenge = options["challenge"].as_str().unwrap();
        let cd = client_data("webauthn.get", challenge, &self.origin);
        let mut auth_data = sha256(self.rp_id.as_bytes()).to_vec();
        auth_data.push(0x01 | 0x04);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&cd));
        let sig = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": self.id(), "rawId": self.id(), "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": b64(&auth_data), "clientDataJSON": b64(&cd),
                "signature": b64(sig.as_ref()), "userHandle": b64(&self.user_handle),
            },
        })
        .to_string()
    }
}
