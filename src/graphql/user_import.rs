//! Bulk import through GraphQL: `importUsers` starts a job over records given inline or as
//! NDJSON/CSV text, `userImport` reads it with its per-record outcomes, and
//! `cancelUserImport` stops it. The same jobs as `POST /_api/admin/users/import`.

use crate::graphql::date_time::DateTime;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

use super::context::{audit, services};
use super::scalars::UserImportValue;
use crate::service::import::{Format, Identifier, ImportDetail, ImportJob, ImportOptions, source};
use crate::service::time::time_of;

/// The login ID that finds an existing user (Authgear's `identifier`).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserImportIdentifier {
    /// `email`.
    Email,
    /// `phone_number`.
    PhoneNumber,
    /// `preferred_username`.
    PreferredUsername,
}

impl From<UserImportIdentifier> for Identifier {
    fn from(i: UserImportIdentifier) -> Self {
        match i {
            UserImportIdentifier::Email => Self::Email,
            UserImportIdentifier::PhoneNumber => Self::PhoneNumber,
            UserImportIdentifier::PreferredUsername => Self::PreferredUsername,
        }
    }
}

impl From<Identifier> for UserImportIdentifier {
    fn from(i: Identifier) -> Self {
        match i {
            Identifier::Email => Self::Email,
            Identifier::PhoneNumber => Self::PhoneNumber,
            Identifier::PreferredUsername => Self::PreferredUsername,
        }
    }
}

/// The format of `importUsers`' `text`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserImportFormat {
    /// One JSON record per line.
    Ndjson,
    /// A header row of record field names, then one record per row.
    Csv,
}

/// A bulk import job.
pub struct UserImport(pub ImportJob);

/// The counts of a bulk import's outcomes.
#[derive(SimpleObject)]
pub struct UserImportSummary {
    /// Records read.
    pub total: i64,
    /// New users.
    pub inserted: i64,
    /// Existing users changed (`upsert`).
    pub updated: i64,
    /// Existing users left alone (without `upsert`).
    pub skipped: i64,
    /// Records not imported; their details say why.
    pub failed: i64,
}

/// The outcome of one record of a bulk import.
#[derive(SimpleObject)]
pub struct UserImportDetail {
    /// The record's position in the input, from 0.
    pub index: i64,
    /// `inserted`, `updated`, `skipped` or `failed`.
    pub outcome: String,
    /// The user the record made or found.
    #[graphql(name = "userID")]
    pub user_id: Option<ID>,
    /// The record as given, password hashes and TOTP secrets redacted (failed records only).
    pub record: Option<UserImportValue>,
    /// Warnings (`[{message}]`), e.g. identities an import cannot recreate.
    pub warnings: Option<UserImportValue>,
    /// Why it failed: Authgear's API errors (`name`, `reason`, `message`, `code`).
    pub errors: Option<UserImportValue>,
}

impl From<ImportDetail> for UserImportDetail {
    fn from(d: ImportDetail) -> Self {
        Self {
            index: d.index,
            outcome: d.outcome,
            user_id: d.user_id.map(|u| ID(u.to_string())),
            record: d.record.map(UserImportValue),
            warnings: d.warnings.map(UserImportValue),
            errors: d.errors.map(UserImportValue),
        }
    }
}

/// A bulk import job: its options, progress and outcomes.
#[Object(requires_scopes = "user:read", requires_scopes = "user:write")]
impl UserImport {
    /// The job's ID (also the ID of `GET /_api/admin/users/import/{id}`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime {
        DateTime(time_of(self.0.created_at))
    }
    /// When it started running (it waits while another import runs).
    async fn started_at(&self) -> Option<DateTime> {
        self.0.started_at.map(time_of).map(DateTime)
    }
    /// When it ended.
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(time_of).map(DateTime)
    }
    /// `pending`, `running`, `completed`, `cancelled`, `interrupted` (the server stopped;
    /// `processed` records are in, the rest are not) or `failed`.
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// Whether existing users are updated.
    async fn upsert(&self) -> bool {
        self.0.options.upsert
    }
    /// The login ID that finds existing users.
    async fn identifier(&self) -> UserImportIdentifier {
        self.0.options.identifier.into()
    }
    /// Whether the job only validates (changes nothing).
    async fn dry_run(&self) -> bool {
        self.0.options.dry_run
    }
    /// Records whose outcome is committed: where the job is, or where it stopped.
    async fn processed(&self) -> i64 {
        self.0.processed
    }
    /// Why the job stopped early.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The counts of outcomes so far.
    async fn summary(&self) -> UserImportSummary {
        UserImportSummary {
            total: self.0.total,
            inserted: self.0.inserted,
            updated: self.0.updated,
            skipped: self.0.skipped,
            failed: self.0.failed,
        }
    }
    /// Per-record outcomes in record order, from `offset`.
    async fn details(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The first record's index.", default = 0)] offset: u64,
        #[graphql(desc = "How many, at most 1,000.", default = 100)] first: u64,
    ) -> async_graphql::Result<Vec<UserImportDetail>> {
        let list = services(ctx)?.imports().details(self.0.id, offset, first.min(1000)).await?;
        Ok(list.into_iter().map(UserImportDetail::from).collect())
    }
}

/// Input of `importUsers`: the records inline (`records`) or as text (`text` with `format`).
#[derive(InputObject)]
pub struct ImportUsersInput {
    /// Update existing users (found by `identifier`) with the fields a record names;
    /// without it they are skipped.
    #[graphql(default)]
    pub upsert: bool,
    /// The login ID that finds existing users and that every record must have.
    pub identifier: UserImportIdentifier,
    /// Validate everything and report each record's outcome, changing nothing.
    #[graphql(default)]
    pub dry_run: bool,
    /// Authgear's import records.
    pub records: Option<Vec<UserImportValue>>,
    /// Records as NDJSON or CSV text.
    pub text: Option<String>,
    /// The format of `text` (NDJSON by default).
    pub format: Option<UserImportFormat>,
}

/// Input of `cancelUserImport`.
#[derive(InputObject)]
pub struct CancelUserImportInput {
    /// The job's ID.
    pub id: ID,
}

payload!(/// Result of `importUsers`.
    ImportUsersPayload { /// The job, pending: poll `userImport` for its progress.
        import: UserImport });
payload!(/// Result of `cancelUserImport`.
    CancelUserImportPayload { /// The job; it stops after the batches being written (one, two on PostgreSQL).
        import: UserImport });

fn job_id(id: &ID) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| {
        crate::graphql::error::bad_input(crate::domain::reason::USER_IMPORT_NOT_FOUND, "no import has this ID")
    })
}

/// Bulk import queries.
#[derive(Default)]
pub struct UserImportQuery;

#[Object]
impl UserImportQuery {
    /// A bulk import job, or null. Needs `user:read`.
    #[graphql(requires_scopes = "user:read", requires_scopes = "user:write")]
    async fn user_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job's ID.")] id: ID,
    ) -> async_graphql::Result<Option<UserImport>> {
        let Ok(id) = Uuid::parse_str(id.as_str()) else { return Ok(None) };
        Ok(services(ctx)?.imports().get(id).await?.map(UserImport))
    }
}

/// Bulk import mutations.
#[derive(Default)]
pub struct UserImportMutation;

#[Object]
impl UserImportMutation {
    /// Starts importing users (Authgear's import records). Returns at once with the job;
    /// one import runs at a time, others wait. Needs `user:write`.
    #[graphql(requires_scopes = "user:write")]
    async fn import_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to import and how.")] input: ImportUsersInput,
    ) -> async_graphql::Result<ImportUsersPayload> {
        let (records, src) = match (input.records, input.text) {
            (Some(r), None) if !r.is_empty() => (source::values(r.into_iter().map(|v| v.0).collect()), "request"),
            (None, Some(t)) if !t.trim().is_empty() => {
                let format = match input.format {
                    Some(UserImportFormat::Csv) => Format::Csv,
                    _ => Format::Ndjson,
                };
                let name = if format == Format::Csv { "csv" } else { "ndjson" };
                (source::read(std::io::Cursor::new(t.into_bytes()), format), name)
            }
            _ => {
                return Err(crate::graphql::error::bad_input(
                    crate::domain::reason::INVALID_USER_IMPORT,
                    "give either records (not empty) or text (not empty)",
                ));
            }
        };
        let options = ImportOptions {
            upsert: input.upsert,
            identifier: input.identifier.into(),
            dry_run: input.dry_run,
            source: src.into(),
        };
        let job = services(ctx)?.imports().start(&audit(ctx, "import_users"), options, records).await?;
        Ok(ImportUsersPayload { import: UserImport(job) })
    }

    /// Stops a pending or running import after the batches being written. Needs `user:write`.
    #[graphql(requires_scopes = "user:write")]
    async fn cancel_user_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which import.")] input: CancelUserImportInput,
    ) -> async_graphql::Result<CancelUserImportPayload> {
        let id = job_id(&input.id)?;
        let job = services(ctx)?.imports().cancel(&audit(ctx, "cancel_user_import"), id).await?;
        Ok(CancelUserImportPayload { import: UserImport(job) })
    }
}
