//! Applications (OAuth clients) with their secrets, API resources with their scopes, and
//! which applications may get tokens for which resources and scopes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn cascade(from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from, col).to(to, "id").on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("applications")
                    .col(pk_uuid("id"))
                    .col(text("client_id").unique_key().to_owned())
                    .col(text("name"))
                    .col(text("kind"))
                    .col(json_binary("redirect_uris"))
                    .col(json_binary("post_logout_redirect_uris"))
                    .col(json_binary("grant_types"))
                    .col(json_binary("allowed_origins"))
                    .col(big_integer("access_token_lifetime"))
                    .col(big_integer("refresh_token_lifetime"))
                    .col(big_integer("refresh_token_idle_timeout"))
                    .col(boolean("refresh_token_rotation"))
                    .col(text("access_token_alg"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("client_secrets")
                    .col(pk_uuid("id"))
                    .col(uuid("application_id"))
                    .col(blob("secret_hash"))
                    .col(text("hint"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("revoked_at"))
                    .foreign_key(&mut cascade("client_secrets", "application_id", "applications"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("client_secrets_application")
                    .table("client_secrets")
                    .col("application_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("resources")
                    .col(pk_uuid("id"))
                    .col(text("uri").unique_key().to_owned())
                    .col(text_null("name"))
                    .col(boolean("builtin").default(false))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("resource_scopes")
                    .col(pk_uuid("id"))
                    .col(uuid("resource_id"))
                    .col(text("scope"))
                    .col(text_null("description"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(&mut cascade("resource_scopes", "resource_id", "resources"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("resource_scopes_resource_scope")
                    .table("resource_scopes")
                    .col("resource_id")
                    .col("scope")
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (table, other, other_table) in
            [("client_resources", "resource_id", "resources"), ("client_scopes", "scope_id", "resource_scopes")]
        {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(uuid("application_id"))
                        .col(uuid(other))
                        .col(big_integer("created_at"))
                        .primary_key(Index::create().col("application_id").col(other))
                        .foreign_key(&mut cascade(table, "application_id", "applications"))
                        .foreign_key(&mut cascade(table, other, other_table))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("{table}_{other}"))
                        .table(table)
                        .col(other)
                        .col("application_id")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["client_scopes", "client_resources", "resource_scopes", "resources", "client_secrets", "applications"]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
