//! `verified_claims`: claims (email, phone_number) a user has verified.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "verified_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub value: String,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
