//! `identities.details`: what an identity other than a login ID holds, as JSON. An
//! `anonymous` identity keeps `{key_id, jwk}` (the device's public key); later kinds
//! (passkey, oauth, biometric) keep theirs. Login IDs leave it NULL. The other kinds use
//! `login_id_type = <kind>` and their look-up key in `unique_key`, so the existing unique
//! index on `(login_id_type, unique_key)` keeps each kind's keys unique.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("identities").add_column(json_binary_null("details")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("identities").drop_column("details").to_owned()).await
    }
}
