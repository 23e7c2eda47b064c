//! The parts of sign-in around the second factor: skipping it on a remembered device,
//! remembering the device after it, enrolling an authenticator app when `mfa.mode` is
//! `required` and no grace period lasts, and the nudge to set one up during a grace period.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;

use super::login::{after_login, login_refused, second_factor_page, sentence};
use super::{CsrfForm, Visit, actor, csrf, current_session_id};
use crate::domain::ids::SessionId;
use crate::service::Actor;
use crate::service::account::login::{IdpSession, LoginError, LoginOutcome};
use crate::service::account::mfa_enrolment::EnrolledSignIn;
use crate::service::account::totp::TotpEnrolment;
use crate::service::admin::users::User;
use crate::state::AppState;

/// After a first factor that asks for a second: a live device token of this browser
/// signs in at once; otherwise (no cookie, a wrong or expired token) the second-factor page.
pub(super) async fn second_factor_or_device(
    state: &AppState,
    jar: CookieJar,
    flow: &str,
    pending: &str,
    actor: &Actor,
    current: Option<SessionId>,
) -> Response {
    let token = jar.get(state.ui.device_cookie_name()).map(|c| c.value().to_owned()).unwrap_or_default();
    if !token.is_empty() {
        match state.services.account().login_with_device_token(pending, flow, &token, actor, current).await {
            Ok(Some(next)) => return Box::pin(super::code::outcome(state, jar, flow, next, actor, current)).await,
            Ok(None) => {}
            Err(e) => return login_refused(state, jar, flow, e).await,
        }
    }
    second_factor_page(state, jar, StatusCode::OK, flow, pending, None, false).await
}

/// Signed in after a second factor: the session cookie and, when the user ticked "Don't
/// ask again on this device", a device-token cookie.
pub(super) async fn signed_in_after_second_factor(
    state: &AppState,
    jar: CookieJar,
    flow: &str,
    (user, sess, token): (Box<User>, IdpSession, String),
    remember: bool,
    actor: &Actor,
) -> Response {
    let mut jar = super::social::finish_link(state, jar, sess.user_id, actor).await;
    if remember {
        match state.services.account().remember_device(&sess, actor).await {
            Ok(Some(d)) => jar = jar.add(state.ui.device_cookie(d.token, d.max_age_seconds)),
            Ok(None) => {}
            Err(e) => return state.ui.server_error(&e),
        }
    }
    super::login::signed_in(state, jar, flow, user, sess, token).await
}

/// Signed in during an MFA grace period: the session cookie, and a page that asks the
/// user to set up two-factor authentication now or later.
pub(super) fn signed_in_during_grace(state: &AppState, jar: CookieJar, flow: &str, token: String) -> Response {
    let ctx = context! {
        title => "Set up two-factor authentication now",
        message => "This service requires two-factor authentication. You can still sign in without it for a limited time: add an authenticator app now to keep access once that time is over.",
        link => "/settings/totp", link_text => "Set up two-factor authentication",
        later_link => after_login(flow), later_text => "Later",
    };
    (jar.add(state.ui.session_cookie(token)), state.ui.page(StatusCode::OK, "message.html", ctx)).into_response()
}

/// The enrolment page a sign-in must go through (`required` mode, no grace period).
pub(super) fn enrolment_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    enrolment: &TotpEnrolment,
    display_name: &str,
    error: Option<&str>,
) -> Response {
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, error, flow, display_name,
        login => true,
        intro => "This service requires two-factor authentication. Set up an authenticator app to finish signing in.",
        qr_svg => enrolment.qr_svg.clone(),
        uri => enrolment.uri.clone(),
        secret => enrolment.secret_base32.clone(),
        pending => enrolment.pending.clone(),
    };
    (jar, state.ui.page(status, "totp_new.html", ctx)).into_response()
}

/// `POST /login/mfa/enrol`: the first code of the authenticator app enrolled during
/// sign-in. A right one shows the recovery codes once, with the session cookie set and a
/// link onwards; a wrong one shows the same enrolment again (400); a tampered or expired
/// state goes back to the login page.
pub async fn enrol_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let actor = actor(&peer, &headers);
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let field = |n: &str| f.get(n).cloned().unwrap_or_default();
    let (flow, pending, name) = (field("flow"), field("pending"), field("display_name"));
    let account = state.services.account();
    match account.login_with_enrolment(&pending, &flow, &name, &field("code"), &actor, current).await {
        Ok(EnrolledSignIn { next: LoginOutcome::SignedIn(user, _, token), recovery_codes }) => {
            let jar = super::social::finish_link(&state, jar, user.id, &actor).await;
            let message = "Two-factor authentication is set up. Here are your recovery codes. Store them somewhere safe: each one signs you in once when your authenticator app is not at hand, and they will not be shown again.";
            let ctx = context! {
                title => "Your recovery codes", message, codes => recovery_codes,
                link => after_login(&flow), link_text => "Continue",
            };
            (jar.add(state.ui.session_cookie(token)), state.ui.page(StatusCode::OK, "message.html", ctx))
                .into_response()
        }
        // The sign-in hooks asked for one more step (the recovery codes can be made anew in
        // settings).
        Ok(EnrolledSignIn { next, .. }) => super::code::outcome(&state, jar, &flow, next, &actor, current).await,
        Err(LoginError::WrongCode(msg)) => match account.reopen_login_enrolment(&pending, &flow).await {
            Ok(e) => {
                enrolment_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &e, name.trim(), Some(&sentence(&msg)))
            }
            Err(e) => login_refused(&state, jar, &flow, e).await,
        },
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}
