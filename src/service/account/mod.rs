//! End users acting on their own account through the Auth UI: login and browser sessions,
//! signup, settings, password reset, the rate limits and the account lockout that guard them, and
//! outgoing mail.

pub mod lockout;
pub mod login;
pub mod mail;
pub mod password_reset;
pub mod rate_limit;
pub mod recovery_codes;
pub mod settings;
pub mod signup;
pub mod totp;
