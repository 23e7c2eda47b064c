//! Change generations: a counter per cached area (applications, signing keys) that every
//! write to the area bumps in its transaction. Each server process polls the counters, so
//! its caches follow changes made by other processes within a second.

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
                    .table("change_generations")
                    .col(text("area").primary_key())
                    .col(big_integer("generation"))
                    .to_owned(),
            )
            .await?;
        let insert = Query::insert()
            .into_table("change_generations")
            .columns(["area", "generation"])
            .values_panic(["applications".into(), 0i64.into()])
            .values_panic(["signing_keys".into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("change_generations").to_owned()).await
    }
}
