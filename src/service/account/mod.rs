//! End users acting on their own account through the Auth UI: login and browser sessions,
//! signup, settings, password reset, the rate limits, bot protection and account lockout
//! that guard them, and outgoing mail and SMS.

mod anonymous_cleanup;
pub mod bot_protection;
mod code_delivery;
pub mod code_login;
pub mod device_tokens;
mod first_factor;
pub mod fraud_protection;
pub mod lockout;
pub mod login;
pub mod mail;
pub mod messages;
pub mod mfa_enrolment;
pub mod otp;
pub mod passkeys;
pub mod password_change;
pub mod password_reset;
mod promotion;
pub mod rate_limit;
pub mod reauthentication;
pub mod recovery_codes;
mod second_factor_end;
pub mod second_factors;
pub mod settings;
pub mod sign_in_controls;
pub mod signup;
pub mod sms;
pub mod social;
pub mod totp;
pub mod verification;
