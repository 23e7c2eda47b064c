//! `applications.can_introspect_all_tokens`: whether a client may introspect tokens issued
//! to other clients (a resource server); by default a client introspects only its own.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("applications")
                    .add_column(
                        ColumnDef::new("can_introspect_all_tokens").boolean().not_null().default(false).to_owned(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("applications").drop_column("can_introspect_all_tokens").to_owned())
            .await
    }
}
