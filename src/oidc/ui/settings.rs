//! The settings page of the logged-in user: profile, password, sessions, deletion.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::login::sentence;
use super::{Fields, actor, csrf, csrf_failed, csrf_ok, current_session};
use crate::domain::password::describe_policy;
use crate::http::{AppState, Peer};
use crate::service::Error;
use crate::service::account::EDITABLE_PROFILE;
use crate::service::login::IdpSession;

fn fmt_time(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

fn browser_label(ua: Option<&str>) -> String {
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
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(state.ui.server_error(&e)),
    }
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    sess: &IdpSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let user = match state.services.user(sess.user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return state.ui.server_error(&e),
    };
    let sessions = match state.services.sessions_by_user_ids(&[user.id]).await {
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
    let (jar, csrf) = csrf(state, jar);
    let ctx = context! {
        csrf, notice, error,
        sessions => minijinja::Value::from(minijinja::value::Serde(&sessions)),
        profile => minijinja::Value::from(minijinja::value::Serde(&profile)),
        user_display => user.end_user_account_id().unwrap_or_else(|| user.id.to_string()),
        policy => describe_policy(&state.services.config().password_policy),
        delete_at => user.delete_at.map(fmt_time),
        deletion_days => state.services.config().ui.deletion_grace_days,
    };
    (jar, state.ui.page(status, "settings.html", ctx)).into_response()
}

/// `GET /settings`.
pub async fn page(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let sess = match session_of(&state, &jar, &headers, &peer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = match q.get("done").map(String::as_str) {
        Some("profile") => Some("Your profile is saved."),
        Some("password") => Some("Your password is changed. Your other sessions were signed out."),
        Some("session") => Some("The session is signed out."),
        _ => None,
    };
    render(&state, jar, &sess, StatusCode::OK, notice, None).await
}

/// Checks CSRF and the session for a settings form.
async fn guard(
    state: &AppState,
    jar: &CookieJar,
    headers: &HeaderMap,
    peer: &Peer,
    f: &Fields,
) -> Result<IdpSession, Response> {
    if !csrf_ok(state, jar, f.get("csrf").map(String::as_str)) {
        return Err(csrf_failed(state));
    }
    session_of(state, jar, headers, peer).await
}

fn failed(state: &AppState, e: &Error) -> Option<String> {
    match e {
        Error::Invalid { message, .. } | Error::NotFound { message, .. } | Error::Conflict { message, .. } => {
            Some(sentence(message))
        }
        _ => {
            let _ = state;
            None
        }
    }
}

/// `POST /settings/profile`.
pub async fn save_profile(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let sess = match guard(&state, &jar, &headers, &peer, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let edits: Vec<(String, String)> = f.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match state.services.update_own_profile(sess.user_id, &edits, &actor(&peer, &headers)).await {
        Ok(_) => Redirect::to("/settings?done=profile").into_response(),
        Err(e) => match failed(&state, &e) {
            Some(msg) => render(&state, jar, &sess, StatusCode::UNPROCESSABLE_ENTITY, None, Some(&msg)).await,
            None => state.ui.server_error(&e),
        },
    }
}

/// `POST /settings/password`.
pub async fn change_password(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let sess = match guard(&state, &jar, &headers, &peer, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let current = f.get("current_password").cloned().unwrap_or_default();
    let new = f.get("new_password").cloned().unwrap_or_default();
    match state.services.change_own_password(&sess, current, new, &actor(&peer, &headers)).await {
        Ok(()) => Redirect::to("/settings?done=password").into_response(),
        Err(e) => match failed(&state, &e) {
            Some(msg) => render(&state, jar, &sess, StatusCode::UNPROCESSABLE_ENTITY, None, Some(&msg)).await,
            None => state.ui.server_error(&e),
        },
    }
}

/// `POST /settings/sessions/revoke`: signs out one session (this one logs the browser out).
pub async fn revoke_session(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let sess = match guard(&state, &jar, &headers, &peer, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(id) = f.get("session_id").and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        return render(&state, jar, &sess, StatusCode::BAD_REQUEST, None, Some("Choose a session to sign out.")).await;
    };
    match state.services.end_own_session(sess.user_id, id, &actor(&peer, &headers)).await {
        Ok(()) if id == sess.id => (jar.add(state.ui.clear_session()), Redirect::to("/login")).into_response(),
        Ok(()) => Redirect::to("/settings?done=session").into_response(),
        Err(e) => match failed(&state, &e) {
            Some(msg) => render(&state, jar, &sess, StatusCode::UNPROCESSABLE_ENTITY, None, Some(&msg)).await,
            None => state.ui.server_error(&e),
        },
    }
}

/// `POST /settings/delete`: schedules the account's deletion and signs out everywhere.
pub async fn request_deletion(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let sess = match guard(&state, &jar, &headers, &peer, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if f.get("confirm").map(String::as_str) != Some("yes") {
        let msg = "Tick the box to confirm that you want to delete your account.";
        return render(&state, jar, &sess, StatusCode::UNPROCESSABLE_ENTITY, None, Some(msg)).await;
    }
    if let Err(e) = state.services.schedule_own_deletion(sess.user_id, &actor(&peer, &headers)).await {
        return state.ui.server_error(&e);
    }
    let days = state.services.config().ui.deletion_grace_days;
    let msg = format!(
        "Your account will be deleted in {days} days, and you are signed out. To keep it, contact the administrator of this service before then."
    );
    (jar.add(state.ui.clear_session()), state.ui.message(StatusCode::OK, "Account deletion requested", &msg))
        .into_response()
}
