//! Forgot password and reset by one-time link.

use crate::domain::reason;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;

use super::login::sentence;
use super::{CsrfForm, UiQuery, Visit, actor, csrf};
use crate::config::BotFlow;
use crate::domain::password::describe_policy;
use crate::service::Error;
use crate::service::account::rate_limit::PerIp;
use crate::state::AppState;

/// `GET /forgot_password`.
pub async fn forgot_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = csrf(&state, jar);
    (jar, state.ui.page(StatusCode::OK, "forgot_password.html", context! { csrf })).into_response()
}

/// `POST /forgot_password`: answers at once with the same page whether or not the address
/// belongs to an account; the lookup and the email happen afterwards, so neither the page
/// nor its timing tells who has an account.
pub async fn forgot_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let email = f.get("email").map(|s| s.trim().to_owned()).unwrap_or_default();
    let actor = actor(&peer, &headers);
    if let Err(error) = super::bot_protection::check(&state, BotFlow::ForgotPassword, &f, &actor).await {
        let (jar, csrf) = csrf(&state, jar);
        let ctx = context! { csrf, email, error };
        return (jar, state.ui.page(StatusCode::BAD_REQUEST, "forgot_password.html", ctx)).into_response();
    }
    let ip = actor.ip.clone().unwrap_or_default();
    match state.services.account().allow_per_ip(PerIp::AccountEnumeration, &ip, &actor).await {
        Ok(true) => {}
        Ok(false) => {
            return state.ui.message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                "Too many password resets were asked for from this network in the last minute. Wait a minute and try again.",
            );
        }
        Err(e) => return state.ui.server_error(&e),
    }
    let task = state.clone();
    tokio::spawn(async move {
        if let Err(e) = task.services.account().send_password_reset_link(&email, &actor).await {
            tracing::warn!(cause = %e.describe(), "the password reset email could not be sent");
        }
    });
    state.ui.page(StatusCode::OK, "forgot_password.html", context! { sent => true })
}

fn link_expired(state: &AppState) -> Response {
    state.ui.page(
        StatusCode::BAD_REQUEST,
        "message.html",
        context! {
            title => "This link has expired",
            message => "Reset links work once, for 15 minutes. Ask for a new one.",
            link => "/forgot_password", link_text => "Send a new link",
        },
    )
}

fn reset_page(state: &AppState, jar: CookieJar, status: StatusCode, code: &str, error: Option<&str>) -> Response {
    let (jar, csrf) = csrf(state, jar);
    let policy = describe_policy(&state.services.config().password_policy);
    (jar, state.ui.page(status, "reset_password.html", context! { csrf, code, error, policy })).into_response()
}

/// `GET /reset_password?code=...`.
pub async fn reset_form(State(state): State<AppState>, jar: CookieJar, UiQuery(q): UiQuery) -> Response {
    let code = q.get("code").cloned().unwrap_or_default();
    match state.services.account().reset_code_valid(&code).await {
        Ok(true) => reset_page(&state, jar, StatusCode::OK, &code, None),
        Ok(false) => link_expired(&state),
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /reset_password`.
pub async fn reset_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let code = f.get("code").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    match state.services.account().finish_password_reset(&code, password, &actor(&peer, &headers)).await {
        Ok(_) => state.ui.page(
            StatusCode::OK,
            "message.html",
            context! {
                title => "Your password is changed",
                message => "Every session of your account was signed out. Sign in with the new password.",
                link => "/login", link_text => "Sign in",
            },
        ),
        Err(Error::Invalid { reason: reason::RESET_CODE_INVALID, .. } | Error::NotFound { .. }) => link_expired(&state),
        Err(Error::Invalid { message, .. }) => {
            reset_page(&state, jar, StatusCode::UNPROCESSABLE_ENTITY, &code, Some(&sentence(&message)))
        }
        Err(e) => state.ui.server_error(&e),
    }
}
