//! The challenges of `POST /oauth2/challenge` (Authgear's `pkg/lib/authn/challenge`): a
//! one-time, five-minute value that a device signs into the JWT of a grant, so that a
//! captured JWT cannot be replayed.
//!
//! A challenge is stateless: its content (purpose, expiry, random bytes) travels sealed
//! with a MAC under the master key, and issuing one writes nothing. The service seals and
//! opens it and, on use, records its [`digest`] so that it is used at most once.

use serde::{Deserialize, Serialize};

use super::{b64, random_bytes, sha256};

/// How long a challenge lives (Authgear's `duration.Short`), in seconds.
pub const LIFETIME_SECONDS: i64 = 300;

/// What a challenge is for; a challenge of one purpose is refused by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The anonymous-request grant.
    AnonymousRequest,
    /// The biometric-request grant.
    BiometricRequest,
    /// App-to-app authorization.
    App2appRequest,
}

impl Purpose {
    /// The purpose named by the request's `purpose` field.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anonymous_request" => Some(Self::AnonymousRequest),
            "biometric_request" => Some(Self::BiometricRequest),
            "app2app_request" => Some(Self::App2appRequest),
            _ => None,
        }
    }

    /// The request's (and the database's) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnonymousRequest => "anonymous_request",
            Self::BiometricRequest => "biometric_request",
            Self::App2appRequest => "app2app_request",
        }
    }
}

/// The sealed content of a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// What it is for.
    pub purpose: Purpose,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// 16 random bytes, base64url: no two challenges are the same.
    pub rnd: String,
}

/// Why a challenge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not a challenge this server sealed.
    #[error("the challenge is not valid")]
    Invalid,
    /// Past its expiry.
    #[error("the challenge expired")]
    Expired,
    /// Issued for another purpose.
    #[error("the challenge was issued for another purpose")]
    WrongPurpose,
}

impl Challenge {
    /// A new challenge for `purpose`, issued at `now` (Unix seconds).
    pub fn new(purpose: Purpose, now: i64) -> Self {
        Self { purpose, exp: now + LIFETIME_SECONDS, rnd: b64(random_bytes::<16>()) }
    }

    /// Whether the challenge may be used for `purpose` at `now` (Unix seconds).
    pub fn check(&self, purpose: Purpose, now: i64) -> Result<(), ChallengeError> {
        if self.purpose != purpose {
            return Err(ChallengeError::WrongPurpose);
        }
        if now >= self.exp {
            return Err(ChallengeError::Expired);
        }
        Ok(())
    }
}

/// The SHA-256 of a challenge token: what is stored once it is used.
pub fn digest(token: &str) -> Vec<u8> {
    sha256(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_challenge_is_valid_for_its_purpose_until_it_expires() {
        let c = Challenge::new(Purpose::AnonymousRequest, 1_000);
        assert_eq!(c.exp, 1_300);
        assert_eq!(c.check(Purpose::AnonymousRequest, 1_000), Ok(()));
        assert_eq!(c.check(Purpose::AnonymousRequest, 1_299), Ok(()));
        assert_eq!(c.check(Purpose::AnonymousRequest, 1_300), Err(ChallengeError::Expired));
        assert_eq!(c.check(Purpose::BiometricRequest, 1_000), Err(ChallengeError::WrongPurpose));
    }

    #[test]
    fn challenges_differ_and_purposes_round_trip() {
        let a = Challenge::new(Purpose::App2appRequest, 0);
        let b = Challenge::new(Purpose::App2appRequest, 0);
        assert_ne!(a.rnd, b.rnd);
        assert_ne!(digest("a"), digest("b"));
        for p in [Purpose::AnonymousRequest, Purpose::BiometricRequest, Purpose::App2appRequest] {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).ok(), Some(serde_json::json!(p.as_str())));
        }
        assert_eq!(Purpose::parse("login"), None);
    }
}
