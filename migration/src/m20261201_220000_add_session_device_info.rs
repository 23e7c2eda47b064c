//! `sessions.device_info`: what an app's SDK says about the device a refresh grant was
//! issued to (Authgear's `x_device_info`, a JSON object), for the anonymous and biometric
//! grants. NULL when the app sent none.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("sessions").add_column(json_binary_null("device_info")).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("sessions").drop_column("device_info").to_owned()).await
    }
}
