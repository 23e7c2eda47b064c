//! `consumed_challenges`: the challenges of `POST /oauth2/challenge` that were used. A
//! challenge is a stateless sealed token, so issuing one writes nothing; using one
//! inserts its SHA-256 here, and the primary key refuses a second use. Rows go once the
//! challenge has expired (`expires_at`, microseconds), when a replay would fail anyway.

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
                    .table("consumed_challenges")
                    .col(blob("digest").primary_key())
                    .col(text("purpose"))
                    .col(big_integer("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("consumed_challenges_expires_at")
                    .table("consumed_challenges")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("consumed_challenges").to_owned()).await
    }
}
