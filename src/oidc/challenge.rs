//! `POST /oauth2/challenge` (Authgear's `pkg/auth/handler/oauth/challenge.go`): a
//! one-time challenge, valid five minutes, that a device signs into the JWT of the
//! anonymous-request (and later biometric-request) grant.
//!
//! The body is JSON, `{"purpose": "anonymous_request" | "biometric_request" |
//! "app2app_request"}` and nothing else. The answer is `{"result": {"token", "expire_at"}}`;
//! a refused request gets Authgear's API error, `{"error": {name, reason, message, code,
//! info}}`, with status 400.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::errors::no_store;
use crate::crypto::challenge::Purpose;
use crate::state::AppState;

const PURPOSES: [&str; 3] = ["anonymous_request", "biometric_request", "app2app_request"];

/// Authgear's `ValidationFailed` error with one cause (`kind`, `location`, `details`).
fn validation_failed(kind: &str, location: &str, details: Value) -> Value {
    json!({
        "name": "Invalid",
        "reason": "ValidationFailed",
        "message": "invalid request body",
        "code": 400,
        "info": {"causes": [{"kind": kind, "location": location, "details": details}]},
    })
}

/// The purpose the body asks for, or Authgear's API error (status 400) that refuses it.
fn purpose_of(body: &[u8]) -> Result<Purpose, Value> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(json!({
            "name": "BadRequest",
            "reason": "BadRequest",
            "message": "the request body is not valid JSON",
            "code": 400,
        }));
    };
    let Value::Object(map) = value else {
        return Err(validation_failed("type", "", json!({"expected": ["object"]})));
    };
    let extra: Vec<&String> = map.keys().filter(|k| k.as_str() != "purpose").collect();
    if !extra.is_empty() {
        return Err(validation_failed("additionalProperties", "", json!({"extra": extra})));
    }
    let Some(purpose) = map.get("purpose") else {
        return Err(validation_failed("required", "", json!({"expected": ["purpose"], "missing": ["purpose"]})));
    };
    let Some(purpose) = purpose.as_str() else {
        return Err(validation_failed("type", "/purpose", json!({"expected": ["string"]})));
    };
    Purpose::parse(purpose).ok_or_else(|| validation_failed("enum", "/purpose", json!({"expected": PURPOSES})))
}

/// `POST /oauth2/challenge`.
pub async fn challenge(State(state): State<AppState>, body: Bytes) -> Response {
    let purpose = match purpose_of(&body) {
        Ok(p) => p,
        Err(error) => return no_store(StatusCode::BAD_REQUEST, json!({"error": error})),
    };
    let issued = state.services.oauth().issue_challenge(purpose);
    // An OffsetDateTime in the supported range always formats as RFC 3339.
    let expire_at = issued.expire_at.format(&Rfc3339).unwrap_or_default();
    no_store(StatusCode::OK, json!({"result": {"token": issued.token, "expire_at": expire_at}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_known_purpose_and_nothing_else_passes() {
        assert_eq!(purpose_of(br#"{"purpose":"anonymous_request"}"#).ok(), Some(Purpose::AnonymousRequest));
        assert_eq!(purpose_of(br#"{"purpose":"app2app_request"}"#).ok(), Some(Purpose::App2appRequest));
        for bad in [
            &br#"{"purpose":"login"}"#[..],
            br#"{"purpose":"anonymous_request","x":1}"#,
            br#"{}"#,
            br#"{"purpose":1}"#,
            br#"["anonymous_request"]"#,
            b"purpose=anonymous_request",
            b"",
        ] {
            assert!(purpose_of(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
