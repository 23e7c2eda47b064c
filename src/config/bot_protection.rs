//! Bot protection (Authgear's `bot_protection`): a Cloudflare Turnstile or Google
//! reCAPTCHA challenge on the signup, sign-in, send-code and forgot-password forms.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Cloudflare Turnstile's official verification endpoint.
pub const TURNSTILE_VERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";
/// Cloudflare Turnstile's official widget script.
pub const TURNSTILE_SCRIPT_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/api.js";
/// Google reCAPTCHA's official verification endpoint (v2 and v3).
pub const RECAPTCHA_VERIFY_URL: &str = "https://www.google.com/recaptcha/api/siteverify";
/// Google reCAPTCHA's official script (v2 and v3; v3 adds `?render=<site key>`).
pub const RECAPTCHA_SCRIPT_URL: &str = "https://www.google.com/recaptcha/api.js";

/// Which challenge provider checks that a person sends the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotProvider {
    /// Cloudflare Turnstile (Authgear's name for it).
    Cloudflare,
    /// Google reCAPTCHA v2 (the checkbox).
    Recaptchav2,
    /// Google reCAPTCHA v3 (invisible, scored).
    Recaptchav3,
}

impl BotProvider {
    /// The form field the provider's script fills with its token.
    pub fn token_field(self) -> &'static str {
        match self {
            Self::Cloudflare => "cf-turnstile-response",
            Self::Recaptchav2 | Self::Recaptchav3 => "g-recaptcha-response",
        }
    }

    /// The provider's official verification endpoint.
    pub fn default_verify_url(self) -> &'static str {
        match self {
            Self::Cloudflare => TURNSTILE_VERIFY_URL,
            Self::Recaptchav2 | Self::Recaptchav3 => RECAPTCHA_VERIFY_URL,
        }
    }

    /// The provider's official script.
    pub fn default_script_url(self) -> &'static str {
        match self {
            Self::Cloudflare => TURNSTILE_SCRIPT_URL,
            Self::Recaptchav2 | Self::Recaptchav3 => RECAPTCHA_SCRIPT_URL,
        }
    }

    /// The name used in the configuration and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cloudflare => "cloudflare",
            Self::Recaptchav2 => "recaptchav2",
            Self::Recaptchav3 => "recaptchav3",
        }
    }
}

/// Whether a flow asks for the challenge (Authgear's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotMode {
    /// Every submission of the form needs a verified token.
    #[default]
    Always,
    /// The form has no challenge.
    Never,
}

/// The forms that can ask for the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotFlow {
    /// Creating an account.
    Signup,
    /// Signing in with a password.
    Login,
    /// Sending a one-time code by email or SMS.
    SendCode,
    /// Asking for a password reset link.
    ForgotPassword,
}

impl BotFlow {
    /// The flow's name: its key under `requirements`, and the reCAPTCHA v3 action the
    /// page asks for and the server expects back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::SendCode => "send_code",
            Self::ForgotPassword => "forgot_password",
        }
    }
}

/// Per flow, whether it asks for the challenge; each defaults to `always`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotRequirements {
    /// The signup form.
    pub signup: BotMode,
    /// The sign-in (password) form.
    pub login: BotMode,
    /// Sending a one-time code by email or SMS.
    pub send_code: BotMode,
    /// The forgot-password form.
    pub forgot_password: BotMode,
}

/// Bot protection. Off unless `enabled`; then `provider`, `site_key` and `secret_key`
/// are required. The secret can come from the file named by
/// `AUTHGRAPH_BOT_PROTECTION__SECRET_KEY_FILE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotProtectionConfig {
    /// Whether any form asks for the challenge.
    pub enabled: bool,
    /// `cloudflare` (Turnstile), `recaptchav2` or `recaptchav3`.
    pub provider: Option<BotProvider>,
    /// The public site key the page's widget uses.
    pub site_key: String,
    /// The secret key sent to the verification endpoint.
    pub secret_key: Option<Secret>,
    /// Where tokens are verified; default the provider's official `siteverify` URL.
    pub verify_url: Option<String>,
    /// The provider's script; default its official URL. Its origin is the one outside
    /// origin the pages' Content-Security-Policy then allows.
    pub script_url: Option<String>,
    /// reCAPTCHA v3: the lowest score (0.0 to 1.0) accepted as a person.
    pub min_score: f64,
    /// Which flows ask for the challenge.
    pub requirements: BotRequirements,
}

impl Default for BotProtectionConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            provider: None,
            site_key: String::new(),
            secret_key: None,
            verify_url: None,
            script_url: None,
            min_score: 0.5,
            requirements: BotRequirements::default(),
        }
    }
}

impl BotProtectionConfig {
    /// The provider, when bot protection is on (`validate` has checked it is set).
    pub fn active_provider(&self) -> Option<BotProvider> {
        self.provider.filter(|_| self.enabled)
    }

    /// The provider, when `flow` asks for the challenge.
    pub fn required_for(&self, flow: BotFlow) -> Option<BotProvider> {
        let r = &self.requirements;
        let mode = match flow {
            BotFlow::Signup => r.signup,
            BotFlow::Login => r.login,
            BotFlow::SendCode => r.send_code,
            BotFlow::ForgotPassword => r.forgot_password,
        };
        self.active_provider().filter(|_| mode == BotMode::Always)
    }

    /// The verification endpoint in use.
    pub fn verify_url(&self) -> Option<&str> {
        let p = self.active_provider()?;
        Some(self.verify_url.as_deref().unwrap_or(p.default_verify_url()))
    }

    /// The script URL in use.
    pub fn script_url(&self) -> Option<&str> {
        let p = self.active_provider()?;
        Some(self.script_url.as_deref().unwrap_or(p.default_script_url()))
    }

    /// Checks the settings when bot protection is on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| Err(ConfigError(format!("`bot_protection.{key}`: {msg}")));
        if !self.enabled {
            return Ok(());
        }
        if self.provider.is_none() {
            return bad(
                "provider",
                "is required when bot protection is enabled: cloudflare, recaptchav2 or recaptchav3",
            );
        }
        let key_ok = |k: &str| !k.is_empty() && k.len() <= 256 && k.chars().all(|c| c.is_ascii_graphic());
        if !key_ok(&self.site_key) {
            return bad("site_key", "is required: the provider's public site key (printable ASCII, no spaces)");
        }
        if !self.secret_key.as_ref().is_some_and(|s| key_ok(s.expose())) {
            return bad(
                "secret_key",
                "is required: the provider's secret key (or AUTHGRAPH_BOT_PROTECTION__SECRET_KEY_FILE)",
            );
        }
        for (key, url) in [("verify_url", &self.verify_url), ("script_url", &self.script_url)] {
            if let Some(u) = url {
                match url::Url::parse(u) {
                    Ok(p) if (p.scheme() == "http" || p.scheme() == "https") && p.host().is_some() => {}
                    _ => return bad(key, "must be an absolute http(s) URL"),
                }
            }
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return bad("min_score", "must be between 0.0 and 1.0");
        }
        Ok(())
    }
}
