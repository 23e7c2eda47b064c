//! Passkeys on the Auth UI: the sign-in form on the login page (a button and the
//! browser's autofill), registration and removal in settings, and the page script
//! (`/static/passkey.js`) that talks to `navigator.credentials` and posts the credential.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::login::{login_refused, sentence, signup_closed, signup_page};
use super::settings::{SignedIn, outcome, render};
use super::{CsrfForm, Visit, actor, current_session_id};
use crate::config::BotFlow;
use crate::domain::reason;
use crate::service::Error;
use crate::service::account::passkeys::PasskeyCeremony;
use crate::state::AppState;

/// The page script, served at `/static/passkey.js`.
pub const SCRIPT: &str = include_str!("templates/passkey.js");

/// `GET /static/passkey.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// What a template is given as `passkey`: the options and the sealed state.
pub fn template_value(c: &PasskeyCeremony) -> minijinja::Value {
    context! { options => c.options.clone(), state => c.state.clone() }
}

/// `POST /login/passkey`: signs in with the passkey the page's script posted.
pub async fn login(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let actor = actor(&peer, &headers);
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let flow = f.get("flow").cloned().unwrap_or_default();
    let sealed = f.get("state").map(String::as_str).unwrap_or("");
    let credential = f.get("credential").map(String::as_str).unwrap_or("");
    match state.services.account().login_with_passkey(sealed, credential, &actor, current).await {
        Ok((user, sess, token)) => super::login::signed_in(&state, jar, &flow, Box::new(user), sess, token).await,
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// `POST /signup/passkey`: creates an account with the login ID typed and the passkey the
/// page's script created (no password), and signs it in; on a promotion's page, adds both
/// to the anonymous user instead.
pub async fn signup(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    if !state.services.config().ui.signup_enabled {
        return signup_closed(&state);
    }
    let actor = actor(&peer, &headers);
    let flow = f.get("flow").cloned().unwrap_or_default();
    let login_id = f.get("login_id").map(|s| s.trim().to_owned()).unwrap_or_default();
    if let Err(msg) = super::bot_protection::check(&state, BotFlow::Signup, &f, &actor).await {
        return signup_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &login_id, Some(msg));
    }
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sealed = f.get("state").map(String::as_str).unwrap_or("");
    let credential = f.get("credential").map(String::as_str).unwrap_or("");
    let promote = super::open_flow(&state, Some(&flow)).and_then(|r| r.promote);
    match state.services.account().signup_with_passkey(&login_id, sealed, credential, &actor, current, promote).await {
        Ok((user, sess, token)) => super::login::signed_in(&state, jar, &flow, Box::new(user), sess, token).await,
        Err(e @ (Error::Internal(_) | Error::Forbidden { .. })) => state.ui.server_error(&e),
        Err(e) => {
            let (status, msg) = match &e {
                Error::Invalid { reason: reason::RATE_LIMITED, .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many accounts were created from this network in the last minute. Wait a minute and try again."
                        .to_owned(),
                ),
                Error::Conflict { message, .. } if message.contains("promoted already") => {
                    (StatusCode::CONFLICT, "This account was promoted already. Sign in to it instead.".to_owned())
                }
                Error::Conflict { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "An account with this login ID already exists. Sign in instead.".to_owned(),
                ),
                other => (StatusCode::UNPROCESSABLE_ENTITY, sentence(&other.describe())),
            };
            signup_page(&state, jar, status, &flow, &login_id, Some(&msg))
        }
    }
}

/// `POST /settings/passkeys`: adds the passkey the page's script created.
pub async fn add(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    let sealed = f.get("state").map(String::as_str).unwrap_or("");
    let credential = f.get("credential").map(String::as_str).unwrap_or("");
    let name = f.get("display_name").map(String::as_str).unwrap_or("");
    let result = state
        .services
        .account()
        .finish_passkey_registration(me.sess.user_id, sealed, credential, name, &me.actor)
        .await;
    outcome(&state, me, result.map(|_| "/settings?done=passkey")).await
}

/// `POST /settings/passkeys/remove`: removes one of the user's passkeys.
pub async fn remove(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    let Some(id) = f.get("identity_id").and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        let msg = "Choose a passkey to remove.";
        return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
    };
    let result = state.services.account().delete_own_passkey(me.sess.user_id, id.into(), &me.actor).await;
    outcome(&state, me, result.map(|()| "/settings?done=passkey-removed")).await
}
