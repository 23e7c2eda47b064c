//! `sessions.refresh_generation` and `sessions.refresh_rotated_at`: a refresh-token grant's
//! current token is named by the grant's ID and this generation (with a MAC), so a rotation
//! rewrites the grant's row instead of inserting a token row. `refresh_rotated_at` is when
//! the current generation replaced the one before, which the grace window counts from.
//! Tokens issued before stay in `refresh_tokens` until their next use.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter().table("sessions").add_column(big_integer("refresh_generation").default(0)).to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("sessions").add_column(big_integer_null("refresh_rotated_at")).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("sessions").drop_column("refresh_rotated_at").to_owned()).await?;
        manager.alter_table(Table::alter().table("sessions").drop_column("refresh_generation").to_owned()).await
    }
}
