//! Bulk user imports: one `user_imports` row per job (its options, progress and summary),
//! one `user_import_results` row per record (its outcome and errors), and `job_locks`, the
//! row an import holds while it runs, so that two imports never run at once on one database.

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
                    .table("user_imports")
                    .col(uuid("id").primary_key())
                    .col(big_integer("created_at"))
                    .col(big_integer_null("started_at"))
                    .col(big_integer_null("completed_at"))
                    .col(string_len("status", 16))
                    .col(json("options"))
                    .col(big_integer("total"))
                    .col(big_integer("processed"))
                    .col(big_integer("inserted"))
                    .col(big_integer("updated"))
                    .col(big_integer("skipped"))
                    .col(big_integer("failed"))
                    .col(text_null("error"))
                    .col(boolean("cancel_requested"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("user_imports_created_at").table("user_imports").col("created_at").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("user_import_results")
                    .col(uuid("job_id"))
                    .col(big_integer("idx"))
                    .col(string_len("outcome", 16))
                    .col(uuid_null("user_id"))
                    .col(json_null("record"))
                    .col(json_null("warnings"))
                    .col(json_null("errors"))
                    .primary_key(Index::create().col("job_id").col("idx"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("user_import_results", "job_id")
                            .to("user_imports", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("job_locks")
                    .col(string_len("name", 64).primary_key())
                    .col(text_null("owner"))
                    .col(big_integer_null("held_until"))
                    .to_owned(),
            )
            .await?;
        let insert =
            Query::insert().into_table("job_locks").columns(["name"]).values_panic(["user_import".into()]).to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("job_locks").to_owned()).await?;
        manager.drop_table(Table::drop().table("user_import_results").to_owned()).await?;
        manager.drop_table(Table::drop().table("user_imports").to_owned()).await
    }
}
