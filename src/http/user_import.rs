//! Authgear's bulk import endpoints: `POST /_api/admin/users/import` (a JSON request with
//! `records`, or an NDJSON or CSV body of any size, streamed to a temporary file first)
//! and `GET /_api/admin/users/import/{id}`, plus `POST …/{id}/cancel`. The same bearer
//! tokens as the GraphQL endpoint; `user:write` to import, `user:read` to read a job.
//! Responses are wrapped as `{"result": …}` or `{"error": …}`, as Authgear's.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::domain::text::quoted;
use crate::service::import::{Format, Identifier, ImportJob, ImportOptions, source};
use crate::service::{Actor, Audit};

use super::admin_rest::{api_error, authenticate, service_error};
use crate::state::{AppState, Peer};

/// Largest JSON request (`records` in memory); NDJSON and CSV bodies have no limit.
pub const MAX_JSON_BODY: usize = 256 * 1024 * 1024;
/// Details returned by default with a job.
const DEFAULT_DETAILS: u64 = 10_000;

/// Checks the bearer token and its scope; the caller as an audit actor.
async fn authorize(state: &AppState, peer: &Peer, headers: &HeaderMap, scope: AdminScope) -> Result<Actor, Response> {
    let caller = authenticate(state, peer, headers).await?;
    match caller.lacks(scope) {
        Some(refusal) => Err(refusal),
        None => Ok(caller.actor),
    }
}

fn error(status: StatusCode, name: &str, reason: &str, message: &str) -> Response {
    api_error(status, name, reason, message, None)
}

/// A JSON import request (Authgear's keys, and `dry_run`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    #[serde(default)]
    upsert: bool,
    identifier: String,
    records: Vec<Value>,
    #[serde(default)]
    dry_run: bool,
}

/// Options of an NDJSON or CSV body, in the query string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    #[serde(default)]
    upsert: bool,
    identifier: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

fn identifier(s: &str) -> Result<Identifier, Box<Response>> {
    Identifier::parse(s).ok_or_else(|| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "Invalid",
            reason::INVALID_USER_IMPORT,
            "identifier must be email, phone_number or preferred_username",
        ))
    })
}

fn rfc3339(micros: Option<i64>) -> Value {
    micros
        .map_or(Value::Null, |m| Value::String(crate::service::time::rfc3339_micros(crate::service::time::time_of(m))))
}

/// A job in Authgear's task shape, with our extra fields.
pub fn job_json(job: &ImportJob, details: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "id": job.id,
        "created_at": rfc3339(Some(job.created_at)),
        "started_at": rfc3339(job.started_at),
        "completed_at": rfc3339(job.completed_at),
        "status": job.status,
        "error": job.error.as_ref().map(|e| json!({"message": e})),
        "upsert": job.options.upsert,
        "identifier": job.options.identifier.as_str(),
        "dry_run": job.options.dry_run,
        "processed": job.processed,
        "summary": {
            "total": job.total,
            "inserted": job.inserted,
            "updated": job.updated,
            "skipped": job.skipped,
            "failed": job.failed,
        },
    });
    if let Some(d) = details {
        v["details"] = Value::Array(d);
    }
    v
}

/// `POST /_api/admin/users/import`.
pub async fn create(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
    body: Body,
) -> Response {
    let actor = match authorize(&state, &peer, &headers, AdminScope::UserWrite).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (options, records) = match media.as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "text/csv" => {
            let format = if media == "text/csv" { Format::Csv } else { Format::Ndjson };
            let id = match identifier(query.identifier.as_deref().unwrap_or("email")) {
                Ok(i) => i,
                Err(r) => return *r,
            };
            let file = match spool(body).await {
                Ok(f) => f,
                Err(r) => return r,
            };
            let reader = match file.reopen() {
                Ok(f) => std::io::BufReader::new(f),
                Err(e) => {
                    tracing::error!(error = %e, "reopening a spooled import failed");
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "UnexpectedError",
                        "internal error",
                    );
                }
            };
            let source = if format == Format::Csv { "csv" } else { "ndjson" };
            let options =
                ImportOptions { upsert: query.upsert, identifier: id, dry_run: query.dry_run, source: source.into() };
            // The spooled file is removed once the reader thread has finished with it.
            let rx = source::read(Guarded { reader, _file: file }, format);
            (options, rx)
        }
        "application/json" | "" => {
            let bytes = match axum::body::to_bytes(body, MAX_JSON_BODY).await {
                Ok(b) => b,
                Err(_) => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Invalid",
                        reason::INVALID_USER_IMPORT,
                        "a JSON import is at most 256 MiB; send larger imports as NDJSON (application/x-ndjson)",
                    );
                }
            };
            let req: JsonRequest = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Invalid",
                        reason::INVALID_USER_IMPORT,
                        &format!("the body is not an import request: {e}"),
                    );
                }
            };
            if req.records.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Invalid",
                    reason::INVALID_USER_IMPORT,
                    "records must not be empty",
                );
            }
            let id = match identifier(&req.identifier) {
                Ok(i) => i,
                Err(r) => return *r,
            };
            let options =
                ImportOptions { upsert: req.upsert, identifier: id, dry_run: req.dry_run, source: "request".into() };
            (options, source::values(req.records))
        }
        other => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Invalid",
                reason::INVALID_USER_IMPORT,
                &format!(
                    "unsupported content type {}: use application/json, application/x-ndjson or text/csv",
                    quoted(other)
                ),
            );
        }
    };
    let audit = Audit::admin_mutation(actor, "import_users");
    let job = match state.services.imports().start(&audit, options, records).await {
        Ok(j) => j,
        Err(e) => return service_error(e),
    };
    axum::Json(json!({"result": {"id": job.id, "created_at": rfc3339(Some(job.created_at)), "status": job.status}}))
        .into_response()
}

/// A reader that keeps its temporary file alive (deleted when dropped).
struct Guarded<R> {
    reader: R,
    _file: tempfile::NamedTempFile,
}

impl<R: std::io::Read> std::io::Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Guarded<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.reader.consume(amt);
    }
}

/// Writes a streamed body to a temporary file.
async fn spool(body: Body) -> Result<tempfile::NamedTempFile, Response> {
    let internal = |e: std::io::Error| {
        tracing::error!(error = %e, "spooling an import body failed");
        error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "UnexpectedError", "internal error")
    };
    let file = tempfile::NamedTempFile::new().map_err(internal)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(internal)?);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "Invalid",
                reason::INVALID_USER_IMPORT,
                &format!("reading the body failed: {e}"),
            )
        })?;
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    Ok(file)
}

/// Paging of a job's details.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailsQuery {
    offset: Option<u64>,
    limit: Option<u64>,
}

fn parse_id(id: &str) -> Result<Uuid, Box<Response>> {
    Uuid::parse_str(id).map_err(|_| {
        Box::new(error(StatusCode::NOT_FOUND, "NotFound", reason::USER_IMPORT_NOT_FOUND, "no import has this ID"))
    })
}

/// `GET /_api/admin/users/import/{id}`: the job, its summary and its details (from
/// `offset`, at most `limit`, 10,000 by default).
pub async fn get(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DetailsQuery>,
) -> Response {
    if let Err(r) = authorize(&state, &peer, &headers, AdminScope::UserRead).await {
        return r;
    }
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let imports = state.services.imports();
    let job = match imports.get(id).await {
        Ok(Some(j)) => j,
        Ok(None) => {
            return error(StatusCode::NOT_FOUND, "NotFound", reason::USER_IMPORT_NOT_FOUND, "no import has this ID");
        }
        Err(e) => return service_error(e),
    };
    let limit = q.limit.unwrap_or(DEFAULT_DETAILS).min(100_000);
    let details = match imports.details(id, q.offset.unwrap_or(0), limit).await {
        Ok(d) => d,
        Err(e) => return service_error(e),
    };
    let details = details
        .into_iter()
        .map(|d| {
            json!({
                "index": d.index,
                "outcome": d.outcome,
                "user_id": d.user_id,
                "record": d.record,
                "warnings": d.warnings.unwrap_or_else(|| json!([])),
                "errors": d.errors.unwrap_or_else(|| json!([])),
            })
        })
        .collect();
    axum::Json(json!({"result": job_json(&job, Some(details))})).into_response()
}

/// `POST /_api/admin/users/import/{id}/cancel`: stops the job after its current batch.
pub async fn cancel(State(state): State<AppState>, peer: Peer, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let actor = match authorize(&state, &peer, &headers, AdminScope::UserWrite).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match state.services.imports().cancel(&Audit::admin_mutation(actor, "cancel_user_import"), id).await {
        Ok(job) => axum::Json(json!({"result": job_json(&job, None)})).into_response(),
        Err(e) => service_error(e),
    }
}
