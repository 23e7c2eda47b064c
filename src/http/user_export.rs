//! Authgear's user export endpoints, beside the GraphQL Admin API:
//!
//! - `POST /_api/admin/users/export` with `{"format": "ndjson" | "csv", "csv": {"fields":
//!   [{"pointer", "field_name"?}]}}` plus the `users` list's filters (`search_keyword`,
//!   `role_keys`, `group_keys`, `is_disabled`) and `include_password_hashes`;
//! - `GET /_api/admin/users/export/{id}`: the export with a fresh `download_url`;
//! - `GET /_api/admin/users/export/{id}/download?expires=…&signature=…`: the signed link
//!   itself, which streams the file (no bearer token: the signature is the credential).
//!
//! The first two take the same bearer tokens as `/_api/admin/graphql` and need `user:read`;
//! an export with password hashes needs `user:export-password-hashes` as well, to create it
//! and to get its link. Answers are `{"result": …}` or Authgear's API error
//! `{"error": {name, reason, message, code, info?}}`.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::domain::user_export::{ExportRequest, RequestError};
use crate::service::admin::user_export::UserExport;
use crate::service::{Actor, Audit, TriggeredBy};
use crate::state::{AppState, Peer};

use super::admin_rest::{api_error, authenticate, service_error, user_agent};

fn validation_failed(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "Invalid", reason::VALIDATION_FAILED, message, None)
}

fn rfc3339(t: OffsetDateTime) -> Value {
    Value::String(crate::service::time::rfc3339_micros(t))
}

/// The export as Authgear's task response, with a freshly signed link.
fn task(state: &AppState, export: &UserExport) -> Value {
    json!({
        "id": export.id.to_string(),
        "created_at": rfc3339(export.created_at),
        "completed_at": rfc3339(export.completed_at()),
        "failed_at": null,
        "status": export.status(),
        "request": export.request,
        "download_url": state.services.user_exports().download_url(export),
        "expire_at": rfc3339(export.expires_at),
        "error": null,
    })
}

fn result(value: Value) -> Response {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], axum::Json(json!({"result": value}))).into_response()
}

/// `POST /_api/admin/users/export`.
pub async fn create(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match authenticate(&state, &peer, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if let Some(res) = caller.lacks(AdminScope::UserRead) {
        return res;
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "BadRequest",
                "the request body is not valid JSON",
                None,
            );
        }
    };
    let request: ExportRequest = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => return validation_failed(&format!("invalid request body: {e}")),
    };
    match request.validate() {
        Ok(()) => {}
        Err(RequestError::Invalid(i)) => {
            return api_error(StatusCode::BAD_REQUEST, "Invalid", i.reason, &i.message, None);
        }
        Err(RequestError::NonUniqueFieldNames(names)) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "Invalid",
                reason::USER_EXPORT_NON_UNIQUE_FIELD_NAMES,
                "field names are not unique",
                Some(json!({"field_names": names})),
            );
        }
    }
    if request.include_password_hashes
        && let Some(res) = caller.lacks(AdminScope::UserExportPasswordHashes)
    {
        return res;
    }
    let audit = Audit::admin_mutation(caller.actor, "export_users");
    match state.services.user_exports().create(&audit, request).await {
        Ok(export) => result(task(&state, &export)),
        Err(e) => service_error(e),
    }
}

fn not_found(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        reason::TASK_NOT_FOUND,
        &format!("export {id} does not exist or has expired"),
        None,
    )
}

/// `GET /_api/admin/users/export/{id}`.
pub async fn get(State(state): State<AppState>, peer: Peer, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let caller = match authenticate(&state, &peer, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if let Some(res) = caller.lacks(AdminScope::UserRead) {
        return res;
    }
    let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
        return not_found(&id);
    };
    match state.services.user_exports().get(uuid).await {
        Ok(Some(export)) => {
            if export.request.include_password_hashes
                && let Some(res) = caller.lacks(AdminScope::UserExportPasswordHashes)
            {
                return res;
            }
            result(task(&state, &export))
        }
        Ok(None) => not_found(&id),
        Err(e) => service_error(e),
    }
}

/// `GET /_api/admin/users/export/{id}/download?expires=…&signature=…`: streams the file.
pub async fn download(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| query.get(k).map(String::as_str).unwrap_or("");
    let actor = Actor {
        subject: None,
        ip: Some(peer.0.ip().to_string()),
        user_agent: user_agent(&headers),
        client_id: None,
        triggered_by: TriggeredBy::AdminApi,
    };
    let download =
        match state.services.user_exports().open_download(&id, field("expires"), field("signature"), actor).await {
            Ok(d) => d,
            Err(e) => return service_error(e),
        };
    let body = Body::from_stream(download.body.map(|chunk| match chunk {
        Ok(bytes) => Ok(Bytes::from(bytes)),
        // The error is logged where it happened; the transfer breaks so that the file
        // cannot be mistaken for a complete one.
        Err(_) => Err(std::io::Error::other("the export failed")),
    }));
    let disposition = format!("attachment; filename=\"{}\"", download.file_name);
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(download.format.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The export routes.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get as get_route, post};
    axum::Router::new()
        .route("/_api/admin/users/export", post(create))
        .route("/_api/admin/users/export/{id}", get_route(get))
        .route("/_api/admin/users/export/{id}/download", get_route(download))
}
