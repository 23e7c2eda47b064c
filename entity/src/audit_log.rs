//! `audit_logs`: one row per audited activity, written in the same transaction as the change.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: i64,
    pub activity_type: String,
    /// The affected user, kept after the user is deleted.
    pub user_id: Option<Uuid>,
    /// Who acted: the token subject (admin, client ID) or the end user.
    pub actor: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub client_id: Option<String>,
    pub data: Json,
}

impl ActiveModelBehavior for ActiveModel {}
