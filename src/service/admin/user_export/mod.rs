//! User exports: Authgear's export jobs, served by this server.
//!
//! An export is a row holding the validated request ([`ExportRequest`]); nothing is
//! written to a file. Its download link is signed (HMAC-SHA256 under a key derived from
//! the master key, over the export's ID and the link's expiry) and expires after
//! `user_export.link_ttl_seconds`. Fetching the link streams the records straight from the
//! database: keyset pages of users (by ID) with batched look-ups of their identities,
//! authenticators, roles and groups, serialised into the response as they come, inside one
//! read transaction (a consistent snapshot as of the start of the download). Any process
//! of a deployment on one database can therefore create, describe and serve any export,
//! and memory stays flat for any number of users.
//!
//! Every export writes an audit row when it is created
//! (`admin_api.mutation.export_users.executed`) and when it is downloaded
//! (`admin_api.user_export.downloaded`); one that carries password hashes also writes
//! `admin_api.user_export.password_hashes_exported` whenever hashes leave the server.

mod record;
mod sqlite_read;
mod stream;

use futures::stream::BoxStream;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::{b64, b64_decode, ct_eq};
use crate::domain::reason;
use crate::domain::user_export::{ExportFormat, ExportRequest};
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Actor, Audit, Error, Result, UserExports};
use entity::user_export;

/// The purpose the download links' MAC is bound to.
const LINK_PURPOSE: &str = "user-export-download";

/// Audit activity of a download (or a CLI export).
pub const DOWNLOADED: &str = "admin_api.user_export.downloaded";
/// Audit activity of an export that carries password hashes.
pub const PASSWORD_HASHES_EXPORTED: &str = "admin_api.user_export.password_hashes_exported";

/// A requested export.
#[derive(Debug, Clone)]
pub struct UserExport {
    /// The export's ID (a UUID), as the REST API and GraphQL show it.
    pub id: Uuid,
    /// When it was requested.
    pub created_at: OffsetDateTime,
    /// After this it is gone.
    pub expires_at: OffsetDateTime,
    /// The token subject that requested it.
    pub created_by: Option<String>,
    /// What it exports.
    pub request: ExportRequest,
}

impl UserExport {
    /// Authgear's task status. An export is ready as soon as it exists (the records are
    /// read when the link is fetched), so it is always `completed`.
    pub fn status(&self) -> &'static str {
        "completed"
    }

    /// When it became ready: at once.
    pub fn completed_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// The file name of the download: `authgraph-<id>-<created, ISO 8601 basic>.<format>`.
    pub fn file_name(&self) -> String {
        let t = self.created_at;
        format!(
            "authgraph-{}-{:04}{:02}{:02}{:02}{:02}{:02}Z.{}",
            self.id,
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.request.format.as_str()
        )
    }
}

impl TryFrom<user_export::Model> for UserExport {
    type Error = Error;

    fn try_from(m: user_export::Model) -> Result<Self> {
        let request: ExportRequest =
            serde_json::from_value(m.request).map_err(|e| Error::caused("user export request", e))?;
        Ok(Self {
            id: m.id,
            created_at: time_of(m.created_at),
            expires_at: time_of(m.expires_at),
            created_by: m.created_by,
            request,
        })
    }
}

/// A download: what the HTTP response (or the CLI) needs, and the body as a stream of
/// chunks (a few batches in flight at most). A failure after the first chunk ends the
/// stream with an error, so the transfer breaks instead of ending cleanly.
pub struct ExportDownload {
    /// The file format.
    pub format: ExportFormat,
    /// The suggested file name.
    pub file_name: String,
    /// The file, chunk by chunk.
    pub body: BoxStream<'static, Result<Vec<u8>>>,
}

fn invalid_link(message: &str) -> Error {
    Error::Forbidden { reason: reason::INVALID_DOWNLOAD_LINK, message: message.to_owned() }
}

fn link_data(id: Uuid, expires: i64) -> String {
    format!("{id}.{expires}")
}

impl UserExports<'_> {
    /// Records an export of `request` (validated here) and its audit row. The caller has
    /// checked that the requester may export password hashes when the request asks for them.
    pub async fn create(&self, audit: &Audit, request: ExportRequest) -> Result<UserExport> {
        request.validate().map_err(crate::domain::Invalid::from)?;
        let t = now();
        let expires = t + time::Duration::hours(i64::try_from(self.config.user_export.retention_hours).unwrap_or(24));
        let request_json = serde_json::to_value(&request).map_err(|e| Error::caused("user export request", e))?;
        self.write(async |tx| {
            let txn = tx.conn();
            // Expired exports go as new ones come: no job is needed to sweep them.
            user_export::Entity::delete_many()
                .filter(Expr::col(user_export::Column::ExpiresAt).lte(micros(t)))
                .exec(txn)
                .await?;
            let row = user_export::ActiveModel {
                id: Set(Uuid::now_v7()),
                created_at: Set(micros(t)),
                expires_at: Set(micros(expires)),
                created_by: Set(audit.actor.subject.clone()),
                format: Set(request.format.as_str().to_owned()),
                include_password_hashes: Set(request.include_password_hashes),
                request: Set(request_json.clone()),
            }
            .insert(txn)
            .await?;
            tx.record(audit, None, json!({"export_id": row.id, "request": request_json})).await?;
            UserExport::try_from(row)
        })
        .await
    }

    /// The export with this ID, unless it does not exist or has expired.
    pub async fn get(&self, id: Uuid) -> Result<Option<UserExport>> {
        let Some(row) = user_export::Entity::find_by_id(id).one(&self.db.reader()).await? else {
            return Ok(None);
        };
        if row.expires_at <= micros(now()) {
            return Ok(None);
        }
        UserExport::try_from(row).map(Some)
    }

    /// A fresh download link for `export`, valid for `user_export.link_ttl_seconds` (but
    /// never past the export's own expiry).
    pub fn download_url(&self, export: &UserExport) -> String {
        let ttl = i64::try_from(self.config.user_export.link_ttl_seconds).unwrap_or(60);
        let expires = std::cmp::min(now().unix_timestamp() + ttl, export.expires_at.unix_timestamp());
        let sig = b64(self.master_key.mac(LINK_PURPOSE, link_data(export.id, expires).as_bytes()));
        format!(
            "{}/_api/admin/users/export/{}/download?expires={expires}&signature={sig}",
            self.config.public_url(),
            export.id
        )
    }

    /// Opens the download behind a link: checks its signature and expiry (a tampered or
    /// expired link is `Forbidden`/`InvalidDownloadLink`), that the export still exists,
    /// writes the audit rows, and starts streaming. `actor` is whoever fetched the link;
    /// the audit rows name the export's requester as the subject.
    pub async fn open_download(
        &self,
        id: &str,
        expires: &str,
        signature: &str,
        actor: Actor,
    ) -> Result<ExportDownload> {
        let (Ok(id), Ok(expires_at)) = (Uuid::parse_str(id), expires.parse::<i64>()) else {
            return Err(invalid_link("the download link is not valid"));
        };
        let given = b64_decode(signature).unwrap_or_default();
        let expected = self.master_key.mac(LINK_PURPOSE, link_data(id, expires_at).as_bytes());
        if !ct_eq(&expected, &given) {
            return Err(invalid_link("the download link is not valid"));
        }
        if expires_at < now().unix_timestamp() {
            return Err(invalid_link("the download link has expired; get a new one from the export"));
        }
        let export = self.get(id).await?.ok_or_else(|| {
            Error::not_found(reason::TASK_NOT_FOUND, format!("export {id} does not exist or has expired"))
        })?;
        let actor = Actor { subject: export.created_by.clone(), ..actor };
        self.audit_download(&actor, Some(export.id), &export.request).await?;
        Ok(ExportDownload {
            format: export.request.format,
            file_name: export.file_name(),
            body: stream::spawn((**self).clone(), export.request),
        })
    }

    /// Streams an export of `request` at once, without a stored export (the CLI): validates
    /// it, writes the audit rows, and starts streaming.
    pub async fn stream_now(&self, actor: &Actor, request: ExportRequest) -> Result<ExportDownload> {
        request.validate().map_err(crate::domain::Invalid::from)?;
        self.audit_download(actor, None, &request).await?;
        let created_at = now();
        let file = UserExport { id: Uuid::nil(), created_at, expires_at: created_at, created_by: None, request };
        Ok(ExportDownload {
            format: file.request.format,
            file_name: file.file_name(),
            body: stream::spawn((**self).clone(), file.request),
        })
    }

    async fn audit_download(&self, actor: &Actor, id: Option<Uuid>, request: &ExportRequest) -> Result<()> {
        let payload = json!({"export_id": id, "request": request});
        self.write(async |tx| {
            let downloaded = Audit { actor: actor.clone(), activity: DOWNLOADED.to_owned() };
            tx.record(&downloaded, None, payload.clone()).await?;
            if request.include_password_hashes {
                let hashes = Audit { actor: actor.clone(), activity: PASSWORD_HASHES_EXPORTED.to_owned() };
                tx.record(&hashes, None, payload.clone()).await?;
            }
            Ok(())
        })
        .await
    }
}
