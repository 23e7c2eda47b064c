//! Settings of one-time codes by email and SMS (Authgear's `authenticator.oob_otp`) and of
//! the SMS provider.

use serde::{Deserialize, Serialize};

use super::Secret;

/// How an email one-time code reaches the user (Authgear's `email_otp_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailOtpMode {
    /// A 6-digit code to type into the page.
    #[default]
    Code,
    /// A single-use link ("login link"): opening it, on any device, approves the sign-in
    /// and the browser that asked continues by itself.
    LoginLink,
}

/// One channel of one-time codes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OobChannelConfig {
    /// Passwordless: a code to this channel signs in (and signs up, when signup is open)
    /// with an email address (`email`) or phone number (`sms`) login ID.
    pub primary: bool,
    /// A code to an address or number the user registered as a second factor.
    pub secondary: bool,
}

impl Default for OobChannelConfig {
    fn default() -> Self {
        Self { primary: false, secondary: true }
    }
}

/// Email one-time codes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OobEmailConfig {
    /// Whether codes sign in (`primary`) and serve as a second factor (`secondary`).
    #[serde(flatten)]
    pub channel: OobChannelConfig,
    /// `code` (default) or `login_link`.
    pub mode: EmailOtpMode,
}

/// One-time codes by email and SMS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OobOtpConfig {
    /// Email codes and login links.
    pub email: OobEmailConfig,
    /// SMS codes.
    pub sms: OobChannelConfig,
    /// Seconds a code is valid (Authgear: 300).
    pub code_lifetime_seconds: i64,
    /// Seconds a login link is valid (Authgear: 20 minutes).
    pub link_lifetime_seconds: i64,
    /// Wrong codes after which a code is revoked (Authgear: 5).
    pub max_failed_attempts: i32,
    /// Seconds before another code may be sent to the same address or number (Authgear: 60).
    pub resend_cooldown_seconds: i64,
    /// Digits of a code (Authgear: 6).
    pub code_digits: usize,
}

impl Default for OobOtpConfig {
    fn default() -> Self {
        Self {
            email: OobEmailConfig::default(),
            sms: OobChannelConfig::default(),
            code_lifetime_seconds: 300,
            link_lifetime_seconds: 20 * 60,
            max_failed_attempts: 5,
            resend_cooldown_seconds: 60,
            code_digits: 6,
        }
    }
}

/// Which SMS provider sends text messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// Write messages to the server log (development).
    #[default]
    Log,
    /// POST a JSON body signed with HMAC-SHA256 to `sms.webhook.url`.
    Webhook,
    /// Twilio's REST API (`Messages.json`, basic auth with the account SID and auth token).
    Twilio,
}

/// The generic SMS webhook: `POST url` with `{"to", "body", "type", "app_name"}` and the
/// header `x-authgraph-signature: <hex HMAC-SHA256 of the body under secret>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsWebhookConfig {
    /// The receiver's URL.
    pub url: Option<String>,
    /// The HMAC key.
    pub secret: Option<Secret>,
}

/// Twilio's Messages API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// The API's base URL (a local listener in tests).
    pub base_url: String,
    /// Account SID (`AC…`).
    pub account_sid: String,
    /// Auth token.
    pub auth_token: Option<Secret>,
    /// The sender number, E.164; or use `messaging_service_sid`.
    pub from: Option<String>,
    /// A messaging service (`MG…`) instead of `from`.
    pub messaging_service_sid: Option<String>,
}

/// Twilio's public API base URL.
pub const TWILIO_API: &str = "https://api.twilio.com";

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            base_url: TWILIO_API.into(),
            account_sid: String::new(),
            auth_token: None,
            from: None,
            messaging_service_sid: None,
        }
    }
}

/// Outgoing SMS.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// `log` (default), `webhook` or `twilio`.
    pub provider: SmsProvider,
    /// The generic webhook provider.
    pub webhook: SmsWebhookConfig,
    /// The Twilio provider.
    pub twilio: TwilioConfig,
}

/// Limits on messages sent, per Authgear's defaults (`messaging.*`). 0 turns one off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagingLimits {
    /// SMS per minute from one IP address (Authgear: 60).
    pub sms_per_ip_per_minute: i64,
    /// SMS per hour to one phone number (Authgear: 10).
    pub sms_per_target_per_hour: i64,
    /// Emails per minute from one IP address (Authgear: 200).
    pub email_per_ip_per_minute: i64,
    /// Emails per day to one address (Authgear: 50).
    pub email_per_target_per_day: i64,
    /// Wrong codes per minute from one IP address, over all targets (Authgear's
    /// `verification.*.validate.per_ip`: 60).
    pub code_failures_per_ip_per_minute: i64,
}

impl Default for MessagingLimits {
    fn default() -> Self {
        Self {
            sms_per_ip_per_minute: 60,
            sms_per_target_per_hour: 10,
            email_per_ip_per_minute: 200,
            email_per_target_per_day: 50,
            code_failures_per_ip_per_minute: 60,
        }
    }
}
