//! What Authgear's REST endpoints beside the GraphQL Admin API (user import and export)
//! share: the bearer-token check with the caller's scopes, and Authgear's API error shape
//! `{"error": {name, reason, message, code, info?}}` with the one mapping of service errors.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::service::{Actor, Error, TriggeredBy};
use crate::state::{AppState, Peer, bearer_token};

/// Authgear's API error as a response.
pub(super) fn api_error(status: StatusCode, name: &str, reason: &str, message: &str, info: Option<Value>) -> Response {
    let mut error = json!({"name": name, "reason": reason, "message": message, "code": status.as_u16()});
    if let Some(info) = info {
        error["info"] = info;
    }
    (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(json!({"error": error}))).into_response()
}

/// The one mapping of service errors to REST errors.
pub(super) fn service_error(e: Error) -> Response {
    match e {
        Error::Invalid { reason, message } => api_error(StatusCode::BAD_REQUEST, "Invalid", reason, &message, None),
        Error::NotFound { reason, message } => api_error(StatusCode::NOT_FOUND, "NotFound", reason, &message, None),
        Error::Conflict { reason, message } => api_error(StatusCode::CONFLICT, "AlreadyExists", reason, &message, None),
        Error::Forbidden { reason, message } => api_error(StatusCode::FORBIDDEN, "Forbidden", reason, &message, None),
        Error::Hook(h) => api_error(StatusCode::FORBIDDEN, "Forbidden", h.reason(), &h.message(), Some(h.info())),
        Error::Internal(cause) => {
            tracing::error!(cause = %cause.chain(), "internal error in an admin REST endpoint");
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                reason::INTERNAL_ERROR,
                "internal error",
                None,
            )
        }
    }
}

/// The caller of an endpoint: who, with which Admin API scopes.
pub(super) struct Caller {
    scopes: Vec<AdminScope>,
    /// The caller as the audit log records it.
    pub(super) actor: Actor,
}

impl Caller {
    /// The refusal when the caller lacks `scope`.
    pub(super) fn lacks(&self, scope: AdminScope) -> Option<Response> {
        if self.scopes.contains(&scope) {
            return None;
        }
        Some(api_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            reason::INSUFFICIENT_SCOPE,
            &format!("this operation requires the scope `{scope}`"),
            Some(json!({"scope": scope.as_str()})),
        ))
    }
}

pub(super) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Verifies the bearer token as `/_api/admin/graphql` does; 401 with a challenge otherwise.
pub(super) async fn authenticate(state: &AppState, peer: &Peer, headers: &HeaderMap) -> Result<Caller, Response> {
    let refuse = |message: &str| {
        let mut res = api_error(StatusCode::UNAUTHORIZED, "Unauthenticated", reason::UNAUTHENTICATED, message, None);
        let challenge = format!(
            "Bearer realm=\"authgraph\", error=\"invalid_token\", error_description=\"{}\"",
            message.replace('"', "'")
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    };
    let Some(token) = bearer_token(headers) else {
        return Err(refuse("an Authorization: Bearer <token> header is required"));
    };
    let claims = state.services.signing_keys().verify_admin_token(token).await.map_err(|e| refuse(&e))?;
    Ok(Caller {
        scopes: claims.scope.split_whitespace().filter_map(AdminScope::parse).collect(),
        actor: Actor {
            subject: Some(claims.sub),
            ip: Some(peer.0.ip().to_string()),
            user_agent: user_agent(headers),
            client_id: claims.client_id,
            triggered_by: TriggeredBy::AdminApi,
        },
    })
}
