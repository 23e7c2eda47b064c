//! `authenticators`: how a user proves an identity (passwords now).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "authenticators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// `password` (more kinds later).
    pub kind: String,
    /// `primary` or `secondary`.
    pub factor: String,
    pub is_default: bool,
    /// Argon2id PHC string; never leaves the service layer.
    pub password_hash: Option<String>,
    pub expire_after: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
