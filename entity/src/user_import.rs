//! `user_imports`: one bulk import job, its options, progress and summary.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// `pending`, `running`, `completed`, `cancelled`, `interrupted` or `failed`.
    pub status: String,
    /// `{upsert, identifier, dry_run, source}`.
    pub options: Json,
    /// Records read so far (all of them once the job ends).
    pub total: i64,
    /// Records whose outcome is committed: the job stopped after this many.
    pub processed: i64,
    pub inserted: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub error: Option<String>,
    pub cancel_requested: bool,
}

impl ActiveModelBehavior for ActiveModel {}
