//! `authenticators.passkey_credential_id`: the WebAuthn credential ID (base64url) of a
//! `passkey` authenticator, which pairs it with the `passkey` identity whose `unique_key`
//! is the same ID. NULL for every other kind.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("authenticators").add_column(text_null("passkey_credential_id")).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("authenticators").drop_column("passkey_credential_id").to_owned())
            .await
    }
}
