//! Account lifecycle columns of `users`: `delete_reason` (why a deletion was scheduled,
//! Authgear's `deleteReason`) and `anonymized_at` (when the user was anonymized), and
//! indexes on `delete_at` and `anonymize_at` for the job that runs due schedules.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("users").add_column(text_null("delete_reason")).to_owned()).await?;
        manager
            .alter_table(Table::alter().table("users").add_column(big_integer_null("anonymized_at")).to_owned())
            .await?;
        manager
            .create_index(Index::create().name("users_delete_at").table("users").col("delete_at").to_owned())
            .await?;
        manager
            .create_index(Index::create().name("users_anonymize_at").table("users").col("anonymize_at").to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("users_anonymize_at").table("users").to_owned()).await?;
        manager.drop_index(Index::drop().name("users_delete_at").table("users").to_owned()).await?;
        manager.alter_table(Table::alter().table("users").drop_column("anonymized_at").to_owned()).await?;
        manager.alter_table(Table::alter().table("users").drop_column("delete_reason").to_owned()).await
    }
}
