//! Refresh tokens that name their grant: the grant's ID and generation, and a MAC of both
//! under the master key. A grant keeps its current generation in its own row
//! (`sessions.refresh_generation`), so a rotation rewrites that one row: no token row is
//! inserted, indexed or purged, and a retry within the grace window is answered with the
//! same new token as the use it repeats.
//!
//! Nothing secret is stored: a token can only be made with the master key, which also
//! unseals the signing keys, so whoever could forge a refresh token could sign access
//! tokens already.
//!
//! Tokens issued before (random, their SHA-256 digests in `refresh_tokens`) keep working
//! until their next use, which replaces them with a token of this kind.

use crate::crypto::master_key::MasterKey;
use crate::crypto::{b64, b64_decode, ct_eq, sha256};
use uuid::Uuid;

/// The MAC's purpose: no MAC made for another use verifies as a refresh token.
const PURPOSE: &str = "refresh-token";

/// The grant's ID, the generation and the MAC.
const LEN: usize = 16 + 8 + 32;

/// A refresh token of a grant, as its two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantToken {
    /// The grant (the `sessions` row).
    pub session_id: Uuid,
    /// The grant's generation when the token was issued.
    pub generation: i64,
}

/// What a presented refresh token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A grant token with a valid MAC.
    Grant(GrantToken),
    /// Not a grant token: perhaps a token issued before them, found by this digest.
    Digest(Vec<u8>),
    /// A grant token whose MAC does not verify.
    Forged,
}

impl GrantToken {
    fn body(&self) -> [u8; 24] {
        let mut body = [0u8; 24];
        body[..16].copy_from_slice(self.session_id.as_bytes());
        body[16..].copy_from_slice(&self.generation.to_be_bytes());
        body
    }

    /// The token's text (base64url, 75 characters).
    pub fn encode(&self, key: &MasterKey) -> String {
        let body = self.body();
        let mut raw = Vec::with_capacity(LEN);
        raw.extend_from_slice(&body);
        raw.extend_from_slice(&key.mac(PURPOSE, &body));
        b64(raw)
    }

    /// What `token` is: a grant token only if its MAC verifies.
    pub fn parse(token: &str, key: &MasterKey) -> Presented {
        let raw = match b64_decode(token) {
            Some(raw) if raw.len() == LEN => raw,
            _ => return Presented::Digest(sha256(token.as_bytes()).to_vec()),
        };
        let (body, mac) = raw.split_at(24);
        if !ct_eq(&key.mac(PURPOSE, body), mac) {
            return Presented::Forged;
        }
        let (id, generation) = body.split_at(16);
        let (Ok(id), Ok(generation)) = (<[u8; 16]>::try_from(id), <[u8; 8]>::try_from(generation)) else {
            return Presented::Forged;
        };
        Presented::Grant(GrantToken { session_id: Uuid::from_bytes(id), generation: i64::from_be_bytes(generation) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::parse(&b64([7u8; 32])).expect("a key")
    }

    #[test]
    fn a_token_names_its_grant_and_generation_and_nothing_else_verifies() {
        let key = key();
        let token = GrantToken { session_id: Uuid::now_v7(), generation: 41 };
        let text = token.encode(&key);
        assert_eq!(text.len(), 75);
        assert_eq!(GrantToken::parse(&text, &key), Presented::Grant(token));

        // Another generation with this MAC, or another key: forged.
        let mut raw = b64_decode(&text).expect("base64url");
        raw[23] ^= 1;
        assert_eq!(GrantToken::parse(&b64(&raw), &key), Presented::Forged);
        let other = MasterKey::parse(&b64([8u8; 32])).expect("a key");
        assert_eq!(GrantToken::parse(&text, &other), Presented::Forged);

        // A MAC of the same bytes for another purpose does not verify.
        let body = &b64_decode(&text).expect("base64url")[..24];
        let mut raw = body.to_vec();
        raw.extend_from_slice(&key.mac("csrf", body));
        assert_eq!(GrantToken::parse(&b64(&raw), &key), Presented::Forged);

        // Anything else is looked up by digest, as the tokens issued before.
        let legacy = b64([1u8; 32]);
        assert_eq!(GrantToken::parse(&legacy, &key), Presented::Digest(sha256(legacy.as_bytes()).to_vec()));
        assert!(matches!(GrantToken::parse("not base64 !", &key), Presented::Digest(_)));
    }
}
