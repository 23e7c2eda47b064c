//! `hook_scripts`: JavaScript/TypeScript hook scripts managed through the Admin API.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "hook_scripts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The file name a handler URL gives (`claims.ts`).
    #[sea_orm(unique)]
    pub name: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
