//! `/oauth2/authorize` (GET and POST) and its continuation after each Auth UI page:
//! validates the request, then sends the browser to log in, choose an account, consent,
//! or back to the client with a code or an error (query or `form_post`, with RFC 9207 `iss`).

use super::ui::Visit;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;

use super::ui::{FORM_POST_SCRIPT, UiQuery, actor, current_session, flow_expired, open_flow, seal_flow};
use crate::service::Actor;
use crate::service::account::login::IdpSession;
use crate::service::oauth::authorize::AuthRequest;
use crate::service::oauth::authorize::AuthorizeError;
use crate::service::oauth::authorize::AuthorizeParams;
use crate::service::oauth::authorize::Next;
use crate::service::oauth::authorize::RedirectError;
use crate::state::{AppState, Peer};

fn params(pairs: Vec<(String, String)>) -> Result<AuthorizeParams, String> {
    let mut p = AuthorizeParams::default();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "client_id" => &mut p.client_id,
            "redirect_uri" => &mut p.redirect_uri,
            "response_type" => &mut p.response_type,
            "response_mode" => &mut p.response_mode,
            "scope" => &mut p.scope,
            "state" => &mut p.state,
            "nonce" => &mut p.nonce,
            "code_challenge" => &mut p.code_challenge,
            "code_challenge_method" => &mut p.code_challenge_method,
            "prompt" => &mut p.prompt,
            "max_age" => &mut p.max_age,
            "login_hint" => &mut p.login_hint,
            "id_token_hint" => &mut p.id_token_hint,
            "ui_locales" => &mut p.ui_locales,
            "request" => &mut p.request,
            "request_uri" => &mut p.request_uri,
            "x_page" => &mut p.x_page,
            // Unknown parameters, Authgear's `x_*` among them, are ignored.
            _ => continue,
        };
        if !seen.insert(k.clone()) {
            return Err(format!("The parameter “{k}” appears more than once."));
        }
        if v.len() > super::MAX_ECHOED_PARAM {
            return Err(format!("The parameter “{k}” is longer than {} bytes.", super::MAX_ECHOED_PARAM));
        }
        // OIDC Core §3.1.2.1: an empty parameter is treated as absent.
        if !v.is_empty() {
            *slot = Some(v);
        }
    }
    Ok(p)
}

/// `GET|POST /oauth2/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    peer: Peer,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let pairs = match super::request_params(&method, &uri, &body) {
        Ok(pairs) => pairs,
        Err(e) => return super::ui::forbidden_char_page(&state, &e),
    };
    let p = match params(pairs) {
        Ok(p) => p,
        Err(msg) => return state.ui.message(StatusCode::BAD_REQUEST, "Invalid sign-in request", &msg),
    };
    match state.services.oauth().validate_authorize(p).await {
        Ok(req) => proceed(&state, &jar, req, &actor(&peer, &headers)).await,
        Err(AuthorizeError::Page(e)) => state.ui.message(StatusCode::BAD_REQUEST, "Invalid sign-in request", &e.0),
        Err(AuthorizeError::Redirect(e, req)) => respond(&state, &req, Err(e)),
        Err(AuthorizeError::Server(e)) => state.ui.server_error(&e),
    }
}

/// `GET /oauth2/authorize/resume?flow=...`: where the Auth UI pages send the browser back.
pub async fn resume(Visit { state, peer, headers, jar }: Visit, UiQuery(q): UiQuery) -> Response {
    match open_flow(&state, q.get("flow").map(String::as_str)) {
        Some(req) => proceed(&state, &jar, req, &actor(&peer, &headers)).await,
        None => flow_expired(&state),
    }
}

/// Takes the request one step further for this browser. When the browser must sign in,
/// the answer is the login page itself (as `GET /login?flow=…` would show it): one round
/// trip fewer than a redirect to it, before the first page the user sees.
pub async fn proceed(state: &AppState, jar: &CookieJar, req: AuthRequest, actor: &Actor) -> Response {
    let sess = match current_session(state, jar, actor).await {
        Ok(s) => s,
        Err(e) => return state.ui.server_error(&e),
    };
    let next = match state.services.oauth().authorize_next(&req, sess.as_ref()).await {
        Ok(n) => n,
        Err(e) => return state.ui.server_error(&e),
    };
    if matches!(next, Next::Login) && !signup_first(state, &req) {
        let flow = seal_flow(state, &req);
        return super::ui::login::login_page_for(state, jar.clone(), &req, &flow).await;
    }
    step(state, &req, next)
}

/// Takes the request one step further with the browser's session `sess` (read from its
/// cookie, or just created by a sign-in).
pub async fn proceed_with(state: &AppState, req: AuthRequest, sess: Option<&IdpSession>) -> Response {
    match state.services.oauth().authorize_next(&req, sess).await {
        Ok(next) => step(state, &req, next),
        Err(e) => state.ui.server_error(&e),
    }
}

/// Whether the request opens on the signup page rather than the login page.
fn signup_first(state: &AppState, req: &AuthRequest) -> bool {
    req.signup_first && state.services.config().ui.signup_enabled
}

/// The answer for the request's next step: a redirect to the Auth UI page it needs, or the
/// response to the client.
fn step(state: &AppState, req: &AuthRequest, next: Next) -> Response {
    let flow = url::form_urlencoded::byte_serialize(seal_flow(state, req).as_bytes()).collect::<String>();
    match next {
        Next::Login if signup_first(state, req) => Redirect::to(&format!("/signup?flow={flow}")).into_response(),
        Next::Login => Redirect::to(&format!("/login?flow={flow}")).into_response(),
        Next::SelectAccount => Redirect::to(&format!("/select_account?flow={flow}")).into_response(),
        Next::Consent => Redirect::to(&format!("/consent?flow={flow}")).into_response(),
        Next::Respond(r) => respond(state, req, r),
        Next::Invalid(msg) => {
            state.ui.message(StatusCode::BAD_REQUEST, "This sign-in request is no longer valid", &msg)
        }
    }
}

/// Sends the authorization response to the client: a code or an error, with `state` and `iss`.
pub fn respond(state: &AppState, req: &AuthRequest, result: Result<String, RedirectError>) -> Response {
    let mut params: Vec<(&str, String)> = match result {
        Ok(code) => vec![("code", code)],
        Err(e) => vec![("error", e.error.to_owned()), ("error_description", e.description)],
    };
    if let Some(s) = &req.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.services.config().public_url()));
    if req.form_post {
        let params: Vec<(String, String)> = params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        return state.ui.page(
            StatusCode::OK,
            "form_post.html",
            context! { action => req.redirect_uri.clone(), params, script => FORM_POST_SCRIPT },
        );
    }
    let mut url = req.redirect_uri.clone();
    url.push(if url.contains('?') { '&' } else { '?' });
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        ser.append_pair(k, v);
    }
    url.push_str(&ser.finish());
    // 303 so that a POSTed request is followed with GET.
    Redirect::to(&url).into_response()
}
