//! User exports (`POST /_api/admin/users/export`, `exportUsers`): one row per export, holding
//! the validated request. Nothing else is stored: the records are read from the database
//! when the signed download link is fetched, so every process of a deployment on one
//! database can serve any export's link.

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
                    .table("user_exports")
                    .col(uuid("id").primary_key())
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(string_len_null("created_by", 256))
                    .col(string_len("format", 16))
                    .col(boolean("include_password_hashes"))
                    .col(json("request"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("user_exports_expires_at").table("user_exports").col("expires_at").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("user_exports").to_owned()).await
    }
}
