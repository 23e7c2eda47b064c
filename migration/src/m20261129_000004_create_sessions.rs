//! Sessions (browser IdP sessions and refresh-token grants) and their refresh tokens.

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
                    .table("sessions")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("kind"))
                    .col(text_null("client_id"))
                    .col(uuid_null("idp_session_id"))
                    .col(json_binary("scopes"))
                    .col(json_binary("amr"))
                    .col(big_integer("auth_time"))
                    .col(big_integer("created_at"))
                    .col(big_integer("last_accessed_at"))
                    .col(text_null("created_by_ip"))
                    .col(text_null("last_accessed_by_ip"))
                    .col(text_null("user_agent"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("sessions", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("sessions_user").table("sessions").col("user_id").col("created_at").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("session_id"))
                    .col(blob("token_hash").unique_key().to_owned())
                    .col(big_integer("created_at"))
                    .col(big_integer_null("rotated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("refresh_tokens", "session_id")
                            .to("sessions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("refresh_tokens_session").table("refresh_tokens").col("session_id").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("refresh_tokens").to_owned()).await?;
        manager.drop_table(Table::drop().table("sessions").to_owned()).await
    }
}
