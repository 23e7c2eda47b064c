//! Settings of the end-user side: browser sessions, the Auth UI and outgoing email.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

/// Browser (IdP) sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Absolute lifetime of a browser session, in seconds.
    pub lifetime_seconds: i64,
    /// A session unused for this many seconds ends.
    pub idle_timeout_seconds: i64,
    /// Keep the session cookie across browser restarts (`Max-Age`); otherwise it is a
    /// browser-session cookie.
    pub persistent_cookie: bool,
    /// Sensitive settings (change the password, add or remove an authenticator app, new
    /// recovery codes, delete the account) need a sign-in at most this many seconds old;
    /// an older session is asked to confirm it's the user first.
    pub reauthentication_max_age_seconds: i64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifetime_seconds: 30 * 86_400,
            idle_timeout_seconds: 7 * 86_400,
            persistent_cookie: true,
            reauthentication_max_age_seconds: 300,
        }
    }
}

/// The Auth UI (login, signup, password reset, consent, settings pages).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Name shown in page titles and emails.
    pub app_name: String,
    /// Directory whose files override the built-in templates (`login.html`, ...) and
    /// `authgraph.css`; files it lacks fall back to the built-in ones.
    pub template_dir: Option<PathBuf>,
    /// Whether people may create their own accounts on the signup page.
    pub signup_enabled: bool,
    /// Old name of `account_deletion.grace_period_days`, still accepted; unset by default.
    pub deletion_grace_days: Option<i64>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { app_name: "authgraph".into(), template_dir: None, signup_enabled: true, deletion_grace_days: None }
    }
}

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection (local relays and tests only).
    None,
    /// Upgrade with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Outgoing email. Without `host`, messages are written to the log instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// SMTP server host name; unset = log messages instead of sending them.
    pub host: Option<String>,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// User name for SMTP AUTH, if the server needs it.
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    pub password: Option<Secret>,
    /// The `From` address, e.g. `Example <no-reply@example.com>`.
    pub from: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "authgraph <no-reply@localhost>".into(),
        }
    }
}

/// Limits on failed password attempts, counted in the database so that every server
/// process shares them. A limit of 0 turns that limit off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Failed logins per minute from one IP address, over all accounts.
    pub login_failures_per_ip_per_minute: i64,
    /// Failed logins per minute for one login ID from one IP address.
    pub login_failures_per_account_per_minute: i64,
    /// Wrong current passwords per minute on one account's settings page.
    pub password_check_failures_per_user_per_minute: i64,
    /// Sign-ups per minute from one IP address (Authgear's `authentication.signup.per_ip`).
    pub signups_per_ip_per_minute: i64,
    /// New anonymous users per minute from one IP address (Authgear's
    /// `authentication.signup_anonymous.per_ip`); returning anonymous users do not count.
    pub anonymous_signups_per_ip_per_minute: i64,
    /// Forgot-password requests per minute from one IP address (Authgear's
    /// `account_enumeration.per_ip`).
    pub account_enumeration_per_ip_per_minute: i64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            login_failures_per_ip_per_minute: 60,
            login_failures_per_account_per_minute: 10,
            password_check_failures_per_user_per_minute: 10,
            signups_per_ip_per_minute: 10,
            anonymous_signups_per_ip_per_minute: 60,
            account_enumeration_per_ip_per_minute: 10,
        }
    }
}

/// Whether sign-in asks for a second factor (Authgear's `authentication.secondary_authentication_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMode {
    /// Never: a password alone signs in, even for a user with an authenticator app.
    Disabled,
    /// A user who has a second factor must use it; others sign in with a password alone.
    #[default]
    IfExists,
    /// Every user needs a second factor. A user without one signs in while a grace period
    /// lasts (their own, `setMFAGracePeriod`, or `mfa.grace_period`) and is then asked to
    /// set one up; otherwise the sign-in goes through enrolling an authenticator app.
    Required,
}

/// The global MFA grace period of `required` mode (Authgear's
/// `authentication.secondary_authentication_grace_period`): while it lasts, users without
/// a second factor sign in and are only asked to set one up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaGracePeriodConfig {
    /// Whether the global grace period applies.
    pub enabled: bool,
    /// When it ends (RFC 3339); unset = no end while `enabled`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_at: Option<time::OffsetDateTime>,
}

impl MfaGracePeriodConfig {
    /// Whether the global grace period lasts at `t`.
    pub fn lasts_at(&self, t: time::OffsetDateTime) -> bool {
        self.enabled && self.end_at.is_none_or(|end| t < end)
    }
}

/// Multi-factor authentication at sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    /// `disabled`, `if_exists` (default) or `required`.
    pub mode: MfaMode,
    /// The global grace period of `required` mode.
    pub grace_period: MfaGracePeriodConfig,
    /// Whether the second-factor page offers "Don't ask again on this device"
    /// (Authgear's `authentication.device_token.disabled`, inverted).
    pub device_token_enabled: bool,
    /// How long a remembered device skips the second factor, in seconds (30 days).
    pub device_token_lifetime_seconds: i64,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            mode: MfaMode::default(),
            grace_period: MfaGracePeriodConfig::default(),
            device_token_enabled: true,
            device_token_lifetime_seconds: 30 * 86_400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MfaGracePeriodConfig;
    use time::{Duration, OffsetDateTime};

    #[test]
    fn the_global_grace_period_lasts_while_enabled_and_before_its_end() {
        let t = OffsetDateTime::now_utc();
        assert!(!MfaGracePeriodConfig::default().lasts_at(t));
        assert!(MfaGracePeriodConfig { enabled: true, end_at: None }.lasts_at(t));
        assert!(MfaGracePeriodConfig { enabled: true, end_at: Some(t + Duration::hours(1)) }.lasts_at(t));
        assert!(!MfaGracePeriodConfig { enabled: true, end_at: Some(t) }.lasts_at(t));
        assert!(!MfaGracePeriodConfig { enabled: false, end_at: Some(t + Duration::hours(1)) }.lasts_at(t));
    }
}
