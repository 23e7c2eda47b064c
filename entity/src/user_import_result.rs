//! `user_import_results`: the outcome of one record of an import job.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_import_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    /// `inserted`, `updated`, `skipped` or `failed`.
    pub outcome: String,
    pub user_id: Option<Uuid>,
    /// The record as given (password hash and TOTP secret redacted), kept for failed ones.
    pub record: Option<Json>,
    pub warnings: Option<Json>,
    pub errors: Option<Json>,
}

impl ActiveModelBehavior for ActiveModel {}
