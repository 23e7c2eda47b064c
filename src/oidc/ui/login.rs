//! The login and signup pages.

use crate::domain::reason;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;

use super::{CsrfForm, Fields, UiQuery, Visit, actor, csrf, current_session, current_session_id, open_flow, page_lang};
use crate::config::{BotFlow, LoginIdType};
use crate::domain::password::describe_policy;
use crate::service::Error;
use crate::service::account::login::{IdpSession, LoginError, LoginOutcome};
use crate::service::account::password_change::ChangeReason;
use crate::service::admin::users::User;
use crate::state::{AppState, Peer};

fn login_id_label(state: &AppState) -> String {
    let names: Vec<&str> = state
        .services
        .config()
        .login_id
        .types
        .iter()
        .map(|t| match t {
            LoginIdType::Email => "email",
            LoginIdType::Username => "username",
            LoginIdType::Phone => "phone number",
        })
        .collect();
    let text = match names.as_slice() {
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => String::new(),
    };
    let mut c = text.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The label of the "sign in with a code" button, when codes sign in.
fn code_button(state: &AppState) -> Option<&'static str> {
    let o = &state.services.config().oob_otp;
    match (o.email.channel.primary, o.sms.primary, o.email.mode) {
        (true, false, crate::config::EmailOtpMode::LoginLink) => Some("Email me a sign-in link instead"),
        (true, false, _) => Some("Email me a code instead"),
        (false, true, _) => Some("Text me a code instead"),
        (true, true, _) => Some("Send me a code instead"),
        (false, false, _) => None,
    }
}

/// Where to go after logging in: back to the authorization request, or to settings.
pub(super) fn after_login(flow: &str) -> String {
    if flow.is_empty() {
        "/settings".to_owned()
    } else {
        format!(
            "/oauth2/authorize/resume?flow={}",
            url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()
        )
    }
}

/// Where a browser goes once signed in, with its new session cookie: on with the pending
/// authorization request in this same response (back to the client with the code when
/// nothing else is asked, one redirect fewer than through `/oauth2/authorize/resume`), or
/// to the settings without one. `user` is the user as the sign-in read it, so that the
/// request's next step need not read it again.
pub(super) async fn signed_in(
    state: &AppState,
    jar: CookieJar,
    flow: &str,
    user: Box<User>,
    sess: IdpSession,
    token: String,
) -> Response {
    let jar = jar.add(state.ui.session_cookie(token));
    if flow.is_empty() {
        return (jar, Redirect::to(&after_login(flow))).into_response();
    }
    let Some(req) = open_flow(state, Some(flow)) else {
        return (jar, super::flow_expired(state)).into_response();
    };
    let sess = IdpSession { user: sess.user.or(Some(user)), ..sess };
    (jar, crate::oidc::authorize::proceed_with(state, req, Some(&sess)).await).into_response()
}

/// The page language of a pending request.
fn lang(state: &AppState, flow: &str) -> Option<String> {
    open_flow(state, Some(flow)).as_ref().and_then(page_lang)
}

/// The login page. The pending request (opened once) names the app, the language and,
/// unless the form is shown again with what was typed, the login ID hint.
pub(super) async fn login_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    typed: Option<&str>,
    error: Option<&str>,
) -> Response {
    render_login(state, jar, status, flow, typed, error, None).await
}

/// The login page again after the bot-protection check refused a sign-in: the message,
/// and the challenge's widget even where the configuration would not draw it (a sign-in
/// hook asked for the challenge).
pub(super) async fn challenge_page(
    state: &AppState,
    jar: CookieJar,
    flow: &str,
    typed: Option<&str>,
    refusal: &crate::service::account::bot_protection::BotRefusal,
) -> Response {
    render_login_page(state, jar, StatusCode::BAD_REQUEST, flow, typed, Some(refusal.message()), None, true).await
}

/// An account link waiting for the sign-in (`login_and_link`): the email and the
/// provider's name.
pub(super) struct LinkNotice<'a> {
    pub(super) email: &'a str,
    pub(super) provider: &'a str,
}

/// The login page, with the provider buttons, or the notice of a pending account link.
pub(super) async fn render_login(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    typed: Option<&str>,
    error: Option<&str>,
    link: Option<LinkNotice<'_>>,
) -> Response {
    render_login_page(state, jar, status, flow, typed, error, link, false).await
}

/// [`render_login`], with the bot-protection widget whatever the configuration asks of
/// the form when `challenge`.
#[allow(clippy::too_many_arguments)]
async fn render_login_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    typed: Option<&str>,
    error: Option<&str>,
    link: Option<LinkNotice<'_>>,
    challenge: bool,
) -> Response {
    let req = open_flow(state, Some(flow));
    let page = LoginPage { status, flow, typed, error, link, challenge };
    render_login_for(state, jar, req.as_ref(), page).await
}

/// The login page of an authorization request that is open already (`req`, sealed in
/// `flow`): what the authorization endpoint answers to a browser that must sign in.
pub(crate) async fn login_page_for(
    state: &AppState,
    jar: CookieJar,
    req: &crate::service::oauth::authorize::AuthRequest,
    flow: &str,
) -> Response {
    let page = LoginPage { status: StatusCode::OK, flow, typed: None, error: None, link: None, challenge: false };
    render_login_for(state, jar, Some(req), page).await
}

/// What the login page shows besides the pending request.
struct LoginPage<'a> {
    status: StatusCode,
    flow: &'a str,
    typed: Option<&'a str>,
    error: Option<&'a str>,
    link: Option<LinkNotice<'a>>,
    challenge: bool,
}

/// The login page for the pending request `req`.
async fn render_login_for(
    state: &AppState,
    jar: CookieJar,
    req: Option<&crate::service::oauth::authorize::AuthRequest>,
    LoginPage { status, flow, typed, error, link, challenge }: LoginPage<'_>,
) -> Response {
    let client = match req {
        Some(r) => state.services.applications().cached(&r.client_id).await.ok().flatten().map(|a| a.name),
        None => None,
    };
    let login_id = typed.map(str::to_owned).or_else(|| req.and_then(|r| r.login_hint.clone()));
    let passkey = match state.services.account().begin_passkey_login() {
        Ok(c) => c.as_ref().map(super::passkey::template_value),
        Err(e) => return state.ui.server_error(&e),
    };
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, flow, error, client_name => client, lang => req.and_then(page_lang), passkey,
        login_id => login_id.unwrap_or_default(),
        login_id_label => login_id_label(state),
        signup_enabled => state.services.config().ui.signup_enabled,
        code_enabled => code_button(state).is_some(), code_button => code_button(state),
        sso_providers => minijinja::Value::from(minijinja::value::Serde(&state.services.account().sso_providers())),
        link => link.is_some(), link_email => link.as_ref().map(|l| l.email),
        link_provider => link.as_ref().map(|l| l.provider),
    };
    (jar, state.ui.page_with_widget(status, "login.html", ctx, challenge)).into_response()
}

/// The fields of the login and signup forms, with who sends them and the browser's
/// current session (which a new login replaces).
struct Attempt {
    flow: String,
    login_id: String,
    password: String,
    actor: crate::service::Actor,
    current: Option<crate::domain::ids::SessionId>,
}

async fn attempt(
    state: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
    jar: &CookieJar,
    f: Fields,
) -> Result<Attempt, Response> {
    let actor = actor(peer, headers);
    let current = current_session(state, jar, &actor).await.map_err(|e| state.ui.server_error(&e))?.map(|s| s.id);
    Ok(Attempt {
        flow: f.get("flow").cloned().unwrap_or_default(),
        login_id: f.get("login_id").map(|s| s.trim().to_owned()).unwrap_or_default(),
        password: f.get("password").cloned().unwrap_or_default(),
        actor,
        current,
    })
}

/// `GET /login`.
pub async fn login_form(State(state): State<AppState>, jar: CookieJar, UiQuery(q): UiQuery) -> Response {
    let flow = q.get("flow").cloned().unwrap_or_default();
    login_page(&state, jar, StatusCode::OK, &flow, None, None).await
}

/// `POST /login`.
///
/// The bot-protection token is checked by the sign-in itself: whether it is needed is
/// the configuration's call unless an `authentication.*` hook decides (`bot_protection`).
pub async fn login_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let account = state.services.account();
    let token = account.bot_token_field().and_then(|field| f.get(field).cloned());
    let Attempt { flow, login_id, password, actor, current } = match attempt(&state, &peer, &headers, &jar, f).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match account.login_with_password(&login_id, password, token.as_deref(), &actor, current, &flow).await {
        Ok(o) => super::code::outcome(&state, jar, &flow, o, &actor, current).await,
        Err(LoginError::Invalid) => {
            let msg = "The login ID or the password is incorrect.";
            let link = super::social::pending_link(&jar).unwrap_or_default();
            let shown = state.services.account().sso_pending_link(&link);
            let notice = shown.as_ref().map(|(email, provider)| LinkNotice { email, provider });
            render_login(&state, jar, StatusCode::UNAUTHORIZED, &flow, Some(&login_id), Some(msg), notice).await
        }
        Err(LoginError::BotProtection(r)) => challenge_page(&state, jar, &flow, Some(&login_id), &r).await,
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// The page for a refused sign-in (other than a wrong password or code).
pub(super) async fn login_refused(state: &AppState, jar: CookieJar, flow: &str, e: LoginError) -> Response {
    match e {
        LoginError::Invalid => login_page(state, jar, StatusCode::UNAUTHORIZED, flow, None, Some("The login ID or the password is incorrect.")).await,
        LoginError::Disabled(reason) => {
            let msg = match reason {
                Some(r) if !r.is_empty() => format!("Your account is disabled. The administrator's reason: {r}"),
                _ => "Your account is disabled. Contact the administrator of this service.".to_owned(),
            };
            state.ui.message(StatusCode::FORBIDDEN, "Account disabled", &msg)
        }
        LoginError::PasswordChangeRequired { pending, why } => {
            password_change_page(state, jar, StatusCode::OK, flow, &pending, why, None).await
        }
        LoginError::PasswordRejected(msg) => {
            login_page(state, jar, StatusCode::BAD_REQUEST, flow, None, Some(&sentence(&msg))).await
        }
        LoginError::DeletionScheduled => state.ui.message(
            StatusCode::FORBIDDEN,
            "Account scheduled for deletion",
            "This account is scheduled for deletion and can no longer sign in. Contact the administrator of this service to keep it.",
        ),
        LoginError::RateLimited => state.ui.message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts",
            "Sign-in is paused for this account and network after too many failed attempts. Wait a minute and try again.",
        ),
        LoginError::SecondFactorExpired => {
            let msg = "Your sign-in took too long or is no longer valid. Sign in again.";
            login_page(state, jar, StatusCode::BAD_REQUEST, flow, None, Some(msg)).await
        }
        LoginError::Locked { until } => locked_page(state, until),
        LoginError::WrongCode(msg) | LoginError::CodeUnavailable(msg) => {
            login_page(state, jar, StatusCode::BAD_REQUEST, flow, None, Some(&sentence(&msg))).await
        }
        LoginError::DeliveryFailed => state.ui.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The message could not be sent",
            "The code could not be sent just now. Wait a moment and try again, or sign in another way.",
        ),
        LoginError::BlockedByFraudProtection => state.ui.message(
            StatusCode::TOO_MANY_REQUESTS,
            "The text message was not sent",
            "To protect this service from SMS abuse, no code was sent to this phone number just now. Try again later, or sign in another way.",
        ),
        LoginError::PasskeyRefused(msg) => login_page(state, jar, StatusCode::BAD_REQUEST, flow, None, Some(&msg)).await,
        LoginError::MethodUnavailable(msg) => {
            state.ui.message(StatusCode::FORBIDDEN, "Another sign-in step is needed", &sentence(&msg))
        }
        LoginError::BotProtection(r) => challenge_page(state, jar, flow, None, &r).await,
        LoginError::Server(e) => state.ui.server_error(&e),
    }
}

/// The page for a locked account (`authentication_lockout`): until when, and a
/// `Retry-After` with the seconds left.
fn locked_page(state: &AppState, until: time::OffsetDateTime) -> Response {
    let fmt = time::macros::format_description!("[hour]:[minute]:[second] UTC on [year]-[month]-[day]");
    let when = until.format(&fmt).unwrap_or_else(|_| until.to_string());
    let msg = format!("Too many failed sign-in attempts. This account is locked until {when}; try again after that.");
    let wait = (until - time::OffsetDateTime::now_utc()).whole_seconds().max(1);
    let mut res = state.ui.message(StatusCode::TOO_MANY_REQUESTS, "Account locked", &msg);
    res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(wait));
    res
}

/// The second-factor page: a code from an authenticator app, a code by email or SMS to
/// a registered address, or a recovery code.
pub(super) async fn second_factor_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    pending: &str,
    error: Option<&str>,
    recovery: bool,
) -> Response {
    let factors = match state.services.account().second_factors(pending, flow).await {
        Ok(f) => f,
        Err(e) => return Box::pin(login_refused(state, jar, flow, e)).await,
    };
    let oob: Vec<_> = factors
        .oob
        .iter()
        .map(|f| {
            let channel = if f.channel == crate::service::account::otp::Channel::Sms { "sms" } else { "email" };
            context! { id => f.id.to_string(), channel, masked => f.masked.clone() }
        })
        .collect();
    let totp = factors.totp;
    let recovery_allowed = factors.recovery_code;
    let mfa = &state.services.config().mfa;
    let (remember_enabled, remember_days) = (mfa.device_token_enabled, mfa.device_token_lifetime_seconds / 86_400);
    let req = open_flow(state, Some(flow));
    let client = match &req {
        Some(r) => state.services.applications().cached(&r.client_id).await.ok().flatten().map(|a| a.name),
        None => None,
    };
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, flow, pending, error, recovery, recovery_allowed, totp, oob, client_name => client,
        lang => req.as_ref().and_then(page_lang), remember_enabled, remember_days,
    };
    (jar, state.ui.page(status, "login_totp.html", ctx)).into_response()
}

/// `POST /login/totp`: the second step of a sign-in.
pub async fn login_totp_submit(visit: Visit, form: CsrfForm) -> Response {
    second_step(visit, form, false).await
}

/// `POST /login/recovery_code`: the second step of a sign-in with a recovery code.
pub async fn login_recovery_code_submit(visit: Visit, form: CsrfForm) -> Response {
    second_step(visit, form, true).await
}

async fn second_step(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm, recovery: bool) -> Response {
    let actor = actor(&peer, &headers);
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let flow = f.get("flow").cloned().unwrap_or_default();
    let pending = f.get("pending").cloned().unwrap_or_default();
    let code = f.get("code").cloned().unwrap_or_default();
    let remember = f.get("remember_device").is_some_and(|v| v == "on");
    let account = state.services.account();
    let result = if recovery {
        account.login_with_recovery_code(&pending, &flow, &code, &actor, current).await
    } else {
        account.login_with_totp(&pending, &flow, &code, &actor, current).await
    };
    match result {
        Ok(LoginOutcome::SignedIn(user, sess, token)) => {
            super::mfa::signed_in_after_second_factor(&state, jar, &flow, (user, sess, token), remember, &actor).await
        }
        Ok(next) => super::code::outcome(&state, jar, &flow, next, &actor, current).await,
        Err(LoginError::WrongCode(msg)) => {
            second_factor_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &pending, Some(&sentence(&msg)), recovery)
                .await
        }
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

/// The page that asks for a new password before a sign-in finishes, and why.
async fn password_change_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    pending: &str,
    why: ChangeReason,
    error: Option<&str>,
) -> Response {
    let reason = match why {
        ChangeReason::Expired => "Your password has expired. Choose a new one to continue signing in.",
        ChangeReason::TooOld => "Your password is too old. Choose a new one to continue signing in.",
        ChangeReason::PolicyViolated => {
            "Your password no longer meets the password rules of this service. Choose a new one to continue signing in."
        }
    };
    let req = open_flow(state, Some(flow));
    let client = match &req {
        Some(r) => state.services.applications().cached(&r.client_id).await.ok().flatten().map(|a| a.name),
        None => None,
    };
    let policy = describe_policy(&state.services.config().password_policy);
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, flow, pending, error, reason, policy, client_name => client, lang => req.as_ref().and_then(page_lang),
    };
    (jar, state.ui.page(status, "password_change.html", ctx)).into_response()
}

/// `POST /login/change_password`: the new password of a sign-in whose password must
/// change; then the second factor, or the session.
pub async fn login_change_password_submit(
    Visit { state, peer, headers, jar }: Visit,
    CsrfForm(f): CsrfForm,
) -> Response {
    let actor = actor(&peer, &headers);
    let current = match current_session_id(&state, &jar, &actor).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let flow = f.get("flow").cloned().unwrap_or_default();
    let pending = f.get("pending").cloned().unwrap_or_default();
    let new = f.get("new_password").cloned().unwrap_or_default();
    let account = state.services.account();
    match account.change_password_at_login(&pending, &flow, new, &actor, current).await {
        Ok(o) => super::code::outcome(&state, jar, &flow, o, &actor, current).await,
        Err(LoginError::PasswordRejected(msg)) => match account.password_change_pending(&pending, &flow) {
            Ok(why) => {
                let msg = sentence(&msg);
                password_change_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &pending, why, Some(&msg)).await
            }
            Err(e) => login_refused(&state, jar, &flow, e).await,
        },
        Err(e) => login_refused(&state, jar, &flow, e).await,
    }
}

pub(super) fn signup_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    flow: &str,
    login_id: &str,
    error: Option<&str>,
) -> Response {
    // Promoting an anonymous user: the password form, a passkey (created for that user)
    // and the providers all add to that user.
    let promote = open_flow(state, Some(flow)).and_then(|r| r.promote);
    let passkey = match state.services.account().begin_passkey_signup(promote) {
        Ok(c) => c.as_ref().map(super::passkey::template_value),
        Err(e) => return state.ui.server_error(&e),
    };
    let providers = state.services.account().sso_providers();
    let (jar, csrf) = csrf(state, jar);
    let policy = describe_policy(&state.services.config().password_policy);
    let ctx = context! {
        csrf, flow, login_id, error, policy, lang => lang(state, flow), login_id_label => login_id_label(state), passkey,
        sso_providers => minijinja::Value::from(minijinja::value::Serde(&providers)), promoting => promote.is_some(),
    };
    (jar, state.ui.page(status, "signup.html", ctx)).into_response()
}

pub(super) fn signup_closed(state: &AppState) -> Response {
    state.ui.message(
        StatusCode::FORBIDDEN,
        "Signup is closed",
        "New accounts are created by the administrator of this service.",
    )
}

/// `GET /signup`.
pub async fn signup_form(State(state): State<AppState>, jar: CookieJar, UiQuery(q): UiQuery) -> Response {
    if !state.services.config().ui.signup_enabled {
        return signup_closed(&state);
    }
    let flow = q.get("flow").cloned().unwrap_or_default();
    signup_page(&state, jar, StatusCode::OK, &flow, "", None)
}

/// `POST /signup`.
pub async fn signup_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    if !state.services.config().ui.signup_enabled {
        return signup_closed(&state);
    }
    let bot = super::bot_protection::check(&state, BotFlow::Signup, &f, &actor(&peer, &headers)).await;
    let Attempt { flow, login_id, password, actor, current } = match attempt(&state, &peer, &headers, &jar, f).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(msg) = bot {
        return signup_page(&state, jar, StatusCode::BAD_REQUEST, &flow, &login_id, Some(msg));
    }
    let promote = open_flow(&state, Some(&flow)).and_then(|r| r.promote);
    let e = match state.services.account().signup(&login_id, password, &actor, current, promote, &flow).await {
        Ok(next) => return super::code::outcome(&state, jar, &flow, next, &actor, current).await,
        Err(LoginError::Server(e)) => e,
        Err(other) => return login_refused(&state, jar, &flow, other).await,
    };
    match e {
        e @ (Error::Internal(_) | Error::Forbidden { .. }) => state.ui.server_error(&e),
        Error::Invalid { reason: reason::RATE_LIMITED, .. } => state.ui.message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ups",
            "Too many accounts were created from this network in the last minute. Wait a minute and try again.",
        ),
        e => {
            let msg = match &e {
                Error::Conflict { .. } => "An account with this login ID already exists. Sign in instead.".to_owned(),
                other => sentence(&other.describe()),
            };
            signup_page(&state, jar, StatusCode::UNPROCESSABLE_ENTITY, &flow, &login_id, Some(&msg))
        }
    }
}

/// A service message as a sentence: capitalised, with a full stop.
pub fn sentence(msg: &str) -> String {
    let mut c = msg.chars();
    let mut s: String = c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}
