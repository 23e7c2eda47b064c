//! Hook scripts managed through the Admin API: a handler URL `authgeardeno:///deno/<name>`
//! runs the script of that name (before a file of that name in `hook.scripts_dir`). Every
//! change bumps the `hook_scripts` change generation, so each process drops its cached
//! copies within a second.

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
                    .table("hook_scripts")
                    .col(uuid("id").primary_key())
                    .col(string_len_uniq("name", 128))
                    .col(text("source"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        let insert = Query::insert()
            .into_table("change_generations")
            .columns(["area", "generation"])
            .values_panic(["hook_scripts".into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let delete =
            Query::delete().from_table("change_generations").and_where(Expr::col("area").eq("hook_scripts")).to_owned();
        manager.exec_stmt(delete).await?;
        manager.drop_table(Table::drop().table("hook_scripts").to_owned()).await
    }
}
