//! `sessions.identity_id`: the identity a device-key grant (anonymous or biometric) signed in
//! with. A biometric sign-in ends the earlier grants of the same key, as Authgear does, so
//! a device that signs in every day does not pile up refresh grants. NULL for every other
//! session.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("sessions").add_column(uuid_null("identity_id")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("sessions").drop_column("identity_id").to_owned()).await
    }
}
