//! Social and enterprise login pages: the provider buttons' start, the provider's
//! callback (GET, and POST for Apple's `form_post`), and connecting or disconnecting a
//! provider account in the settings page.

use axum::extract::{Path, RawForm, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde_json::{Value, json};

use super::login::{LinkNotice, login_refused, render_login};
use super::settings::{SignedIn, confirm_first};
use super::{CsrfForm, Visit, actor, current_session};
use crate::domain::ids::{IdentityId, UserId};
use crate::service::Actor;
use crate::service::account::social::{SsoCallback, SsoError, SsoOutcome};
use crate::service::admin::identities::Identity;
use crate::state::AppState;

/// The cookie that keeps a round trip's state, nonce and PKCE verifier.
const COOKIE: &str = "authgraph_sso";
/// The cookie that keeps a pending account link (`login_and_link`) until the user signs
/// in to the account, however they do (password, code, second factor).
const LINK_COOKIE: &str = "authgraph_sso_link";

fn round_trip_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path("/")
        .http_only(true)
        .secure(state.ui.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::minutes(10))
        .build()
}

fn clear_cookie(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build((name, "")).path("/").http_only(true).secure(state.ui.secure_cookies()).build();
    c.make_removal();
    c
}

/// The pending account link of this browser, if any.
pub(super) fn pending_link(jar: &CookieJar) -> Option<String> {
    jar.get(LINK_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
}

/// After any sign-in: adds this browser's pending account link when the user who signed
/// in is the account it is for (`identity.oauth.connected`). A link for another account,
/// an expired one, or one that cannot be added (the provider account was connected
/// elsewhere meanwhile) is dropped, and the sign-in goes on; the cookie goes either way.
pub(super) async fn finish_link(state: &AppState, jar: CookieJar, user_id: UserId, actor: &Actor) -> CookieJar {
    let Some(pending) = pending_link(&jar) else { return jar };
    let jar = jar.add(clear_cookie(state, LINK_COOKIE));
    match state.services.account().sso_link_after_login(&pending, user_id, actor).await {
        Ok(()) | Err(SsoError::LinkExpired) => {}
        Err(SsoError::Server(e)) => tracing::error!(error = ?e, "the pending account link failed"),
        Err(e) => tracing::info!(reason = ?e, "the pending account link was dropped"),
    }
    jar
}

/// One connected account as the settings page lists it.
pub(super) fn connection_view(i: &Identity) -> Value {
    let d = i.details.clone().unwrap_or(Value::Null);
    let profile = d.get("profile").cloned().unwrap_or(Value::Null);
    let label = ["email", "login", "name", "preferred_username"]
        .iter()
        .find_map(|k| profile.get(*k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned))
        .or_else(|| d.get("subject_id").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    json!({"id": i.id.to_string(), "provider": d.get("provider_alias"), "label": label})
}

/// The page for a sign-in through a provider that did not complete.
pub(super) async fn refused(state: &AppState, jar: CookieJar, flow: &str, e: SsoError) -> Response {
    let (status, title, msg) = match e {
        SsoError::UnknownProvider => {
            (StatusCode::NOT_FOUND, "Unknown sign-in provider", "This service has no such sign-in provider.".to_owned())
        }
        SsoError::InvalidState => (
            StatusCode::BAD_REQUEST,
            "This sign-in could not be checked",
            "The answer from the sign-in provider does not belong to a sign-in started in this browser, or it took too long. Go back and sign in again."
                .to_owned(),
        ),
        SsoError::Denied(code) if code == "access_denied" => (
            StatusCode::FORBIDDEN,
            "Sign-in cancelled",
            "The sign-in provider did not let you sign in (access_denied). Nothing was changed; sign in again, or another way.".to_owned(),
        ),
        SsoError::Denied(code) => (
            StatusCode::BAD_GATEWAY,
            "The sign-in provider reported an error",
            format!("The sign-in provider answered with the error `{code}`. Nothing was changed; try again later, or sign in another way."),
        ),
        SsoError::Provider(what) => (
            StatusCode::BAD_GATEWAY,
            "The sign-in provider is not answering",
            format!("{what}. Nothing was changed; try again later, or sign in another way."),
        ),
        SsoError::Rejected(what) => (
            StatusCode::BAD_GATEWAY,
            "The sign-in provider's answer was refused",
            format!("{}. Nothing was changed; sign in again, or another way.", super::login::sentence(&what).trim_end_matches('.')),
        ),
        SsoError::LinkRefused => (
            StatusCode::CONFLICT,
            "An account with this email already exists",
            "The email address of this account at the sign-in provider belongs to an existing account. Sign in to that account the way you usually do."
                .to_owned(),
        ),
        SsoError::ConnectedElsewhere => (
            StatusCode::CONFLICT,
            "This account is connected to another user",
            "This account at the sign-in provider is already connected to another account here. Sign in with it, or disconnect it there first."
                .to_owned(),
        ),
        SsoError::SignupClosed => (
            StatusCode::FORBIDDEN,
            "Signup is closed",
            "No account here is connected to this account at the sign-in provider, and new accounts are created by the administrator of this service."
                .to_owned(),
        ),
        SsoError::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ups",
            "Too many accounts were created from this network in the last minute. Wait a minute and try again.".to_owned(),
        ),
        SsoError::PromotionEmailTaken => (
            StatusCode::CONFLICT,
            "This email address belongs to another account",
            "The email address of this account at the sign-in provider is the login ID of another account here, so it cannot be added to your guest account. Nothing was changed: go back and save your guest account another way, or sign in to the other account."
                .to_owned(),
        ),
        SsoError::AlreadyPromoted => (
            StatusCode::CONFLICT,
            "This account was promoted already",
            "Your guest account has already been saved. Sign in to it instead.".to_owned(),
        ),
        SsoError::LinkExpired => (
            StatusCode::BAD_REQUEST,
            "The account could not be connected",
            "The connection waited too long, you signed out meanwhile, or you signed in to another account than the one with this email address. Start again."
                .to_owned(),
        ),
        SsoError::Login(e) => return login_refused(state, jar, flow, e).await,
        SsoError::Server(e) => return state.ui.server_error(&e),
    };
    (jar, state.ui.message(status, title, &msg)).into_response()
}

/// `POST /sso/oauth2/start`: a provider button of the login or signup page (on a
/// promotion's signup page, the provider account is added to the anonymous user).
pub async fn start(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let flow = f.get("flow").cloned().unwrap_or_default();
    let alias = f.get("alias").cloned().unwrap_or_default();
    let promote = super::open_flow(&state, Some(&flow)).and_then(|r| r.promote);
    let actor = actor(&peer, &headers);
    match state.services.account().sso_start(&alias, &flow, None, promote, &actor).await {
        Ok(s) => (jar.add(round_trip_cookie(&state, s.cookie)), Redirect::to(&s.url)).into_response(),
        Err(e) => refused(&state, jar, &flow, e).await,
    }
}

/// `POST /settings/oauth/connect`: connect a provider account to the signed-in user. A
/// session older than the reauthentication window confirms it's the user first.
pub async fn connect(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    let alias = f.get("alias").cloned().unwrap_or_default();
    match state.services.account().sso_start(&alias, "", Some(me.sess.user_id), None, &me.actor).await {
        Ok(s) => (me.jar.add(round_trip_cookie(&state, s.cookie)), Redirect::to(&s.url)).into_response(),
        Err(e) => refused(&state, me.jar, "", e).await,
    }
}

/// `POST /settings/oauth/disconnect`: remove one of the user's connected accounts (never
/// the last identity). A session older than the reauthentication window confirms first.
pub async fn disconnect(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    let Some(id) = f.get("identity_id").and_then(|v| v.parse::<uuid::Uuid>().ok()).map(IdentityId::from) else {
        return state.ui.message(
            StatusCode::BAD_REQUEST,
            "No such connected account",
            "Reload the settings page and try again.",
        );
    };
    match state.services.account().sso_disconnect(me.sess.user_id, id, &me.actor).await {
        Ok(()) => Redirect::to("/settings").into_response(),
        Err(crate::service::Error::NotFound { .. }) => state.ui.message(
            StatusCode::NOT_FOUND,
            "No such connected account",
            "Reload the settings page and try again.",
        ),
        Err(crate::service::Error::Invalid { message, .. }) => state.ui.message(
            StatusCode::BAD_REQUEST,
            "This account cannot be disconnected",
            &super::login::sentence(&message),
        ),
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /sso/oauth2/callback/{alias}`: Apple's `form_post`. A cross-site POST carries no
/// `SameSite=Lax` cookie, so the parameters go on to the GET callback, which has it.
pub async fn callback_post(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Ok(params) = crate::oidc::parse_params(&body) else {
        return state.ui.message(StatusCode::BAD_REQUEST, "This sign-in could not be read", "Sign in again.");
    };
    let keep = ["code", "state", "error"];
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().filter(|(k, _)| keep.contains(&k.as_str())))
        .finish();
    let alias = url::form_urlencoded::byte_serialize(alias.as_bytes()).collect::<String>();
    Redirect::to(&format!("/sso/oauth2/callback/{alias}?{query}")).into_response()
}

/// `GET /sso/oauth2/callback/{alias}`: where the provider sends the browser back.
pub async fn callback(Visit { state, peer, headers, jar }: Visit, Path(alias): Path<String>, uri: Uri) -> Response {
    let params = match crate::oidc::parse_params(uri.query().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return super::forbidden_char_page(&state, &e),
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let cb = SsoCallback { code: get("code"), state: get("state"), error: get("error") };
    let actor = actor(&peer, &headers);
    let current = match current_session(&state, &jar, &actor).await {
        Ok(s) => s,
        Err(e) => return state.ui.server_error(&e),
    };
    let cookie = jar.get(COOKIE).map(|c| c.value().to_owned());
    let account = state.services.account();
    let flow = account.sso_flow(cookie.as_deref());
    let jar = jar.add(clear_cookie(&state, COOKIE));
    match account.sso_callback(&alias, cb, cookie.as_deref(), &actor, current.as_ref()).await {
        Ok(SsoOutcome::SignedIn(user, sess, token)) => {
            let jar = finish_link(&state, jar, user.id, &actor).await;
            super::login::signed_in(&state, jar, &flow, user, sess, token).await
        }
        Ok(SsoOutcome::Continue(next)) => {
            let current = current.as_ref().map(|s| s.id);
            super::code::outcome(&state, jar, &flow, *next, &actor, current).await
        }
        Ok(SsoOutcome::Connected) => Redirect::to("/settings").into_response(),
        Ok(SsoOutcome::LinkRequired { pending, email, provider }) => {
            let cookie = Cookie::build((LINK_COOKIE, pending.clone()))
                .path("/")
                .http_only(true)
                .secure(state.ui.secure_cookies())
                .same_site(SameSite::Lax)
                .max_age(time::Duration::minutes(10))
                .build();
            let notice = LinkNotice { email: &email, provider: &provider };
            render_login(&state, jar.add(cookie), StatusCode::OK, &flow, Some(&email), None, Some(notice)).await
        }
        Err(e) => refused(&state, jar, &flow, e).await,
    }
}
