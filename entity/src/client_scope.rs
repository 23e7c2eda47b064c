//! `client_scopes`: scopes of a resource granted to an application.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "client_scopes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope_id: Uuid,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
