//! `device_tokens`: browsers where a user ticked "Don't ask again on this device" after a
//! second factor. Only the SHA-256 of the cookie's random token is stored; a row ends at
//! `expires_at`, when the user revokes it, or when all of the user's sessions end.

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
                    .table("device_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(blob("token_hash"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(text_null("user_agent"))
                    .col(text_null("ip"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("device_tokens", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("device_tokens_token_hash")
                    .table("device_tokens")
                    .col("token_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("device_tokens_user_id").table("device_tokens").col("user_id").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("device_tokens").to_owned()).await
    }
}
