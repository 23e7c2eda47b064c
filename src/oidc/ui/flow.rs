//! Steps inside an authorization request: choosing the account and consenting.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;

use super::{CsrfForm, UiQuery, Visit, actor, csrf, current_session, flow_expired, open_flow, page_lang, seal_flow};
use crate::oidc::authorize::{proceed, respond};
use crate::service::admin::users::User;
use crate::service::oauth::authorize::AuthRequest;
use crate::service::oauth::authorize::RedirectError;
use crate::state::{AppState, Peer};

fn display(user: &User) -> String {
    user.end_user_account_id().unwrap_or_else(|| user.id.to_string())
}

fn scope_text(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Know who you are",
        "profile" => "See your name and profile",
        "email" => "See your email address",
        "phone" => "See your phone number",
        "address" => "See your postal address",
        "offline_access" => "Keep access while you are away",
        _ => return None,
    })
}

/// The signed-in user of a pending request, or the response to send instead.
async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
    headers: &HeaderMap,
    peer: &Peer,
    flow: Option<&str>,
) -> Result<(AuthRequest, User), Response> {
    let Some(req) = open_flow(state, flow) else { return Err(flow_expired(state)) };
    let actor = actor(peer, headers);
    let sess = current_session(state, jar, &actor).await.map_err(|e| state.ui.server_error(&e))?;
    let user = match sess {
        Some(s) => state.services.users().get(s.user_id).await.map_err(|e| state.ui.server_error(&e))?,
        None => None,
    };
    match user {
        Some(u) => Ok((req, u)),
        // The session ended meanwhile: the request starts over at the login page.
        None => Err(proceed(state, jar, req, &actor).await),
    }
}

/// `GET /select_account`.
pub async fn select_form(Visit { state, peer, headers, jar }: Visit, UiQuery(q): UiQuery) -> Response {
    let (req, user) = match signed_in(&state, &jar, &headers, &peer, q.get("flow").map(String::as_str)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let client_name = match state.services.applications().cached(&req.client_id).await {
        Ok(app) => app.map(|a| a.name),
        Err(e) => return state.ui.server_error(&e),
    };
    let (jar, csrf) = csrf(&state, jar);
    let ctx = context! {
        csrf, client_name, lang => page_lang(&req), flow => seal_flow(&state, &req), user_display => display(&user),
    };
    (jar, state.ui.page(StatusCode::OK, "select_account.html", ctx)).into_response()
}

/// `POST /select_account`: continue as the signed-in user, or log in as someone else.
pub async fn select_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let (mut req, user) = match signed_in(&state, &jar, &headers, &peer, f.get("flow").map(String::as_str)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if f.get("action").map(String::as_str) == Some("switch") {
        req.prompt.push("login".into());
        let flow = url::form_urlencoded::byte_serialize(seal_flow(&state, &req).as_bytes()).collect::<String>();
        return Redirect::to(&format!("/login?flow={flow}")).into_response();
    }
    req.account_chosen_by = Some(user.id);
    proceed(&state, &jar, req, &actor(&peer, &headers)).await
}

/// `GET /consent`.
pub async fn consent_form(Visit { state, peer, headers, jar }: Visit, UiQuery(q): UiQuery) -> Response {
    let (req, user) = match signed_in(&state, &jar, &headers, &peer, q.get("flow").map(String::as_str)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let app = match state.services.applications().cached(&req.client_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return flow_expired(&state),
        Err(e) => return state.ui.server_error(&e),
    };
    let scopes: Vec<&str> = req.scopes.iter().filter_map(|s| scope_text(s)).collect();
    let (jar, csrf) = csrf(&state, jar);
    let ctx = context! {
        csrf, scopes, lang => page_lang(&req), flow => seal_flow(&state, &req), user_display => display(&user),
        client_name => app.name,
    };
    (jar, state.ui.page(StatusCode::OK, "consent.html", ctx)).into_response()
}

/// `POST /consent`: allow (records the consent) or deny (`access_denied` to the client).
pub async fn consent_submit(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let (mut req, user) = match signed_in(&state, &jar, &headers, &peer, f.get("flow").map(String::as_str)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if f.get("action").map(String::as_str) != Some("allow") {
        let e = RedirectError { error: "access_denied", description: "the user denied access".into() };
        return respond(&state, &req, Err(e));
    }
    let actor = actor(&peer, &headers);
    if let Err(e) = state.services.oauth().grant_consent(user.id, &req.client_id, &req.scopes, &actor).await {
        return state.ui.server_error(&e);
    }
    req.consented_by = Some(user.id);
    proceed(&state, &jar, req, &actor).await
}
