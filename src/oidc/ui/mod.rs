//! The Auth UI: server-rendered pages (login, signup, password reset, account choice,
//! consent, logout, settings). Templates are minijinja with HTML auto-escaping; an
//! operator's `ui.template_dir` overrides any of them and the stylesheet.

pub mod account;
pub mod bot_protection;
pub mod code;
pub mod devices;
pub mod flow;
pub mod login;
pub mod mfa;
pub mod passkey;
pub mod reset;
pub mod settings;
pub mod social;

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::oidc::ForbiddenChar;
use crate::service::oauth::authorize::AuthRequest;
use crate::service::oauth::authorize::REQUEST_LIFETIME_US;
use crate::service::time::micros;
use crate::service::time::now;
use crate::service::{Actor, TriggeredBy};
pub use crate::state::ui::FORM_POST_SCRIPT;
use crate::state::{AppState, Peer};

/// The Auth UI's built-in templates and stylesheet, by file name (see
/// [`Ui::load`](crate::state::ui::Ui::load)).
pub const BUILTIN: [(&str, &str); 21] = [
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("login_totp.html", include_str!("templates/login_totp.html")),
    ("login_code.html", include_str!("templates/login_code.html")),
    ("login_link.html", include_str!("templates/login_link.html")),
    ("signup.html", include_str!("templates/signup.html")),
    ("forgot_password.html", include_str!("templates/forgot_password.html")),
    ("bot_protection.html", include_str!("templates/bot_protection.html")),
    ("reset_password.html", include_str!("templates/reset_password.html")),
    ("password_change.html", include_str!("templates/password_change.html")),
    ("reauthenticate.html", include_str!("templates/reauthenticate.html")),
    ("select_account.html", include_str!("templates/select_account.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("logout.html", include_str!("templates/logout.html")),
    ("settings.html", include_str!("templates/settings.html")),
    ("totp_new.html", include_str!("templates/totp_new.html")),
    ("verify_code.html", include_str!("templates/verify_code.html")),
    ("message.html", include_str!("templates/message.html")),
    ("form_post.html", include_str!("templates/form_post.html")),
    ("sso_buttons.html", include_str!("templates/sso_buttons.html")),
    ("authgraph.css", include_str!("templates/authgraph.css")),
];

/// `GET /static/authgraph.css`.
pub async fn stylesheet(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        state.ui.css().to_owned(),
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
        triggered_by: TriggeredBy::User,
    }
}

/// The CSRF token for this browser, setting its cookie if it has none (signed double
/// submit: the form carries an HMAC of the cookie's random value).
pub fn csrf(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    let (jar, value) = match jar.get(state.ui.csrf_cookie_name()) {
        Some(c) if c.value().len() >= 32 => {
            let v = c.value().to_owned();
            (jar, v)
        }
        _ => {
            let v = crate::crypto::b64(crate::crypto::random_bytes::<32>());
            let c = Cookie::build((state.ui.csrf_cookie_name(), v.clone()))
                .path("/")
                .http_only(true)
                .secure(state.ui.secure_cookies())
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
    match (jar.get(state.ui.csrf_cookie_name()), token) {
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

/// What every Auth UI handler reads besides its form or query: the shared state, the
/// caller's address and headers (for the audit actor and the client IP) and the cookies.
pub struct Visit {
    /// The shared application state.
    pub state: AppState,
    /// The peer address of the connection.
    pub peer: Peer,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request cookies.
    pub jar: CookieJar,
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let peer = Peer::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        Ok(Self {
            state: state.clone(),
            peer,
            headers: parts.headers.clone(),
            jar: CookieJar::from_headers(&parts.headers),
        })
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
    match jar.get(state.ui.session_cookie_name()).map(|c| c.value().to_owned()).filter(|v| !v.is_empty()) {
        Some(token) => state.services.account().idp_session(&token, actor).await,
        None => Ok(None),
    }
}

/// The ID of the browser's live session, if any; the error page when the lookup fails.
pub async fn current_session_id(
    state: &AppState,
    jar: &CookieJar,
    actor: &Actor,
) -> Result<Option<crate::domain::ids::SessionId>, Response> {
    current_session(state, jar, actor).await.map(|s| s.map(|s| s.id)).map_err(|e| state.ui.server_error(&e))
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
