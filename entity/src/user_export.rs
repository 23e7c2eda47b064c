//! `user_exports`: requested user exports. The records are streamed from the database when
//! the export's signed download link is fetched; the row holds only the request.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: i64,
    /// After this time the export is gone: no more links, downloads refused.
    pub expires_at: i64,
    /// The token subject that requested it.
    pub created_by: Option<String>,
    /// `ndjson` or `csv`.
    pub format: String,
    pub include_password_hashes: bool,
    /// The request as validated (format, CSV fields, filters, options).
    pub request: Json,
}

impl ActiveModelBehavior for ActiveModel {}
