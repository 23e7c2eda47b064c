//! User exports in GraphQL: `exportUsers` and `userExport`, the same exports as
//! `POST /_api/admin/users/export` and `GET /_api/admin/users/export/{id}`.

use crate::graphql::date_time::DateTime;
use async_graphql::{
    Context, Enum, ID, InputObject, InputValueError, InputValueResult, Object, Scalar, ScalarType, SimpleObject, Value,
};

use super::context::{audit, check_scope, services};
use super::error::bad_input;
use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::domain::user_export::{CsvField, CsvOptions, ExportFormat, ExportRequest, RequestError};
use crate::service::admin::user_export::UserExport as Export;

/// The request of a user export as the REST API shows it (snake_case JSON):
/// `{"format", "csv": {"fields": [{"pointer", "field_name"}]}, "search_keyword",
/// "role_keys", "group_keys", "is_disabled", "include_password_hashes"}`, absent keys
/// left out.
#[derive(Debug, Clone, PartialEq)]
pub struct UserExportRequest(pub serde_json::Value);

/// The request of a user export as the REST API shows it (snake_case JSON).
#[Scalar]
impl ScalarType for UserExportRequest {
    fn parse(value: Value) -> InputValueResult<Self> {
        value.into_json().map(UserExportRequest).map_err(|e| InputValueError::custom(e.to_string()))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// The file format of a user export.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserExportFormat {
    /// One JSON record per line, each ended by a newline (`application/x-ndjson`).
    Ndjson,
    /// RFC 4180 CSV: a header line, then one row per user (`text/csv`).
    Csv,
}

impl From<UserExportFormat> for ExportFormat {
    fn from(f: UserExportFormat) -> Self {
        match f {
            UserExportFormat::Ndjson => Self::Ndjson,
            UserExportFormat::Csv => Self::Csv,
        }
    }
}

impl From<ExportFormat> for UserExportFormat {
    fn from(f: ExportFormat) -> Self {
        match f {
            ExportFormat::Ndjson => Self::Ndjson,
            ExportFormat::Csv => Self::Csv,
        }
    }
}

/// Where an export stands (Authgear's task statuses). An export is ready as soon as it is
/// created: its records are read from the database when its link is fetched.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserExportStatus {
    /// Ready: `downloadURL` streams the file.
    Completed,
}

/// One CSV column of an export.
#[derive(InputObject)]
#[graphql(name = "UserExportCSVFieldInput")]
pub struct UserExportCsvFieldInput {
    /// An RFC 6901 JSON pointer into the export record with at least one non-empty
    /// token, e.g. `/sub` or `/address/formatted`.
    pub pointer: String,
    /// The column header; default: the pointer's tokens joined by `.`
    /// (`address.formatted`). Headers must be unique.
    pub field_name: Option<String>,
}

/// The CSV options of an export.
#[derive(InputObject)]
#[graphql(name = "UserExportCSVInput")]
pub struct UserExportCsvInput {
    /// The columns, in order (at least one, at most 200).
    pub fields: Vec<UserExportCsvFieldInput>,
}

/// Input of `exportUsers`: Authgear's export request, with the `users` list's filters and
/// the password-hash option.
#[derive(InputObject)]
pub struct ExportUsersInput {
    /// The file format.
    pub format: UserExportFormat,
    /// CSV columns (CSV only); default: the columns listed in the README.
    pub csv: Option<UserExportCsvInput>,
    /// Only users the `users` list's keyword matches: a user ID or login ID exactly, any
    /// part of an email, username, phone number or name (three or more characters) or
    /// their beginning (one or two).
    pub search_keyword: Option<String>,
    /// Only users with all these effective roles.
    pub role_keys: Option<Vec<String>>,
    /// Only users in all these groups.
    pub group_keys: Option<Vec<String>>,
    /// Only disabled (true) or enabled (false) users.
    pub is_disabled: Option<bool>,
    /// Add each user's password hashes (`password`, `mfa.password`) to the records. Needs
    /// the scope `user:export-password-hashes`; every download is audited.
    pub include_password_hashes: Option<bool>,
}

impl ExportUsersInput {
    fn into_request(self) -> ExportRequest {
        ExportRequest {
            format: self.format.into(),
            csv: self.csv.map(|c| CsvOptions {
                fields: c
                    .fields
                    .into_iter()
                    .map(|f| CsvField { pointer: f.pointer, field_name: f.field_name })
                    .collect(),
            }),
            search_keyword: self.search_keyword,
            role_keys: self.role_keys.unwrap_or_default(),
            group_keys: self.group_keys.unwrap_or_default(),
            is_disabled: self.is_disabled,
            include_password_hashes: self.include_password_hashes.unwrap_or(false),
        }
    }
}

/// A user export.
pub struct UserExport(pub Export);

/// A user export: its request, and a signed link that streams the file. Needs `user:read`.
#[Object(requires_scopes = "user:read")]
impl UserExport {
    /// The export's ID: the same as the REST API's (`GET /_api/admin/users/export/{id}`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where the export stands.
    async fn status(&self) -> UserExportStatus {
        UserExportStatus::Completed
    }
    /// When it was requested.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When it became ready (at once).
    async fn completed_at(&self) -> DateTime {
        DateTime(self.0.completed_at())
    }
    /// When it failed; always null (a download that fails breaks its transfer instead).
    async fn failed_at(&self) -> Option<DateTime> {
        None
    }
    /// After this time the export is gone (`user_export.retention_hours` after creation).
    async fn expire_at(&self) -> DateTime {
        DateTime(self.0.expires_at)
    }
    /// The file format.
    async fn format(&self) -> UserExportFormat {
        self.0.request.format.into()
    }
    /// Whether the records carry password hashes.
    async fn include_password_hashes(&self) -> bool {
        self.0.request.include_password_hashes
    }
    /// The request as the REST API shows it.
    async fn request(&self) -> UserExportRequest {
        UserExportRequest(serde_json::to_value(&self.0.request).unwrap_or_default())
    }
    /// The suggested file name of the download.
    async fn file_name(&self) -> String {
        self.0.file_name()
    }
    /// A freshly signed link that streams the file, valid for `user_export.link_ttl_seconds`
    /// (60 by default); no token is needed to fetch it. For an export with password hashes
    /// it needs `user:export-password-hashes` too.
    #[graphql(name = "downloadURL")]
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        if self.0.request.include_password_hashes {
            check_scope(ctx, AdminScope::UserExportPasswordHashes)?;
        }
        Ok(services(ctx)?.user_exports().download_url(&self.0))
    }
}

/// Result of `exportUsers`.
#[derive(SimpleObject)]
pub struct ExportUsersPayload {
    /// The new export.
    pub user_export: UserExport,
}

/// User export queries.
#[derive(Default)]
pub struct UserExportQuery;

#[Object]
impl UserExportQuery {
    /// The export with this ID, or null when there is none (or it has expired). Needs
    /// `user:read`.
    #[graphql(requires_scopes = "user:read")]
    async fn user_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The export's ID.")] id: ID,
    ) -> async_graphql::Result<Option<UserExport>> {
        let Ok(uuid) = uuid::Uuid::parse_str(id.as_str()) else {
            return Ok(None);
        };
        Ok(services(ctx)?.user_exports().get(uuid).await?.map(UserExport))
    }
}

/// User export mutations.
#[derive(Default)]
pub struct UserExportMutation;

#[Object]
impl UserExportMutation {
    /// Exports users, as `POST /_api/admin/users/export`: records the request and returns
    /// the export with its signed `downloadURL`. Needs `user:read`; with
    /// `includePasswordHashes`, also `user:export-password-hashes`. Audited.
    #[graphql(requires_scopes = "user:read")]
    async fn export_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to export and how.")] input: ExportUsersInput,
    ) -> async_graphql::Result<ExportUsersPayload> {
        let request = input.into_request();
        if request.include_password_hashes {
            check_scope(ctx, AdminScope::UserExportPasswordHashes)?;
        }
        match request.validate() {
            Ok(()) => {}
            Err(RequestError::Invalid(i)) => return Err(bad_input(i.reason, i.message)),
            Err(RequestError::NonUniqueFieldNames(names)) => {
                return Err(bad_input(
                    reason::USER_EXPORT_NON_UNIQUE_FIELD_NAMES,
                    format!("field names are not unique: {}", names.join(", ")),
                ));
            }
        }
        let export = services(ctx)?.user_exports().create(&audit(ctx, "export_users"), request).await?;
        Ok(ExportUsersPayload { user_export: UserExport(export) })
    }
}
