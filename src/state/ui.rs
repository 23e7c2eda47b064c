//! The Auth UI's template holder: the loaded templates and stylesheet, page rendering
//! with the security headers every page carries, and the session cookie. The pages
//! themselves and their template files are in `oidc::ui`.

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::{Environment, Value, context};

/// Names of the session and CSRF cookies. Over https they carry the `__Host-` prefix,
/// which browsers only accept from this exact host, `Secure`, with `Path=/`: a sibling
/// subdomain cannot plant them.
fn cookie_names(https: bool) -> (&'static str, &'static str) {
    if https { ("__Host-ag_session", "__Host-ag_csrf") } else { ("ag_session", "ag_csrf") }
}

/// Name of the device-token cookie ("Don't ask again on this device"), by the same rule.
fn device_cookie_name(https: bool) -> &'static str {
    if https { "__Host-ag_device" } else { "ag_device" }
}

/// The one inline script: it submits the `form_post` response form.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

/// The loaded templates and stylesheet.
pub struct Ui {
    env: Environment<'static>,
    css: String,
    app_name: String,
    secure_cookies: bool,
    session_cookie: &'static str,
    csrf_cookie: &'static str,
    form_post_csp: HeaderValue,
    bot_widgets: super::bot_widget::BotWidgets,
    passkeys: bool,
    session_max_age: Option<i64>,
}

impl Ui {
    /// Loads the built-in templates (`builtin`: file name and text; the Auth UI's set is
    /// `oidc::ui::BUILTIN`), each replaced by the file of the same name in
    /// `template_dir` if there is one. Fails on unreadable files and template syntax errors.
    pub fn load(config: &crate::config::Config, builtin: &[(&'static str, &'static str)]) -> anyhow::Result<Self> {
        let dir = config.ui.template_dir.as_deref();
        let read = |name: &str, builtin: &str| -> anyhow::Result<String> {
            match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(p) => std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display())),
                None => Ok(builtin.to_owned()),
            }
        };
        if let Some(d) = dir
            && !Path::new(d).is_dir()
        {
            anyhow::bail!("`ui.template_dir`: {} is not a directory", d.display());
        }
        let mut env = Environment::new();
        let mut css = String::new();
        for &(name, builtin) in builtin {
            let text = read(name, builtin)?;
            if name == "authgraph.css" {
                css = text;
            } else {
                env.add_template_owned(name.to_owned(), text).map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
            }
        }
        let script_hash = crate::crypto::sha256(FORM_POST_SCRIPT.as_bytes());
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, script_hash);
        let form_post_csp = HeaderValue::from_str(&format!(
            "default-src 'none'; script-src 'sha256-{b64}'; style-src 'self'; frame-ancestors 'none'"
        ))?;
        let https = config.public_url().starts_with("https://");
        let (session_cookie, csrf_cookie) = cookie_names(https);
        Ok(Self {
            env,
            css,
            app_name: config.ui.app_name.clone(),
            secure_cookies: https,
            session_cookie,
            csrf_cookie,
            form_post_csp,
            bot_widgets: super::bot_widget::BotWidgets::new(&config.bot_protection)?,
            passkeys: crate::service::account::passkeys::relying_party(&config.public_url(), "").is_some(),
            session_max_age: config.session.persistent_cookie.then_some(config.session.lifetime_seconds),
        })
    }

    /// Renders a template into text (emails).
    pub fn text(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        let ctx = context! { app_name => self.app_name.clone(), ..ctx };
        self.env.get_template(name)?.render(ctx)
    }

    /// Renders a page with the security headers every page carries. A page whose flow
    /// asks for bot protection is given the widget as `bot_protection`, and a policy
    /// that allows the provider's script.
    pub fn page(&self, status: StatusCode, name: &str, ctx: Value) -> Response {
        self.page_with_widget(status, name, ctx, false)
    }

    /// [`Self::page`], with the bot-protection widget also when `challenge` although the
    /// page's flow does not ask for it by configuration: a sign-in hook asked for the
    /// challenge (`bot_protection.mode: always`). Without bot protection, no widget.
    pub fn page_with_widget(&self, status: StatusCode, name: &str, ctx: Value, challenge: bool) -> Response {
        let widget = self.bot_widgets.for_page(name, challenge);
        let ctx = match widget {
            Some((w, _)) => context! { bot_protection => w.clone(), ..ctx },
            None => ctx,
        };
        let body = match self.text(name, ctx) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(template = name, cause = %e, "rendering a page failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown. Try again later.")
                    .into_response();
            }
        };
        let mut res = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
        let h = res.headers_mut();
        let passkey_script = self.passkeys && super::bot_widget::PASSKEY_PAGES.contains(&name);
        let csp = match widget {
            _ if name == "form_post.html" => self.form_post_csp.clone(),
            // The page's own script is allowed next to the provider's.
            Some((_, csp)) if passkey_script => csp
                .to_str()
                .ok()
                .and_then(|c| HeaderValue::from_str(&c.replacen("script-src ", "script-src 'self' ", 1)).ok())
                .unwrap_or_else(|| csp.clone()),
            Some((_, csp)) => csp.clone(),
            None if passkey_script => HeaderValue::from_static(super::bot_widget::PASSKEY_PAGE_CSP),
            None => HeaderValue::from_static(super::bot_widget::PAGE_CSP),
        };
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        res
    }

    /// A page that tells a person what happened and what to do.
    pub fn message(&self, status: StatusCode, title: &str, message: &str) -> Response {
        self.page(status, "message.html", context! { title, message })
    }

    /// The page for a server failure; the cause is logged, never shown.
    pub fn server_error(&self, cause: &crate::service::Error) -> Response {
        if let crate::service::Error::Hook(h) = cause {
            return self.hook_refusal(h);
        }
        tracing::error!(cause = %cause.describe(), "auth UI request failed");
        self.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete this request. Please try again in a moment.",
        )
    }

    /// The page that says a blocking hook stopped the request: the hook's own title and
    /// reason for a refusal, a plain sentence for a failing hook.
    pub fn hook_refusal(&self, h: &crate::service::HookFailure) -> Response {
        match h {
            crate::service::HookFailure::Disallowed { reasons, .. } => {
                let first = reasons.first().cloned().unwrap_or_default();
                let title = first.title.unwrap_or_else(|| "Not allowed".to_owned());
                let reason = first.reason.unwrap_or_else(|| "This request was refused.".to_owned());
                self.message(StatusCode::FORBIDDEN, &title, &reason)
            }
            other => {
                tracing::warn!(reason = other.reason(), detail = %other.message(), "a blocking hook failed an Auth UI request");
                self.message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Something went wrong",
                    "A check this server runs before this step did not answer. Please try again in a moment.",
                )
            }
        }
    }

    /// The session cookie holding `token`.
    pub fn session_cookie(&self, token: String) -> Cookie<'static> {
        let mut c = Cookie::build((self.session_cookie, token))
            .path("/")
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .build();
        if let Some(s) = self.session_max_age {
            c.set_max_age(time::Duration::seconds(s));
        }
        c
    }

    /// The device-token cookie holding `token` for `max_age_seconds`: `HttpOnly`,
    /// `SameSite=Lax`, `Secure` over https.
    pub fn device_cookie(&self, token: String, max_age_seconds: i64) -> Cookie<'static> {
        Cookie::build((device_cookie_name(self.secure_cookies), token))
            .path("/")
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::seconds(max_age_seconds))
            .build()
    }

    /// A cookie that deletes the device-token cookie.
    pub fn clear_device(&self) -> Cookie<'static> {
        let name = device_cookie_name(self.secure_cookies);
        let mut c = Cookie::build((name, "")).path("/").http_only(true).secure(self.secure_cookies).build();
        c.make_removal();
        c
    }

    /// The name of the device-token cookie.
    pub fn device_cookie_name(&self) -> &'static str {
        device_cookie_name(self.secure_cookies)
    }

    /// A cookie that deletes the session cookie.
    pub fn clear_session(&self) -> Cookie<'static> {
        let mut c =
            Cookie::build((self.session_cookie, "")).path("/").http_only(true).secure(self.secure_cookies).build();
        c.make_removal();
        c
    }

    /// The stylesheet served at `/static/authgraph.css`.
    pub fn css(&self) -> &str {
        &self.css
    }

    /// The name of the session cookie.
    pub fn session_cookie_name(&self) -> &'static str {
        self.session_cookie
    }

    /// The name of the CSRF cookie.
    pub fn csrf_cookie_name(&self) -> &'static str {
        self.csrf_cookie
    }

    /// Whether cookies are set `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }
}

/// A shared handle to the UI.
pub type SharedUi = Arc<Ui>;
