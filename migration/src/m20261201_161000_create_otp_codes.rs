//! `otp_codes`: one-time codes sent by email or SMS (sign-in, second factor, verification)
//! and login links. At most one live code per purpose and target: sending a new one
//! replaces the old. Only a keyed hash of the code (HMAC-SHA256 under a key derived from
//! the master key) and the SHA-256 of a login link's token are stored.

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
                    .table("otp_codes")
                    .col(pk_uuid("id"))
                    .col(string_len("purpose", 32))
                    .col(string_len("target", 320))
                    .col(string_len("channel", 16))
                    .col(text("code_hash"))
                    .col(blob_null("link_hash"))
                    .col(integer("failed_attempts").default(0))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("approved_at"))
                    .col(big_integer_null("consumed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("otp_codes_purpose_target")
                    .table("otp_codes")
                    .col("purpose")
                    .col("target")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("otp_codes_link_hash").table("otp_codes").col("link_hash").to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("otp_codes").to_owned()).await
    }
}
