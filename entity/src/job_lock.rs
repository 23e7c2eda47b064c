//! `job_locks`: named leases that keep a background job to one process at a time.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job_locks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Who holds it (a job ID), if anyone.
    pub owner: Option<String>,
    /// Until when (microseconds); an expired lease is free.
    pub held_until: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
