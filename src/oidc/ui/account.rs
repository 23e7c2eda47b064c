//! Logging out (RP-initiated logout 1.0 at `/oauth2/end_session`, and `/logout`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CsrfForm, Fields, Visit, actor, csrf, current_session};
use crate::state::{AppState, Peer};

/// Where to send the browser after logging out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AfterLogout {
    redirect: Option<String>,
    state: Option<String>,
}

fn finish(state: &AppState, jar: CookieJar, after: &AfterLogout) -> Response {
    let jar = jar.add(state.ui.clear_session());
    match &after.redirect {
        Some(uri) => {
            let mut url = uri.clone();
            if let Some(s) = &after.state {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&url::form_urlencoded::Serializer::new(String::new()).append_pair("state", s).finish());
            }
            (jar, Redirect::to(&url)).into_response()
        }
        None => (
            jar,
            state.ui.page(
                StatusCode::OK,
                "message.html",
                context! { title => "You are signed out", message => "You can close this window.", link => "/login", link_text => "Sign in again" },
            ),
        )
            .into_response(),
    }
}

fn bad(state: &AppState, msg: &str) -> Response {
    state.ui.message(StatusCode::BAD_REQUEST, "Invalid sign-out request", msg)
}

/// `GET|POST /oauth2/end_session`: ends the browser session at once when `id_token_hint`
/// ties the request to it, otherwise asks the user to confirm.
pub async fn end_session(
    State(state): State<AppState>,
    peer: Peer,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let p: Fields = match crate::oidc::request_params(&method, &uri, &body) {
        Ok(pairs) => pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        Err(e) => return super::forbidden_char_page(&state, &e),
    };
    let max = crate::oidc::MAX_ECHOED_PARAM;
    if let Some(k) = p.iter().find(|(_, v)| v.len() > max).map(|(k, _)| k) {
        let k: String = k.chars().take(64).collect();
        return bad(&state, &format!("The parameter “{k}” is longer than {max} bytes."));
    }
    let hint = match p.get("id_token_hint") {
        Some(h) => match state.services.oauth().id_token_claims(h).await {
            Some(c) => Some(c),
            None => return bad(&state, "The id_token_hint is not an ID token of this server."),
        },
        None => None,
    };
    let hint_client = hint.as_ref().and_then(|c| match c.get("aud") {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    });
    let client_id = match (p.get("client_id"), hint_client) {
        (Some(a), Some(b)) if *a != b => return bad(&state, "client_id does not match the id_token_hint."),
        (Some(a), _) => Some(a.clone()),
        (None, b) => b,
    };
    let mut after = AfterLogout { redirect: None, state: p.get("state").cloned() };
    if let Some(uri) = p.get("post_logout_redirect_uri") {
        let Some(client_id) = &client_id else {
            return bad(&state, "A post_logout_redirect_uri needs an id_token_hint or a client_id.");
        };
        let app = match state.services.applications().cached(client_id).await {
            Ok(Some(a)) => a,
            Ok(None) => return bad(&state, "No application has this client ID."),
            Err(e) => return state.ui.server_error(&e),
        };
        if !app.post_logout_redirect_uris.iter().any(|u| u == uri) {
            return bad(&state, "The post_logout_redirect_uri is not registered for this application.");
        }
        after.redirect = Some(uri.clone());
    }
    let actor = actor(&peer, &headers);
    let sess = match current_session(&state, &jar, &actor).await {
        Ok(s) => s,
        Err(e) => return state.ui.server_error(&e),
    };
    let Some(sess) = sess else { return finish(&state, jar, &after) };
    // Only an ID token of this very session ends it without asking.
    let tied =
        hint.as_ref().is_some_and(|c| c.get("sid").and_then(Value::as_str) == Some(sess.id.to_string().as_str()));
    if tied {
        if let Err(e) = state.services.account().end_idp_session(&sess, &actor).await {
            return state.ui.server_error(&e);
        }
        return finish(&state, jar, &after);
    }
    let user = match state.services.users().get(sess.user_id).await {
        Ok(u) => u,
        Err(e) => return state.ui.server_error(&e),
    };
    let user_display = user.and_then(|u| u.end_user_account_id()).unwrap_or_default();
    let (jar, csrf) = csrf(&state, jar);
    let request = state.services.seal("logout", &after);
    (jar, state.ui.page(StatusCode::OK, "logout.html", context! { csrf, request, user_display })).into_response()
}

/// `POST /logout`: the confirmed logout (also the settings page's sign-out button).
pub async fn logout(Visit { state, peer, headers, jar }: Visit, CsrfForm(f): CsrfForm) -> Response {
    let after: AfterLogout = f.get("request").and_then(|r| state.services.unseal("logout", r)).unwrap_or_default();
    let actor = actor(&peer, &headers);
    match current_session(&state, &jar, &actor).await {
        Ok(Some(sess)) => {
            if let Err(e) = state.services.account().end_idp_session(&sess, &actor).await {
                return state.ui.server_error(&e);
            }
        }
        Ok(None) => {}
        Err(e) => return state.ui.server_error(&e),
    }
    finish(&state, jar, &after)
}
