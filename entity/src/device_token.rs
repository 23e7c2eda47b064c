//! `device_tokens`: remembered browsers that may skip the second factor until
//! `expires_at`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "device_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 of the cookie's token.
    pub token_hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The browser's `User-Agent` when it was remembered.
    pub user_agent: Option<String>,
    /// The client IP address when it was remembered.
    pub ip: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
