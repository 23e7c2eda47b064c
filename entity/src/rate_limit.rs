//! `rate_limits`: failure counters per bucket (e.g. login attempts per IP), in fixed windows.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limits")]
pub struct Model {
    /// What is counted, e.g. `login:ip:203.0.113.7`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: String,
    /// Start of the current window (Unix seconds).
    pub window_start: i64,
    /// Events counted in that window.
    pub count: i64,
}

impl ActiveModelBehavior for ActiveModel {}
