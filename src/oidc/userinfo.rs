//! `/oauth2/userinfo` (GET and POST): the user's claims for a bearer access token, with
//! RFC 6750 errors in `WWW-Authenticate`. Without a token, the browser's IdP session
//! cookie answers too (Authgear's web SDK reads the user of a cookie session this way).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::oauth::claims::BearerError;
use crate::state::{AppState, Peer};

fn challenge(status: StatusCode, error: Option<(&str, &str)>) -> Response {
    let value = match error {
        Some((code, desc)) => {
            let desc = desc.replace(['"', '\\'], "'");
            format!("Bearer realm=\"authgraph\", error=\"{code}\", error_description=\"{desc}\"")
        }
        None => "Bearer realm=\"authgraph\"".to_owned(),
    };
    let body = match error {
        Some((code, desc)) => json!({"error": code, "error_description": desc}),
        None => json!({"error": "invalid_token", "error_description": "an access token is required"}),
    };
    let mut res = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The token from the `Authorization: Bearer` header or, for a form POST, the
/// `access_token` body parameter (RFC 6750 §2.1, §2.2). Both at once is an error.
fn bearer(method: &Method, headers: &HeaderMap, body: &Bytes) -> Result<Option<String>, Box<Response>> {
    let header_token = crate::state::bearer_token(headers).map(str::to_owned);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let body_token = if *method == Method::POST && is_form {
        let params = super::parse_params(body)
            .map_err(|e| Box::new(challenge(StatusCode::BAD_REQUEST, Some(("invalid_request", &e.describe())))))?;
        params.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v)
    } else {
        None
    };
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(Box::new(challenge(
            StatusCode::BAD_REQUEST,
            Some(("invalid_request", "send the access token in one place, not two")),
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// The claims of the browser's IdP session, or the 401 challenge without one.
async fn session_userinfo(state: &AppState, peer: &Peer, headers: &HeaderMap) -> Response {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    let actor = super::ui::actor(peer, headers);
    let claims = match super::ui::current_session(state, &jar, &actor).await {
        Ok(Some(s)) => state.services.oauth().session_userinfo(s.user_id).await,
        Ok(None) => return challenge(StatusCode::UNAUTHORIZED, None),
        Err(e) => Err(e),
    };
    match claims {
        Ok(Some(claims)) => {
            let mut res = axum::Json(claims).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.headers_mut().append(header::VARY, HeaderValue::from_static("Cookie"));
            res
        }
        Ok(None) => challenge(StatusCode::UNAUTHORIZED, None),
        Err(e) => {
            tracing::error!(cause = %e.describe(), "userinfo failed");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": "server_error"}))).into_response()
        }
    }
}

/// `GET|POST /oauth2/userinfo`.
pub async fn userinfo(
    State(state): State<AppState>,
    peer: Peer,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match bearer(&method, &headers, &body) {
        Ok(Some(t)) => t,
        Ok(None) => return session_userinfo(&state, &peer, &headers).await,
        Err(res) => return *res,
    };
    match state.services.oauth().userinfo(&token).await {
        Ok(claims) => {
            let mut res = axum::Json(claims).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(BearerError::InvalidToken(d)) => challenge(StatusCode::UNAUTHORIZED, Some(("invalid_token", &d))),
        Err(BearerError::InsufficientScope(d)) => challenge(StatusCode::FORBIDDEN, Some(("insufficient_scope", &d))),
        Err(BearerError::Server(e)) => {
            tracing::error!(cause = %e.describe(), "userinfo failed");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": "server_error"}))).into_response()
        }
    }
}
