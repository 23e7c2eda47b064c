//! `hook_events`: non-blocking events that a handler subscribes to (the webhook outbox).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "hook_events")]
pub struct Model {
    /// The event's `seq`: increasing in commit order.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The event's `id` (the ID of its audit row).
    #[sea_orm(unique)]
    pub id: Uuid,
    pub event_type: String,
    pub user_id: Option<Uuid>,
    /// `{payload, context}` of the envelope.
    pub data: Json,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
