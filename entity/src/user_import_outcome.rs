//! `user_import_outcomes`: the outcomes of a run of records of an import job, as a JSON
//! array with one element per record (see the service's `import::jobs`).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_import_outcomes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: Uuid,
    /// The lowest record index in `outcomes`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub first_idx: i64,
    /// The highest record index in `outcomes`.
    pub last_idx: i64,
    /// JSON text: `[[idx, outcome, user_id, record, warnings, errors], …]`, trailing nulls
    /// left out.
    #[sea_orm(column_type = "Text")]
    pub outcomes: String,
}

impl ActiveModelBehavior for ActiveModel {}
