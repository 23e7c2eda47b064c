//! `applications.id_token_alg`: the algorithm an application's ID tokens are signed with
//! (OpenID Connect's `id_token_signed_response_alg`). RS256 for every existing application,
//! as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("applications").add_column(text("id_token_alg").default("RS256")).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("applications").drop_column("id_token_alg").to_owned()).await
    }
}
