//! The end-user login flow: IdP session cookies, authorization codes, third-party
//! consents (authorizations) and password-reset codes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn user_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, "user_id").to("users", "id").on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The SHA-256 of an IdP session's cookie; NULL for refresh-token grants.
        manager.alter_table(Table::alter().table("sessions").add_column(blob_null("token_hash")).to_owned()).await?;
        manager
            .create_index(
                Index::create().name("sessions_token_hash").table("sessions").col("token_hash").unique().to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("authorization_codes")
                    .col(pk_uuid("id"))
                    .col(blob("code_hash").unique_key().to_owned())
                    .col(text("client_id"))
                    .col(uuid("user_id"))
                    .col(uuid("idp_session_id"))
                    .col(text("redirect_uri"))
                    .col(json_binary("scopes"))
                    .col(text_null("nonce"))
                    .col(text_null("code_challenge"))
                    .col(big_integer("auth_time"))
                    .col(json_binary("amr"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("used_at"))
                    .col(uuid_null("issued_session_id"))
                    .col(text_null("issued_jti"))
                    .foreign_key(&mut user_fk("authorization_codes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("authorization_codes_expiry")
                    .table("authorization_codes")
                    .col("expires_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("authorizations")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("client_id"))
                    .col(json_binary("scopes"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(&mut user_fk("authorizations"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("authorizations_user_client")
                    .table("authorizations")
                    .col("user_id")
                    .col("client_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("password_reset_codes")
                    .col(pk_uuid("id"))
                    .col(blob("code_hash").unique_key().to_owned())
                    .col(uuid("user_id"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("used_at"))
                    .foreign_key(&mut user_fk("password_reset_codes"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("password_reset_codes").to_owned()).await?;
        manager.drop_table(Table::drop().table("authorizations").to_owned()).await?;
        manager.drop_table(Table::drop().table("authorization_codes").to_owned()).await?;
        manager.drop_index(Index::drop().name("sessions_token_hash").table("sessions").to_owned()).await?;
        manager.alter_table(Table::alter().table("sessions").drop_column("token_hash").to_owned()).await
    }
}
