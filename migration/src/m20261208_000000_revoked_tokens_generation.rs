//! A change generation for revoked access tokens: every revocation bumps it in its own
//! transaction, so that a process may remember that a token was not revoked (the Admin
//! API's bearer token, checked on every request) until the generation moves.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let insert = Query::insert()
            .into_table("change_generations")
            .columns(["area", "generation"])
            .values_panic(["revoked_tokens".into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let delete = Query::delete()
            .from_table("change_generations")
            .and_where(Expr::col("area").eq("revoked_tokens"))
            .to_owned();
        manager.exec_stmt(delete).await
    }
}
