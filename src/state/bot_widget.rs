//! The bot-protection widget on the Auth UI pages whose flow asks for it (see
//! `bot_protection` in the configuration): what the page's template is given to draw it,
//! and the Content-Security-Policy that lets exactly the provider's script and frames in.
//! Without bot protection, or for a flow set to `never`, a page gets neither and loads
//! nothing from outside.

use axum::http::HeaderValue;
use minijinja::Value;
use serde::Serialize;

use crate::config::{BotFlow, BotProtectionConfig, BotProvider};

/// The templates with a form that can carry the widget, and the flow each belongs to.
pub const BOT_PAGES: [(&str, BotFlow); 4] = [
    ("login.html", BotFlow::Login),
    ("login_code.html", BotFlow::SendCode),
    ("signup.html", BotFlow::Signup),
    ("forgot_password.html", BotFlow::ForgotPassword),
];

/// The policy of every page without a widget.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// The policy of a page that carries the passkey script (`/static/passkey.js`) and no widget.
pub const PASSKEY_PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'";

/// The templates that carry the passkey script when passkeys are on.
pub const PASSKEY_PAGES: [&str; 3] = ["login.html", "signup.html", "settings.html"];

/// reCAPTCHA v3's one inline script: on submit, asks `grecaptcha` for a token for the
/// form's action, puts it in the hidden field and sends the form. Its hash is in the
/// page's policy.
pub const RECAPTCHA_V3_SCRIPT: &str = r#"(function(){var t=document.getElementById("bot-protection-token");if(!t||!t.form)return;var f=t.form;f.addEventListener("submit",function(e){if(t.value||typeof grecaptcha==="undefined")return;e.preventDefault();grecaptcha.ready(function(){grecaptcha.execute(t.dataset.sitekey,{action:t.dataset.action}).then(function(v){t.value=v;f.submit();});});});})();"#;

/// Where reCAPTCHA's script loads the rest of itself from.
const RECAPTCHA_STATIC: &str = "https://www.gstatic.com/recaptcha/";

/// What a template is given as `bot_protection` to draw the widget.
#[derive(Debug, Clone, Serialize)]
struct Widget {
    /// `cloudflare`, `recaptchav2` or `recaptchav3`.
    provider: &'static str,
    /// The public site key.
    site_key: String,
    /// The `src` of the provider's script tag.
    script_src: String,
    /// The form field the script fills.
    field: &'static str,
    /// The flow's action name (reCAPTCHA v3 checks it).
    action: &'static str,
    /// reCAPTCHA v3's inline script, else empty.
    inline_script: &'static str,
}

/// The widget and policy per page, computed once when the templates load.
pub struct BotWidgets {
    /// Each page's widget, and whether its flow asks for the challenge by configuration
    /// (else it is drawn only when a sign-in hook asked for the challenge).
    pages: Vec<(&'static str, Value, bool)>,
    csp: Option<HeaderValue>,
}

impl BotWidgets {
    /// The widgets of `config`: none when bot protection is off.
    pub fn new(config: &BotProtectionConfig) -> anyhow::Result<Self> {
        let (Some(provider), Some(script_url)) = (config.active_provider(), config.script_url()) else {
            return Ok(Self { pages: Vec::new(), csp: None });
        };
        let script = url::Url::parse(script_url).map_err(|e| anyhow::anyhow!("`bot_protection.script_url`: {e}"))?;
        let origin = script.origin().ascii_serialization();
        let mut script_src = script.clone();
        if provider == BotProvider::Recaptchav3 {
            script_src.query_pairs_mut().append_pair("render", &config.site_key);
        }
        let mut pages = Vec::new();
        for (name, flow) in BOT_PAGES {
            let widget = Widget {
                provider: provider.as_str(),
                site_key: config.site_key.clone(),
                script_src: script_src.to_string(),
                field: provider.token_field(),
                action: flow.as_str(),
                inline_script: if provider == BotProvider::Recaptchav3 { RECAPTCHA_V3_SCRIPT } else { "" },
            };
            pages.push((name, Value::from(minijinja::value::Serde(widget)), config.required_for(flow).is_some()));
        }
        let scripts = match provider {
            BotProvider::Cloudflare => origin.clone(),
            BotProvider::Recaptchav2 => format!("{origin} {RECAPTCHA_STATIC}"),
            BotProvider::Recaptchav3 => {
                let hash = crate::crypto::sha256(RECAPTCHA_V3_SCRIPT.as_bytes());
                let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, hash);
                format!("{origin} {RECAPTCHA_STATIC} 'sha256-{b64}'")
            }
        };
        let csp = HeaderValue::from_str(&format!(
            "default-src 'none'; script-src {scripts}; frame-src {origin}; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'"
        ))?;
        Ok(Self { pages, csp: Some(csp) })
    }

    /// The widget and the policy for the page `name`, if its flow asks for the challenge
    /// or `forced` (a sign-in hook asked for it) and bot protection is on.
    pub fn for_page(&self, name: &str, forced: bool) -> Option<(&Value, &HeaderValue)> {
        let widget =
            self.pages.iter().find(|(n, _, required)| *n == name && (*required || forced)).map(|(_, w, _)| w)?;
        Some((widget, self.csp.as_ref()?))
    }
}
