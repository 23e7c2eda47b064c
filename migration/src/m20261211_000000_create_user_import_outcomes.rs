//! An import's per-record outcomes as chunks: one `user_import_outcomes` row holds the
//! outcomes of many records (a JSON array, one element per record, each with its index),
//! written with the batch that produced them. A row per record cost PostgreSQL about a
//! tenth of an import (its key, its foreign-key check, its share of the statement). The
//! rows of `user_import_results` that jobs of earlier versions wrote are still read.

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
                    .table("user_import_outcomes")
                    .col(uuid("job_id"))
                    .col(big_integer("first_idx"))
                    .col(big_integer("last_idx"))
                    .col(text("outcomes"))
                    .primary_key(Index::create().col("job_id").col("first_idx"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("user_import_outcomes", "job_id")
                            .to("user_imports", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("user_import_outcomes").to_owned()).await
    }
}
