//! `account_lockouts`: failed sign-in attempts and the locks they led to (the account
//! lockout), shared by every server process. Per user, the row with `ip` `''` holds the
//! account as a whole (its failures from every address, and the `per_user` lock); each
//! other row holds the failures from one address (an IPv4 address or an IPv6 /64) and the
//! `per_user_per_ip` lock of that address.

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
                    .table("account_lockouts")
                    .col(uuid("user_id"))
                    .col(text("ip"))
                    .col(big_integer("attempts"))
                    .col(big_integer("last_failed_at"))
                    .col(big_integer_null("locked_until"))
                    .primary_key(Index::create().col("user_id").col("ip"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("account_lockouts", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("account_lockouts").to_owned()).await
    }
}
