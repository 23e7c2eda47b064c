//! The Auth UI: server-rendered pages (login, signup, password reset, account choice,
//! consent, logout, settings). Templates are minijinja with HTML auto-escaping; an
//! operator's `ui.template_dir` overrides any of them and the stylesheet.

pub mod account;
pub mod flow;
pub mod login;
pub mod reset;
pub mod settings;

use std::path::Path;
use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::{Environment, Value, context};

use crate::http::{AppState, Peer};
use crate::oidc::ForbiddenChar;
use crate::service::Actor;
use crate::service::oauth::authorize::AuthRequest;
use crate::service::oauth::authorize::REQUEST_LIFETIME_US;
use crate::service::store::time::micros;
use crate::service::store::time::now;

/// Names of the session and CSRF cookies. Over https they carry the `__Host-` prefix,
/// which browsers only accept from this exact host, `Secure`, with `Path=/`: a sibling
/// subdomain cannot plant them.
fn cookie_names(https: bool) -> (&'static str, &'static str) {
    if https { ("__Host-ag_session", "__Host-ag_csrf") } else { ("ag_session", "ag_csrf") }
}
/// The one inline script: it submits the `form_post` response form.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

const BUILTIN: [(&str, &str); 13] = [
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("signup.html", include_str!("templates/signup.html")),
    ("forgot_password.html", include_str!("templates/forgot_password.html")),
    ("reset_password.html", include_str!("templates/reset_password.html")),
    ("select_account.html", include_str!("templates/select_account.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("logout.html", include_str!("templates/logout.html")),
    ("settings.html", include_str!("templates/settings.html")),
    ("message.html", include_str!("templates/message.html")),
    ("form_post.html", include_str!("templates/form_post.html")),
    ("email_reset.txt", include_str!("templates/email_reset.txt")),
    ("authgraph.css", include_str!("templates/authgraph.css")),
];

/// The loaded templates and stylesheet.
pub struct Ui {
    env: Environment<'static>,
    css: String,
    app_name: String,
    secure_cookies: bool,
    session_cookie: &'static str,
    csrf_cookie: &'static str,
    form_post_csp: HeaderValue,
    session_max_age: Option<i64>,
}

impl Ui {
    /// Loads the built-in templates, each replaced by the file of the same name in
    /// `template_dir` if there is one. Fails on unreadable files and template syntax errors.
    pub fn load(config: &crate::config::Config) -> anyhow::Result<Self> {
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
        for (name, builtin) in BUILTIN {
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
            session_max_age: config.session.persistent_cookie.then_some(config.session.lifetime_seconds),
        })
    }

    /// Renders a template into text (emails).
    pub fn text(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        let ctx = context! { app_name => self.app_name.clone(), ..ctx };
        self.env.get_template(name)?.render(ctx)
    }

    /// Renders a page with the security headers every page carries.
    pub fn page(&self, status: StatusCode, name: &str, ctx: Value) -> Response {
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
        let csp = if name == "form_post.html" {
            self.form_post_csp.clone()
        } else {
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
            )
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
        tracing::error!(cause = %cause.describe(), "auth UI request failed");
        self.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete this request. Please try again in a moment.",
        )
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

    /// A cookie that deletes the session cookie.
    pub fn clear_session(&self) -> Cookie<'static> {
        let mut c =
            Cookie::build((self.session_cookie, "")).path("/").http_only(true).secure(self.secure_cookies).build();
        c.make_removal();
        c
    }
}

/// `GET /static/authgraph.css`.
pub async fn stylesheet(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        state.ui.css.clone(),
    )
        .into_response()
}

/// Who is making a browser request, for the audit log and sessions.
pub fn actor(peer: &Peer, headers: &HeaderMap) -> Actor {
    Actor {
        subject: None,
        ip: Some(peer.0.ip().to_string()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        client_id: None,
    }
}

/// The CSRF token for this browser, setting its cookie if it has none (signed double
/// submit: the form carries an HMAC of the cookie's random value).
pub fn csrf(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    let (jar, value) = match jar.get(state.ui.csrf_cookie) {
        Some(c) if c.value().len() >= 32 => {
            let v = c.value().to_owned();
            (jar, v)
        }
        _ => {
            let v = crate::crypto::b64(crate::crypto::random_bytes::<32>());
            let c = Cookie::build((state.ui.csrf_cookie, v.clone()))
                .path("/")
                .http_only(true)
                .secure(state.ui.secure_cookies)
                .same_site(SameSite::Lax)
                .build();
            (jar.add(c), v)
        }
    };
    let token = state.services.mac_b64("csrf", value.as_bytes());
    (jar, token)
}

/// Whether a form's CSRF token matches this browser's cookie.
fn csrf_ok(state: &AppState, jar: &CookieJar, token: Option<&str>) -> bool {
    match (jar.get(state.ui.csrf_cookie), token) {
        (Some(c), Some(t)) => {
            crate::crypto::ct_eq(state.services.mac_b64("csrf", c.value().as_bytes()).as_bytes(), t.as_bytes())
        }
        _ => false,
    }
}

/// A form body whose CSRF token matched this browser's cookie; any other form is
/// answered with the "form has expired" page before the handler runs.
pub struct CsrfForm(pub Fields);

impl FromRequest<AppState> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(req.headers());
        let Form(fields) = Form::<Fields>::from_request(req, state).await.map_err(|_| {
            state.ui.message(
                StatusCode::BAD_REQUEST,
                "This form could not be read",
                "The browser sent the form in a way the server does not understand. Reload the page and try again.",
            )
        })?;
        if let Err(e) = fields.iter().try_for_each(|(k, v)| ForbiddenChar::check(k, v)) {
            return Err(forbidden_char_page(state, &e));
        }
        if !csrf_ok(state, &jar, fields.get("csrf").map(String::as_str)) {
            return Err(csrf_failed(state));
        }
        Ok(Self(fields))
    }
}

/// The query string of a page, by name (last value wins); a parameter holding NUL is
/// answered with [`forbidden_char_page`] before the handler runs.
pub struct UiQuery(pub Fields);

impl FromRequestParts<AppState> for UiQuery {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let raw = parts.uri.query().unwrap_or("").as_bytes();
        match crate::oidc::parse_params(raw) {
            Ok(pairs) => Ok(Self(pairs.into_iter().collect())),
            Err(e) => Err(forbidden_char_page(state, &e)),
        }
    }
}

/// The page for a form or address with a NUL character in it (status 400).
pub fn forbidden_char_page(state: &AppState, e: &ForbiddenChar) -> Response {
    let message = format!(
        "{}. No field or link may hold this character: remove it (or open the link again from the application) and try again.",
        login::sentence(&e.describe()).trim_end_matches('.')
    );
    state.ui.message(StatusCode::BAD_REQUEST, "This request contains a character that is not allowed", &message)
}

/// The page for a failed CSRF check.
fn csrf_failed(state: &AppState) -> Response {
    state.ui.message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was open too long or was sent from another site. Go back, reload the page and try again.",
    )
}

/// The live browser session of this request, if any.
pub async fn current_session(
    state: &AppState,
    jar: &CookieJar,
    actor: &Actor,
) -> Result<Option<crate::service::account::login::IdpSession>, crate::service::Error> {
    match jar.get(state.ui.session_cookie).map(|c| c.value().to_owned()).filter(|v| !v.is_empty()) {
        Some(token) => state.services.account().idp_session(&token, actor).await,
        None => Ok(None),
    }
}

/// Seals a pending authorization request for the next page.
pub fn seal_flow(state: &AppState, req: &AuthRequest) -> String {
    state.services.seal("authorize", req)
}

/// Opens a sealed pending request; `None` if it was tampered with or is over an hour old.
pub fn open_flow(state: &AppState, flow: Option<&str>) -> Option<AuthRequest> {
    let req: AuthRequest = state.services.unseal("authorize", flow?)?;
    (micros(now()) - req.iat < REQUEST_LIFETIME_US).then_some(req)
}

/// The page language: the first `ui_locales` tag of the request, if it looks like one.
pub fn page_lang(req: &AuthRequest) -> Option<String> {
    let locales = req.ui_locales.as_deref()?;
    let tag = locales.split_ascii_whitespace().next()?;
    let ok = tag.len() <= 35 && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then(|| tag.to_owned())
}

/// The page for a missing or expired pending request.
pub fn flow_expired(state: &AppState) -> Response {
    state.ui.message(
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "Sign-in requests are valid for one hour. Go back to the application and start signing in again.",
    )
}

/// Form fields of a page, by name (last value wins).
pub type Fields = std::collections::HashMap<String, String>;

/// A shared handle to the UI.
pub type SharedUi = Arc<Ui>;
