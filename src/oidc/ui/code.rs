//! Sign-in with a one-time code by email or SMS, or with an email login link: the code
//! page, resending, the second factor by code, and the page a login link opens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use uuid::Uuid;

use super::login::{login_refused, second_factor_page, sentence};
use super::{CsrfForm, Fields, UiQuery, Visit, actor, csrf, current_session_id, open_flow, page_lang};
use crate::config::BotFlow;
use crate::domain::ids::AuthenticatorId;
use crate::service::account::code_login::CodeChallenge;
use crate::service::account::login::{LoginError, LoginOutcome};
use crate::service::account::otp::{Channel, NotSent};
use crate::state::AppState;

/// Seconds between two looks of the page that waits for a login link.
const POLL_SECONDS: u32 = 3;

/// The page that asks for the code, or waits for the login link.
pub(super) async fn code_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    c: &CodeChallenge,
    error: Option<&str>,
) -> Response {
    let req = open_flow(state, Some(flow));
    let client = match &req {
        Some(r) => state.services.applications().cached(&r.client_id).await.ok().flatten().map(|a| a.name),
        None => None,
    };
    let cooldown = match c.not_sent {
        Some(NotSent::Cooldown(s)) => Some(s),
        _ => None,
    };
    let mfa = &state.services.config().mfa;
    let remember_enabled = c.second_factor && mfa.device_token_enabled;
    let remember_days = mfa.device_token_lifetime_seconds / 86_400;
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, flow, error, cooldown, client_name => client, lang => req.as_ref().and_then(page_lang),
        remember_enabled, remember_days,
        pending => c.pending.clone(), masked => c.masked.clone(), link => c.link,
        channel => if c.channel == Channel::Sms { "sms" } else { "email" },
        digits => state.services.config().oob_otp.code_digits, poll_seconds => POLL_SECONDS,
    };
    (jar, state.ui.page(status, "login_code.html", ctx)).into_response()
}

/// Where a finished step leads: the session (with a nudge to set up a second factor
/// during an MFA grace period), the second factor (skipped on a remembered device), or
/// the enrolment of an authenticator app that `required` mode asks for.
pub(super) async fn outcome(
    state: &AppState,
    jar: CookieJar,
    flow: &str,
    o: LoginOutcome,
    actor: &crate::service::Actor,
    current: Option<crate::domain::ids::SessionId>,
) -> Response {
    match o {
        LoginOutcome::SignedIn(user, sess, token) => {
            let jar = super::social::finish_link(state, jar, user.id, actor).await;
            super::login::signed_in(state, jar, flow, user, sess, token).await
        }
        LoginOutcome::SecondFactor(pending) => {
            super::mfa::second_factor_or_device(state, jar, flow, &pending, actor, current).await
        }
        LoginOutcome::SignedInWithoutSecondFactor(user, _, token) => {
            let jar = super::social::finish_link(state, jar, user.id, actor).await;
            super::mfa::signed_in_during_grace(state, jar, flow, token)
        }
        LoginOutcome::EnrolmentRequired(e) => {
            super::mfa::enrolment_page(state, jar, StatusCode::OK, flow, &e, "", None)
        }
    }
}

fn field(f: &Fields, name: &str) -> String {
    f.get(name).cloned().unwrap_or_default()
}

/// `POST /login/code`: sends a code (or a login link) to the login ID typed on the
/// sign-in page.
///
/// Asking for a code is a sign-in attempt: the sign-in form's bot-protection token is
/// checked by the sign-in itself, as for a password (the configuration's call unless an
/// `authentication.*` hook decides).
pub async fn send(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let actor = actor(&peer, &headers);
    let flow = field(&f, "flow");
    let typed = field(&f, "login_id");
    let account = state.services.account();
    let token = account.bot_token_field().and_then(|name| f.get(name).cloned());
    match account.start_code_login(&typed, &flow, token.as_deref(), &actor).await {
        Ok(c) => code_page(&state, jar, StatusCode::OK, &flow, &c, None).await,
        Err(LoginError::BotProtection(r)) => super::login::challenge_page(&state, jar, &flow, Some(&typed), &r).await,
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// `POST /login/code/resend`.
pub async fn resend(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let actor = actor(&peer, &headers);
    let flow = field(&f, "flow");
    if let Err(msg) = super::bot_protection::check(&state, BotFlow::SendCode, &f, &actor).await {
        let pending = field(&f, "pending");
        return match state.services.account().code_challenge(&pending, &flow) {
            Some(c) => code_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &c, Some(msg)).await,
            None => login_refused(&state, jar, &flow, LoginError::SecondFactorExpired).await,
        };
    }
    match state.services.account().resend_code(&field(&f, "pending"), &flow, &actor).await {
        Ok(c) => code_page(&state, jar, StatusCode::OK, &flow, &c, None).await,
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// `POST /login/mfa/send`: a code to one of the user's second-factor addresses.
pub async fn send_second_factor(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let actor = actor(&peer, &headers);
    let flow = field(&f, "flow");
    let pending = field(&f, "pending");
    let Ok(id) = Uuid::parse_str(field(&f, "authenticator").trim()) else {
        let msg = "Choose one of the listed ways to get a code.";
        return second_factor_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &pending, Some(msg), false).await;
    };
    let account = state.services.account();
    match account.start_second_factor_code(&pending, &flow, AuthenticatorId::from(id), &actor).await {
        Ok(c) => code_page(&state, jar, StatusCode::OK, &flow, &c, None).await,
        Err(LoginError::CodeUnavailable(msg)) => {
            let msg = sentence(&msg);
            second_factor_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &pending, Some(&msg), false).await
        }
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// `POST /login/code/verify`.
pub async fn verify(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let actor = actor(&peer, &headers);
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let flow = field(&f, "flow");
    let pending = field(&f, "pending");
    let account = state.services.account();
    let remember = f.get("remember_device").is_some_and(|v| v == "on");
    match account.login_with_code(&pending, &flow, &field(&f, "code"), &actor, current).await {
        // A second factor by code, with "Don't ask again on this device" ticked.
        Ok(LoginOutcome::SignedIn(user, sess, token)) if remember => {
            super::mfa::signed_in_after_second_factor(&state, jar, &flow, (user, sess, token), true, &actor).await
        }
        Ok(o) => outcome(&state, jar, &flow, o, &actor, current).await,
        Err(LoginError::WrongCode(msg)) => match account.code_challenge(&pending, &flow) {
            Some(c) => code_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &c, Some(&sentence(&msg))).await,
            None => login_refused(&state, jar, &flow, LoginError::SecondFactorExpired).await,
        },
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// `GET /login/link/wait`: the page waiting for its login link to be opened.
pub async fn wait(Visit { state, peer, headers, jar }: Visit, UiQuery(q): UiQuery) -> Response {
    let actor = actor(&peer, &headers);
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let flow = q.get("flow").cloned().unwrap_or_default();
    let pending = q.get("pending").cloned().unwrap_or_default();
    let account = state.services.account();
    match account.login_with_link(&pending, &flow, &actor, current).await {
        Ok(Some(o)) => outcome(&state, jar, &flow, o, &actor, current).await,
        Ok(None) => match account.code_challenge(&pending, &flow) {
            Some(c) => code_page(&state, jar, StatusCode::OK, &flow, &c, None).await,
            None => login_refused(&state, jar, &flow, LoginError::SecondFactorExpired).await,
        },
        Err(LoginError::WrongCode(msg)) => match account.code_challenge(&pending, &flow) {
            Some(c) => code_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &c, Some(&sentence(&msg))).await,
            None => login_refused(&state, jar, &flow, LoginError::SecondFactorExpired).await,
        },
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

fn link_gone(state: &AppState) -> Response {
    state.ui.page(
        StatusCode::BAD_REQUEST,
        "message.html",
        context! {
            title => "This link has expired",
            message => "Sign-in links work once, for a limited time. Ask for a new one on the sign-in page.",
            link => "/login", link_text => "Sign in",
        },
    )
}

/// `GET /login/link?token=…`: asks to approve the sign-in (a mail scanner that follows
/// links approves nothing).
pub async fn link_form(State(state): State<AppState>, jar: CookieJar, UiQuery(q): UiQuery) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    match state.services.account().login_link_target(&token).await {
        Ok(Some(masked)) => {
            let (jar, csrf) = csrf(&state, jar);
            (jar, state.ui.page(StatusCode::OK, "login_link.html", context! { csrf, token, masked })).into_response()
        }
        Ok(None) => link_gone(&state),
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /login/link`: approves the sign-in; the page that asked continues.
pub async fn link_approve(Visit { state, peer, headers, jar: _ }: Visit, CsrfForm(f): CsrfForm) -> Response {
    match state.services.account().approve_login_link(&field(&f, "token"), &actor(&peer, &headers)).await {
        Ok(true) => state.ui.page(StatusCode::OK, "login_link.html", context! { approved => true }),
        Ok(false) => link_gone(&state),
        Err(e) => state.ui.server_error(&e),
    }
}
