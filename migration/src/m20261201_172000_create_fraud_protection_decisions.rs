//! `fraud_protection_decisions`: one row per SMS the server was about to send (a sign-in
//! or verification code), with the fraud protection decision (`allowed` or `blocked`),
//! the warnings it raised, where the request came from and the recipient's phone country.
//! `verified_at` is set when the code that SMS carried was used: the metrics count only
//! unverified sends, and the thresholds scale with the verified ones.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "fraud_protection_decisions";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(pk_uuid("id"))
                    .col(big_integer("created_at"))
                    .col(string_len("decision", 16))
                    .col(string_len("action", 32))
                    .col(string_len("recipient", 64))
                    .col(string_len("message_type", 32))
                    .col(string_len_null("phone_country", 8))
                    .col(string_len_null("ip_address", 64))
                    .col(string_len_null("geo_location_code", 8))
                    .col(text_null("user_agent"))
                    .col(uuid_null("user_id"))
                    .col(text("triggered_warnings"))
                    .col(integer("warning_count").default(0))
                    .col(big_integer_null("verified_at"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("fraud_protection_decisions_created_at", &["created_at"][..]),
            ("fraud_protection_decisions_ip", &["ip_address", "created_at"][..]),
            ("fraud_protection_decisions_country", &["phone_country", "created_at"][..]),
            ("fraud_protection_decisions_recipient", &["recipient", "created_at"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(TABLE);
            for c in cols {
                index.col(*c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TABLE).to_owned()).await
    }
}
