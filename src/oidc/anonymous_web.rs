//! `POST /api/anonymous_user/signup` and `POST /api/anonymous_user/promotion_code`:
//! anonymous users for web apps, with the request and response shapes of Authgear's web
//! SDK. The body is JSON; the answer is `{"result": …}`, or Authgear's API error
//! `{"error": {name, reason, message, code, info?}}` with the error's status.
//!
//! - signup: `{client_id, session_type: "cookie" | "refresh_token", refresh_token?}`.
//!   Cookie sessions get the IdP session cookie and `{"result": {}}`; refresh-token
//!   sessions get `{"result": {token_type, access_token, refresh_token, expires_in,
//!   id_token?, scope}}`.
//! - promotion_code: `{session_type, refresh_token?}` for the signed-in anonymous user
//!   (the cookie session or an access token in `Authorization: Bearer` for `cookie`, the
//!   refresh token for `refresh_token`); `{"result": {promotion_code, expire_at}}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use super::errors::no_store;
use super::ui::{actor, current_session};
use crate::service::oauth::anonymous_web::{AnonymousApiError, PromotionCaller, WebSessionType, WebSignup};
use crate::state::{AppState, Peer, bearer_token};

/// Authgear's `ValidationFailed` error with one cause.
fn validation_failed(kind: &str, location: &str, details: Value) -> Value {
    json!({
        "name": "Invalid",
        "reason": "ValidationFailed",
        "message": "invalid request body",
        "code": 400,
        "info": {"causes": [{"kind": kind, "location": location, "details": details}]},
    })
}

/// The fields of the JSON object body, each a string, none but `allowed`, all of
/// `required`; or the API error that refuses the body.
fn body_fields(body: &[u8], allowed: &[&str], required: &[&str]) -> Result<Map<String, Value>, Value> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(json!({
            "name": "BadRequest", "reason": "BadRequest", "message": "the request body is not valid JSON", "code": 400,
        }));
    };
    let Value::Object(map) = value else {
        return Err(validation_failed("type", "", json!({"expected": ["object"]})));
    };
    let extra: Vec<&String> = map.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    if !extra.is_empty() {
        return Err(validation_failed("additionalProperties", "", json!({"extra": extra})));
    }
    let missing: Vec<&str> = required.iter().copied().filter(|k| !map.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(validation_failed("required", "", json!({"expected": required, "missing": missing})));
    }
    for (k, v) in &map {
        if !v.is_string() {
            return Err(validation_failed("type", &format!("/{k}"), json!({"expected": ["string"]})));
        }
        if v.as_str().is_some_and(crate::domain::text::has_forbidden_char) {
            return Err(validation_failed("format", &format!("/{k}"), json!({"format": "no NUL (U+0000)"})));
        }
    }
    Ok(map)
}

fn session_type(map: &Map<String, Value>) -> Result<WebSessionType, Value> {
    let s = map.get("session_type").and_then(Value::as_str).unwrap_or("");
    WebSessionType::parse(s)
        .ok_or_else(|| validation_failed("enum", "/session_type", json!({"expected": ["cookie", "refresh_token"]})))
}

fn text<'a>(map: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn bad_request(error: Value) -> Response {
    no_store(StatusCode::BAD_REQUEST, json!({ "error": error }))
}

/// Authgear's API error for a refusal.
fn api_error(e: AnonymousApiError) -> Response {
    let (status, name, reason, message) = match e {
        AnonymousApiError::Invalid(reason, m) => (StatusCode::BAD_REQUEST, "Invalid", reason, m),
        AnonymousApiError::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized", m),
        AnonymousApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "Forbidden", "Forbidden", m),
        AnonymousApiError::RateLimited(m) => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequest", "RateLimited", m),
        AnonymousApiError::Server(e) => {
            tracing::error!(cause = %e.describe(), "web anonymous user request failed");
            let m = "internal server error".to_owned();
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "UnexpectedError", m)
        }
    };
    let error = json!({"name": name, "reason": reason, "message": message, "code": status.as_u16()});
    no_store(status, json!({ "error": error }))
}

/// `POST /api/anonymous_user/signup`.
pub async fn signup(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let map = match body_fields(&body, &["client_id", "session_type", "refresh_token"], &["client_id", "session_type"])
    {
        Ok(m) => m,
        Err(e) => return bad_request(e),
    };
    let kind = match session_type(&map) {
        Ok(k) => k,
        Err(e) => return bad_request(e),
    };
    let client_id = text(&map, "client_id").unwrap_or("");
    let actor = actor(&peer, &headers);
    let jar = CookieJar::from_headers(&headers);
    let current = match kind {
        WebSessionType::Cookie => match current_session(&state, &jar, &actor).await {
            Ok(s) => s,
            Err(e) => return api_error(AnonymousApiError::Server(e)),
        },
        WebSessionType::RefreshToken => None,
    };
    let oauth = state.services.oauth();
    match oauth.anonymous_web_signup(client_id, kind, text(&map, "refresh_token"), current.as_ref(), &actor).await {
        Ok(WebSignup::Cookie(token)) => {
            let res = no_store(StatusCode::OK, json!({"result": {}}));
            match token {
                Some(t) => (jar.add(state.ui.session_cookie(t)), res).into_response(),
                None => res,
            }
        }
        Ok(WebSignup::Tokens(t)) => {
            let mut result = json!({
                "token_type": "Bearer",
                "access_token": t.access_token,
                "refresh_token": t.refresh_token,
                "expires_in": t.expires_in,
                "scope": t.scope,
            });
            if let Some(id) = t.id_token {
                result["id_token"] = json!(id);
            }
            no_store(StatusCode::OK, json!({ "result": result }))
        }
        Err(e) => api_error(e),
    }
}

/// `POST /api/anonymous_user/promotion_code`.
pub async fn promotion_code(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let map = match body_fields(&body, &["session_type", "refresh_token"], &["session_type"]) {
        Ok(m) => m,
        Err(e) => return bad_request(e),
    };
    let kind = match session_type(&map) {
        Ok(k) => k,
        Err(e) => return bad_request(e),
    };
    let actor = actor(&peer, &headers);
    let session = match kind {
        WebSessionType::Cookie => match current_session(&state, &CookieJar::from_headers(&headers), &actor).await {
            Ok(s) => s,
            Err(e) => return api_error(AnonymousApiError::Server(e)),
        },
        WebSessionType::RefreshToken => None,
    };
    let caller = match (kind, text(&map, "refresh_token")) {
        (WebSessionType::RefreshToken, Some(rt)) => PromotionCaller::RefreshToken(rt),
        (WebSessionType::RefreshToken, None) => PromotionCaller::Nobody,
        (WebSessionType::Cookie, _) => match (&session, bearer_token(&headers)) {
            (Some(s), _) => PromotionCaller::Session(s),
            (None, Some(token)) => PromotionCaller::AccessToken(token),
            (None, None) => PromotionCaller::Nobody,
        },
    };
    match state.services.oauth().anonymous_promotion_code(caller).await {
        Ok(c) => {
            // An OffsetDateTime in the supported range always formats as RFC 3339.
            let expire_at = c.expire_at.format(&Rfc3339).unwrap_or_default();
            let mut res =
                no_store(StatusCode::OK, json!({"result": {"promotion_code": c.code, "expire_at": expire_at}}));
            res.headers_mut().append(header::VARY, header::HeaderValue::from_static("Cookie"));
            res
        }
        Err(e) => api_error(e),
    }
}
