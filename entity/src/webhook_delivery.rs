//! `webhook_deliveries`: one row per event and handler, with the delivery's state.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_seq: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub user_id: Option<Uuid>,
    /// Deliveries with one `order_key` and handler go out in `event_seq` order.
    pub order_key: String,
    pub handler_url: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// Failing deliveries are retried until then, then marked `failed`.
    pub retry_until: i64,
    /// A worker holds the row until then while it sends it.
    pub locked_until: Option<i64>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
