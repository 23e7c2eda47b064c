//! Revoked access tokens: each `jti` is remembered until the token would have expired.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("revoked_tokens")
                    .col(text("jti").primary_key())
                    .col(text("client_id"))
                    .col(big_integer("expires_at"))
                    .col(big_integer("revoked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("revoked_tokens_expires_at").table("revoked_tokens").col("expires_at").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("revoked_tokens").to_owned()).await
    }
}
