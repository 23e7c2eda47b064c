//! The settings page of the logged-in user: profile, password, sessions, deletion.

use crate::domain::ids::TypedId;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::login::sentence;
use super::{CsrfForm, UiQuery, Visit, actor, csrf, current_session};
use crate::domain::password::describe_policy;
use crate::service::Error;
use crate::service::account::login::IdpSession;
use crate::service::account::settings::EDITABLE_PROFILE;
use crate::service::account::totp::TotpEnrolment;
use crate::state::{AppState, Peer};

pub(super) fn fmt_time(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

pub(super) fn browser_label(ua: Option<&str>) -> String {
    let ua = ua.unwrap_or("");
    let name = ["Edg", "Firefox", "Chrome", "Safari"].into_iter().find(|n| ua.contains(n));
    match name {
        Some("Edg") => "Edge".to_owned(),
        Some(n) => n.to_owned(),
        None if ua.is_empty() => "Unknown device".to_owned(),
        None => ua.chars().take(40).collect(),
    }
}

async fn session_of(
    state: &AppState,
    jar: &CookieJar,
    headers: &HeaderMap,
    peer: &Peer,
) -> Result<IdpSession, Response> {
    match current_session(state, jar, &actor(peer, headers)).await {
        // A disabled account keeps no way to change itself, even with a live cookie.
        Ok(Some(s)) => match state.services.users().get(s.user_id).await {
            Ok(Some(u))
                if !u.is_disabled_at(time::OffsetDateTime::now_utc()) && !u.is_deactivated && u.delete_at.is_none() =>
            {
                Ok(s)
            }
            Ok(_) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(state.ui.server_error(&e)),
        },
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(state.ui.server_error(&e)),
    }
}

pub(super) async fn render(
    state: &AppState,
    jar: CookieJar,
    sess: &IdpSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let user = match state.services.users().get(sess.user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return state.ui.server_error(&e),
    };
    let sessions = match state.services.sessions().by_user_ids(&[user.id]).await {
        Ok(mut m) => m.remove(&user.id).unwrap_or_default(),
        Err(e) => return state.ui.server_error(&e),
    };
    let sessions: Vec<Value> = sessions
        .iter()
        .filter(|s| s.kind == "idp")
        .map(|s| {
            serde_json::json!({
                "id": s.id.to_string(),
                "label": browser_label(s.user_agent.as_deref()),
                "current": s.id == sess.id,
                "created_at": fmt_time(s.created_at),
                "ip": s.last_accessed_by_ip,
            })
        })
        .collect();
    let profile: Vec<Value> = EDITABLE_PROFILE
        .iter()
        .map(|(name, label)| {
            let value = user.standard_attributes.get(*name).and_then(Value::as_str).unwrap_or("");
            let autocomplete = match *name {
                "given_name" => "given-name",
                "family_name" => "family-name",
                "nickname" => "nickname",
                _ => "name",
            };
            serde_json::json!({"name": name, "label": label, "value": value, "autocomplete": autocomplete})
        })
        .collect();
    let totps: Vec<Value> = match state.services.account().totp_authenticators(sess.user_id).await {
        Ok(list) => list
            .iter()
            .map(|a| {
                serde_json::json!({
                    "id": a.id.to_string(),
                    "name": a.display_name.as_deref().unwrap_or("Authenticator app"),
                    "created_at": fmt_time(a.created_at),
                })
            })
            .collect(),
        Err(e) => return state.ui.server_error(&e),
    };
    let oob: Vec<Value> = match state.services.account().secondary_oob(sess.user_id).await {
        Ok(list) => list
            .iter()
            .map(|f| {
                let channel = if f.channel == crate::service::account::otp::Channel::Sms { "sms" } else { "email" };
                serde_json::json!({"id": f.id.to_string(), "masked": f.masked, "channel": channel})
            })
            .collect(),
        Err(e) => return state.ui.server_error(&e),
    };
    let oob_channels: Vec<&str> = {
        let o = &state.services.config().oob_otp;
        [(o.email.channel.secondary, "email"), (o.sms.secondary, "sms")].iter().filter(|c| c.0).map(|c| c.1).collect()
    };
    let recovery_unused = match state.services.account().unused_recovery_codes(sess.user_id).await {
        Ok(n) => n,
        Err(e) => return state.ui.server_error(&e),
    };
    let devices = match super::devices::listed(state, sess.user_id).await {
        Ok(d) => d,
        Err(e) => return state.ui.server_error(&e),
    };
    let contacts: Vec<Value> = [("email", "email", "email_verified"), ("sms", "phone_number", "phone_number_verified")]
        .iter()
        .filter_map(|(channel, claim, verified)| {
            let value = user.standard_attributes.get(*claim).and_then(Value::as_str)?;
            let verified = user.standard_attributes.get(*verified).and_then(Value::as_bool).unwrap_or(false);
            Some(serde_json::json!({"channel": channel, "value": value, "verified": verified}))
        })
        .collect();
    let sso_connections: Vec<Value> = match state.services.account().sso_connections(sess.user_id).await {
        Ok(list) => list.iter().map(super::social::connection_view).collect(),
        Err(e) => return state.ui.server_error(&e),
    };
    let passkeys: Vec<Value> = match state.services.account().passkeys(sess.user_id).await {
        Ok(list) => list
            .iter()
            .map(|p| {
                let name = p.details.as_ref().and_then(|d| d.get("display_name")).and_then(Value::as_str);
                serde_json::json!({
                    "id": p.id.to_string(),
                    "name": name.unwrap_or("Passkey"),
                    "created_at": fmt_time(p.created_at),
                })
            })
            .collect(),
        Err(e) => return state.ui.server_error(&e),
    };
    let passkey = match state.services.account().begin_passkey_registration(&user).await {
        Ok(c) => c.as_ref().map(super::passkey::template_value),
        Err(e) => return state.ui.server_error(&e),
    };
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, notice, error, recovery_unused, passkey,
        passkeys => minijinja::Value::from(minijinja::value::Serde(&passkeys)),
        sso_providers => minijinja::Value::from(minijinja::value::Serde(&state.services.account().sso_providers())),
        sso_connections => minijinja::Value::from(minijinja::value::Serde(&sso_connections)),
        contacts => minijinja::Value::from(minijinja::value::Serde(&contacts)),
        oob => minijinja::Value::from(minijinja::value::Serde(&oob)), oob_channels,
        totps => minijinja::Value::from(minijinja::value::Serde(&totps)),
        devices => minijinja::Value::from(minijinja::value::Serde(&devices)),
        sessions => minijinja::Value::from(minijinja::value::Serde(&sessions)),
        profile => minijinja::Value::from(minijinja::value::Serde(&profile)),
        user_display => user.end_user_account_id().unwrap_or_else(|| user.id.to_string()),
        policy => describe_policy(&state.services.config().password_policy),
        delete_at => user.delete_at.map(fmt_time),
        deletion_days => state.services.config().account_deletion.grace_period_days,
        self_deletion => state.services.config().account_deletion.scheduled_by_end_user_enabled,
    };
    (jar, state.ui.page(status, "settings.html", ctx)).into_response()
}

/// `GET /settings`.
pub async fn page(Visit { state, peer, headers, jar }: Visit, UiQuery(q): UiQuery) -> Response {
    let sess = match session_of(&state, &jar, &headers, &peer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = match q.get("done").map(String::as_str) {
        Some("profile") => Some("Your profile is saved."),
        Some("password") => Some("Your password is changed. Your other sessions were signed out."),
        Some("session") => Some("The session is signed out."),
        Some("totp") => Some("The authenticator app is added. Keep it: you will need its codes to sign in."),
        Some("totp-removed") => Some("The authenticator app is removed."),
        Some("passkey") => Some("The passkey is added. You can now sign in with it, without a password."),
        Some("passkey-removed") => Some("The passkey is removed."),
        Some("device") => Some("The device is forgotten: it will be asked for a second factor again."),
        Some("devices") => Some("All remembered devices are forgotten."),
        Some("verified-email") => Some("Your email address is verified."),
        Some("mfa-added") => Some("The address is added as a second factor."),
        Some("mfa-removed") => Some("The address is removed from your second factors."),
        Some("verified-sms") => Some("Your phone number is verified."),
        Some("reauthenticated") => Some("You confirmed it's you. You can make the change now."),
        _ => None,
    };
    render(&state, jar, &sess, StatusCode::OK, notice, None).await
}

/// The signed-in browser of a settings form: its cookies, session and audit actor. A
/// browser without a live session is sent to the login page.
pub struct SignedIn {
    pub(super) jar: CookieJar,
    pub(super) sess: IdpSession,
    pub(super) actor: crate::service::Actor,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let peer = Peer::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let sess = session_of(state, &jar, &parts.headers, &peer).await?;
        Ok(Self { jar, sess, actor: actor(&peer, &parts.headers) })
    }
}

/// Redirects to `done` on success; shows the page again with the reason when the input
/// was refused; the error page when the server failed.
pub(super) async fn outcome(state: &AppState, me: SignedIn, result: Result<&str, Error>) -> Response {
    match result {
        Ok(done) => Redirect::to(done).into_response(),
        Err(Error::Invalid { message, .. } | Error::NotFound { message, .. } | Error::Conflict { message, .. }) => {
            let msg = sentence(&message);
            render(state, me.jar, &me.sess, StatusCode::UNPROCESSABLE_ENTITY, None, Some(&msg)).await
        }
        Err(Error::Hook(h)) => {
            let msg = sentence(&h.message());
            render(state, me.jar, &me.sess, StatusCode::FORBIDDEN, None, Some(&msg)).await
        }
        Err(Error::Forbidden { message, .. }) => {
            let msg = sentence(&message);
            render(state, me.jar, &me.sess, StatusCode::FORBIDDEN, None, Some(&msg)).await
        }
        Err(e) => state.ui.server_error(&e),
    }
}

/// Where the "confirm it's you" page may send the browser back to.
const REAUTH_NEXT: [&str; 2] = ["/settings", "/settings/totp"];

/// The "confirm it's you" page: the password, or a code from an authenticator app.
async fn reauth_page(
    state: &AppState,
    jar: CookieJar,
    sess: &IdpSession,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> Response {
    let totp = match state.services.account().totp_authenticators(sess.user_id).await {
        Ok(list) => !list.is_empty(),
        Err(e) => return state.ui.server_error(&e),
    };
    let next = REAUTH_NEXT.into_iter().find(|n| *n == next).unwrap_or("/settings");
    let (jar, csrf) = csrf(state, jar);
    (jar, state.ui.page(status, "reauthenticate.html", context! { csrf, next, error, totp })).into_response()
}

/// For a sensitive action: the "confirm it's you" page when the session's last sign-in
/// is older than `session.reauthentication_max_age_seconds`; `None` when it is recent.
/// Once confirmed, the browser goes back to `next` to do the action again.
pub(super) async fn confirm_first(state: &AppState, me: &SignedIn, next: &str) -> Option<Response> {
    if !state.services.account().needs_reauthentication(&me.sess) {
        return None;
    }
    Some(reauth_page(state, me.jar.clone(), &me.sess, StatusCode::OK, next, None).await)
}

/// `POST /settings/reauthenticate`: confirms it's the user (password or authenticator
/// code), which renews the session's sign-in time, and goes back to the page of the action.
pub async fn reauthenticate(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    let next = f.get("next").map(String::as_str).unwrap_or("/settings");
    let next = REAUTH_NEXT.into_iter().find(|n| *n == next).unwrap_or("/settings");
    let secret = f.get("secret").map(String::as_str).unwrap_or("");
    match state.services.account().reauthenticate(&me.sess, secret, &me.actor).await {
        Ok(_) if next == "/settings" => Redirect::to("/settings?done=reauthenticated").into_response(),
        Ok(_) => Redirect::to(next).into_response(),
        Err(Error::Invalid { reason: crate::domain::reason::RATE_LIMITED, .. }) => state.ui.message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts",
            "Too many failed attempts from this network or for this account. Wait a minute and try again.",
        ),
        Err(Error::Invalid { message, .. }) => {
            let msg = sentence(&message);
            reauth_page(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, next, Some(&msg)).await
        }
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /settings/profile`.
pub async fn save_profile(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    let edits: Vec<(String, String)> = f.into_iter().collect();
    let result = state.services.update_own_profile(me.sess.user_id, &edits, &me.actor).await;
    outcome(&state, me, result.map(|_| "/settings?done=profile")).await
}

/// `POST /settings/password`.
/// A session older than the reauthentication window confirms it's the user first; the
/// current password the form asks for does not count as that confirmation (see README).
pub async fn change_password(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    let current = f.get("current_password").cloned().unwrap_or_default();
    let new = f.get("new_password").cloned().unwrap_or_default();
    let result = state.services.change_own_password(&me.sess, current, new, &me.actor).await;
    outcome(&state, me, result.map(|()| "/settings?done=password")).await
}

/// `POST /settings/sessions/revoke`: signs out one session (this one logs the browser out).
pub async fn revoke_session(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    let Some(id) = f.get("session_id").and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        let msg = "Choose a session to sign out.";
        return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
    };
    let result = state.services.end_own_session(me.sess.user_id, id.into(), &me.actor).await;
    if result.is_ok() && id == me.sess.id.uuid() {
        return (me.jar.add(state.ui.clear_session()), Redirect::to("/login")).into_response();
    }
    outcome(&state, me, result.map(|()| "/settings?done=session")).await
}

/// `POST /settings/delete`: schedules the account's deletion and signs out everywhere.
pub async fn request_deletion(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    if f.get("confirm").map(String::as_str) != Some("yes") {
        let msg = "Tick the box to confirm that you want to delete your account.";
        return render(&state, me.jar, &me.sess, StatusCode::UNPROCESSABLE_ENTITY, None, Some(msg)).await;
    }
    let password = f.get("password").cloned().unwrap_or_default();
    let at = match state.services.schedule_own_deletion(&me.sess, password, &me.actor).await {
        Ok(at) => fmt_time(at),
        Err(e) => return outcome(&state, me, Err(e)).await,
    };
    let days = state.services.config().account_deletion.grace_period_days;
    let msg = format!(
        "Your account will be deleted in {days} days ({at}), and you are signed out. To keep it, sign in again before then."
    );
    (me.jar.add(state.ui.clear_session()), state.ui.message(StatusCode::OK, "Account deletion requested", &msg))
        .into_response()
}

/// The enrolment page of an authenticator app: the QR code, the key URI and the secret,
/// and the form for its name and first code.
fn render_totp(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    enrolment: &TotpEnrolment,
    display_name: &str,
    error: Option<&str>,
) -> Response {
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, error, display_name,
        qr_svg => enrolment.qr_svg.clone(),
        uri => enrolment.uri.clone(),
        secret => enrolment.secret_base32.clone(),
        pending => enrolment.pending.clone(),
    };
    (jar, state.ui.page(status, "totp_new.html", ctx)).into_response()
}

/// `GET /settings/totp`: starts adding an authenticator app (nothing is stored yet).
/// The query carries nothing, but it is read like every page's, so a NUL in it is refused.
/// A session older than the reauthentication window confirms it's the user first.
pub async fn totp_page(Visit { state, peer, headers, jar }: Visit, UiQuery(_): UiQuery) -> Response {
    let sess = match session_of(&state, &jar, &headers, &peer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if state.services.account().needs_reauthentication(&sess) {
        return reauth_page(&state, jar, &sess, StatusCode::OK, "/settings/totp", None).await;
    }
    match state.services.account().begin_totp_enrolment(sess.user_id).await {
        Ok(e) => render_totp(&state, jar, StatusCode::OK, &e, "", None),
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /settings/totp`: the first code confirms the new authenticator app. A wrong
/// code shows the same QR code again; a tampered or expired enrolment starts a new one.
pub async fn add_totp(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings/totp").await {
        return r;
    }
    let pending = f.get("pending").map(String::as_str).unwrap_or("");
    let name = f.get("display_name").map(String::as_str).unwrap_or("");
    let code = f.get("code").map(String::as_str).unwrap_or("");
    let account = state.services.account();
    let err = match account.confirm_totp_enrolment(me.sess.user_id, pending, name, code, &me.actor).await {
        Ok(_) => {
            // The first second factor comes with a set of recovery codes, shown once.
            return match account.totp_authenticators(me.sess.user_id).await {
                Ok(list) if list.len() == 1 => {
                    match account.generate_recovery_codes(me.sess.user_id, &me.actor).await {
                        Ok(codes) => show_recovery_codes(&state, me.jar, "The authenticator app is added.", &codes),
                        Err(e) => state.ui.server_error(&e),
                    }
                }
                Ok(_) => Redirect::to("/settings?done=totp").into_response(),
                Err(e) => state.ui.server_error(&e),
            };
        }
        Err(Error::Invalid { message, .. } | Error::NotFound { message, .. } | Error::Conflict { message, .. }) => {
            sentence(&message)
        }
        Err(e) => return state.ui.server_error(&e),
    };
    let enrolment = match account.reopen_totp_enrolment(me.sess.user_id, pending).await {
        Ok(e) => Ok(e),
        Err(Error::Invalid { .. }) => account.begin_totp_enrolment(me.sess.user_id).await,
        Err(e) => Err(e),
    };
    match enrolment {
        Ok(e) => render_totp(&state, me.jar, StatusCode::BAD_REQUEST, &e, name.trim(), Some(&err)),
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /settings/totp/remove`: removes one of the user's authenticator apps.
pub async fn remove_totp(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    let Some(id) = f.get("authenticator_id").and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        let msg = "Choose an authenticator app to remove.";
        return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
    };
    let result = state.services.account().delete_own_totp(me.sess.user_id, id.into(), &me.actor).await;
    outcome(&state, me, result.map(|()| "/settings?done=totp-removed")).await
}

/// The page that shows a new set of recovery codes, the one time they are shown.
fn show_recovery_codes(state: &AppState, jar: CookieJar, lead: &str, codes: &[String]) -> Response {
    let message = format!(
        "{lead} Here are your recovery codes. Store them somewhere safe: each one signs you in once when your \
         authenticator app is not at hand, and they will not be shown again."
    );
    let ctx = context! {
        title => "Your recovery codes", message, codes => codes.to_vec(),
        link => "/settings", link_text => "Back to account settings",
    };
    (jar, state.ui.page(StatusCode::OK, "message.html", ctx)).into_response()
}

/// `POST /settings/recovery_codes`: replaces the user's recovery codes with a new set and
/// shows it once.
pub async fn regenerate_recovery_codes(State(state): State<AppState>, me: SignedIn, CsrfForm(_): CsrfForm) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    match state.services.account().generate_recovery_codes(me.sess.user_id, &me.actor).await {
        Ok(codes) => show_recovery_codes(&state, me.jar, "Your previous recovery codes no longer work.", &codes),
        Err(e) => state.ui.server_error(&e),
    }
}

/// The page that asks for a verification code.
fn render_verify(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    c: &crate::service::account::verification::VerificationChallenge,
    error: Option<&str>,
) -> Response {
    use crate::service::account::otp::{Channel, NotSent};
    let cooldown = match c.not_sent {
        Some(NotSent::Cooldown(s)) => Some(s),
        _ => None,
    };
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, error, cooldown, pending => c.pending.clone(), masked => c.masked.clone(),
        channel => if c.channel == Channel::Sms { "sms" } else { "email" },
    };
    (jar, state.ui.page(status, "verify_code.html", ctx)).into_response()
}

/// `POST /settings/verify`: sends a code to the user's email address or phone number.
pub async fn start_verification(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    use crate::service::account::otp::Channel;
    let channel = match f.get("channel").map(String::as_str) {
        Some("email") => Channel::Email,
        Some("sms") => Channel::Sms,
        _ => {
            let msg = "Choose an email address or phone number to verify.";
            return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
        }
    };
    match state.services.account().start_verification(me.sess.user_id, channel, &me.actor).await {
        Ok(c) => render_verify(&state, me.jar, StatusCode::OK, &c, None),
        Err(e) => outcome(&state, me, Err(e)).await,
    }
}

/// `POST /settings/verify/confirm`: checks the verification code.
pub async fn confirm_verification(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    use crate::service::account::otp::Channel;
    use crate::service::account::verification::Verified;
    let pending = f.get("pending").map(String::as_str).unwrap_or("");
    let code = f.get("code").map(String::as_str).unwrap_or("");
    let account = state.services.account();
    match account.finish_verification(me.sess.user_id, pending, code, &me.actor).await {
        Ok(Verified::Claim(Channel::Email)) => Redirect::to("/settings?done=verified-email").into_response(),
        Ok(Verified::Claim(Channel::Sms)) => Redirect::to("/settings?done=verified-sms").into_response(),
        Ok(Verified::SecondFactor(_)) => {
            first_factor_codes(&state, me, "The address is added as a second factor.").await
        }
        Err(Error::Invalid { message, .. }) => match account.verification_challenge(me.sess.user_id, pending) {
            Some(c) => render_verify(&state, me.jar, StatusCode::BAD_REQUEST, &c, Some(&sentence(&message))),
            None => {
                let msg = sentence(&message);
                render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(&msg)).await
            }
        },
        Err(e) => outcome(&state, me, Err(e)).await,
    }
}

/// After a second factor is added: the first one comes with recovery codes, shown once;
/// otherwise back to settings.
async fn first_factor_codes(state: &AppState, me: SignedIn, lead: &str) -> Response {
    let account = state.services.account();
    match account.unused_recovery_codes(me.sess.user_id).await {
        Ok(0) => match account.generate_recovery_codes(me.sess.user_id, &me.actor).await {
            Ok(codes) => show_recovery_codes(state, me.jar, lead, &codes),
            Err(e) => state.ui.server_error(&e),
        },
        Ok(_) => Redirect::to("/settings?done=mfa-added").into_response(),
        Err(e) => state.ui.server_error(&e),
    }
}

/// `POST /settings/mfa/oob`: adds an email address or phone number as a second factor,
/// once a code sent to it comes back.
pub async fn add_second_factor_address(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    use crate::service::account::otp::Channel;
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    let channel = match f.get("channel").map(String::as_str) {
        Some("email") => Channel::Email,
        Some("sms") => Channel::Sms,
        _ => {
            let msg = "Choose email or text message.";
            return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
        }
    };
    let target = f.get("target").map(String::as_str).unwrap_or("");
    match state.services.account().start_second_factor_enrolment(me.sess.user_id, channel, target, &me.actor).await {
        Ok(c) => render_verify(&state, me.jar, StatusCode::OK, &c, None),
        Err(e) => outcome(&state, me, Err(e)).await,
    }
}

/// `POST /settings/mfa/oob/remove`: removes one of the user's second-factor addresses.
pub async fn remove_second_factor_address(
    State(state): State<AppState>,
    me: SignedIn,
    CsrfForm(f): CsrfForm,
) -> Response {
    if let Some(r) = confirm_first(&state, &me, "/settings").await {
        return r;
    }
    let Some(id) = f.get("authenticator_id").and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        let msg = "Choose an address to remove.";
        return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
    };
    let result = state.services.account().delete_own_secondary_oob(me.sess.user_id, id.into(), &me.actor).await;
    outcome(&state, me, result.map(|()| "/settings?done=mfa-removed")).await
}
