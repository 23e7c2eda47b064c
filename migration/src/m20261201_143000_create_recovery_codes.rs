//! `recovery_codes`: the one-time codes a user signs in with when their authenticator app
//! is not at hand. Only a keyed hash of each code is stored (HMAC-SHA256 under a key
//! derived from the master key); `consumed_at` is set once, when the code is used.

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
                    .table("recovery_codes")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("code_hash"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("consumed_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("recovery_codes", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("recovery_codes_user_hash")
                    .table("recovery_codes")
                    .col("user_id")
                    .col("code_hash")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("recovery_codes").to_owned()).await
    }
}
