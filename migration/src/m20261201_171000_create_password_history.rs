//! `password_history`: the Argon2 hashes of a user's recent passwords, so that a new
//! password can be refused when it repeats one of them (`password_policy.history_size`,
//! `history_days`). Written in the transaction that sets each password; at most the
//! newest 12 rows per user are kept.

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
                    .table("password_history")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("password_hash"))
                    .col(big_integer("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("password_history", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("password_history_user_created")
                    .table("password_history")
                    .col("user_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("password_history").to_owned()).await
    }
}
