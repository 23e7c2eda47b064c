//! Account lockout (Authgear's `authentication.lockout`): after too many failed sign-in
//! attempts a user, or a user from one IP address, cannot sign in for a while.

use serde::{Deserialize, Serialize};

use super::{ConfigError, within};

/// What a lockout locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockoutType {
    /// The user, from every IP address: failures from all addresses add up.
    #[default]
    PerUser,
    /// The user from one IP address: each address has its own count and lock.
    PerUserPerIp,
}

impl LockoutType {
    /// The configuration's (and the Admin API's) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerUser => "per_user",
            Self::PerUserPerIp => "per_user_per_ip",
        }
    }
}

/// An authentication method whose failures count towards the lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutMethod {
    /// The password (primary).
    Password,
    /// A code from an authenticator app (secondary).
    Totp,
    /// A one-time code sent by email or SMS.
    OobOtp,
    /// A recovery code (secondary).
    RecoveryCode,
}

impl LockoutMethod {
    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Totp => "totp",
            Self::OobOtp => "oob_otp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// Whether one method's failures count.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutMethodConfig {
    /// Count this method's failures, and refuse it while locked (default true).
    pub enabled: bool,
}

impl Default for LockoutMethodConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Account lockout (Authgear's `authentication.lockout`). Failures are stored in the
/// database, so every server process shares them. When a user's failures (per user, or
/// per user and IP address) reach `max_attempts` within `history_duration_seconds` of each
/// other, sign-in is refused before any credential is checked until
/// `min(minimum_duration_seconds × backoff_factor^n, maximum_duration_seconds)` from now,
/// where `n` is the number of failures beyond `max_attempts`. A completed sign-in clears
/// the failures from its IP address. Independent of `rate_limits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Failures that lock; 0 (the default) turns the lockout off.
    pub max_attempts: i64,
    /// Failures are forgotten when none followed for this many seconds.
    pub history_duration_seconds: i64,
    /// How long the first lock lasts, in seconds.
    pub minimum_duration_seconds: i64,
    /// The longest a lock lasts, in seconds.
    pub maximum_duration_seconds: i64,
    /// Each further failure multiplies the lock's duration by this (≥ 1; 1 = no backoff).
    pub backoff_factor: f64,
    /// `per_user` (default) or `per_user_per_ip`.
    pub lockout_type: LockoutType,
    /// Failed passwords.
    pub password: LockoutMethodConfig,
    /// Failed authenticator app codes.
    pub totp: LockoutMethodConfig,
    /// Failed email and SMS codes.
    pub oob_otp: LockoutMethodConfig,
    /// Failed recovery codes.
    pub recovery_code: LockoutMethodConfig,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            max_attempts: 0,
            history_duration_seconds: 3_600,
            minimum_duration_seconds: 60,
            maximum_duration_seconds: 300,
            backoff_factor: 1.0,
            lockout_type: LockoutType::PerUser,
            password: LockoutMethodConfig::default(),
            totp: LockoutMethodConfig::default(),
            oob_otp: LockoutMethodConfig::default(),
            recovery_code: LockoutMethodConfig::default(),
        }
    }
}

impl LockoutConfig {
    /// Whether failures of `method` count (and a lock refuses it).
    pub fn applies_to(&self, method: LockoutMethod) -> bool {
        self.max_attempts > 0
            && match method {
                LockoutMethod::Password => self.password.enabled,
                LockoutMethod::Totp => self.totp.enabled,
                LockoutMethod::OobOtp => self.oob_otp.enabled,
                LockoutMethod::RecoveryCode => self.recovery_code.enabled,
            }
    }

    /// How long a lock lasts after `beyond` failures past `max_attempts`, in seconds.
    pub fn lock_seconds(&self, beyond: i64) -> i64 {
        let exponent = i32::try_from(beyond.clamp(0, 1_000)).unwrap_or(1_000);
        let secs = self.minimum_duration_seconds as f64 * self.backoff_factor.powi(exponent);
        let max = self.maximum_duration_seconds;
        if secs.is_finite() && secs < max as f64 { (secs.ceil() as i64).max(1) } else { max }
    }

    /// Range checks; the error names the key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        const KEY: &str = "authentication_lockout";
        const YEAR: i64 = 366 * 86_400;
        within(&format!("{KEY}.max_attempts"), self.max_attempts, 0, 1_000_000)?;
        within(&format!("{KEY}.history_duration_seconds"), self.history_duration_seconds, 1, YEAR)?;
        within(&format!("{KEY}.minimum_duration_seconds"), self.minimum_duration_seconds, 1, YEAR)?;
        within(&format!("{KEY}.maximum_duration_seconds"), self.maximum_duration_seconds, 1, YEAR)?;
        if self.maximum_duration_seconds < self.minimum_duration_seconds {
            return Err(ConfigError(format!(
                "`{KEY}.maximum_duration_seconds`: must not be less than minimum_duration_seconds ({})",
                self.minimum_duration_seconds
            )));
        }
        if !(self.backoff_factor.is_finite() && (1.0..=1_000.0).contains(&self.backoff_factor)) {
            return Err(ConfigError(format!(
                "`{KEY}.backoff_factor`: must be a number between 1 and 1000, not {}",
                self.backoff_factor
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_durations_back_off_up_to_the_maximum() {
        let c = LockoutConfig { max_attempts: 3, backoff_factor: 2.0, ..LockoutConfig::default() };
        assert_eq!([0, 1, 2, 3, 50_000].map(|n| c.lock_seconds(n)), [60, 120, 240, 300, 300]);
        let flat = LockoutConfig { max_attempts: 3, ..LockoutConfig::default() };
        assert_eq!(flat.lock_seconds(7), 60);
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let bad = |c: LockoutConfig| c.validate().err().map(|e| e.0).unwrap_or_default();
        assert!(bad(LockoutConfig { backoff_factor: 0.5, ..Default::default() }).contains("backoff_factor"));
        assert!(bad(LockoutConfig { backoff_factor: f64::NAN, ..Default::default() }).contains("backoff_factor"));
        assert!(bad(LockoutConfig { max_attempts: -1, ..Default::default() }).contains("max_attempts"));
        let swapped =
            LockoutConfig { minimum_duration_seconds: 600, maximum_duration_seconds: 60, ..Default::default() };
        assert!(bad(swapped).contains("maximum_duration_seconds"));
        assert!(LockoutConfig::default().validate().is_ok());
    }
}
