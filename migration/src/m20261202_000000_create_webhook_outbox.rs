//! The webhook outbox. `hook_events` holds each non-blocking event that some handler
//! subscribes to, written in the transaction of the change it reports; `seq` numbers the
//! events in commit order within a process and across them (an identity column).
//! `webhook_deliveries` holds one row per event and handler: the delivery worker claims
//! due rows (`next_attempt_at`, `locked_until`), sends them, and records the outcome.
//! `order_key` (the user ID, or the event ID for events without a user) keeps one user's
//! events in order for one handler.

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
                    .table("hook_events")
                    .col(big_pk_auto("seq"))
                    .col(uuid_uniq("id"))
                    .col(text("event_type"))
                    .col(uuid_null("user_id"))
                    .col(json("data"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("hook_events_created_at").table("hook_events").col("created_at").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(uuid("id").primary_key())
                    .col(big_integer("event_seq"))
                    .col(uuid("event_id"))
                    .col(text("event_type"))
                    .col(uuid_null("user_id"))
                    .col(text("order_key"))
                    .col(text("handler_url"))
                    .col(text("status"))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(big_integer("retry_until"))
                    .col(big_integer_null("locked_until"))
                    .col(integer_null("last_status"))
                    .col(text_null("last_error"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .col(big_integer_null("delivered_at"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("webhook_deliveries_due", &["status", "next_attempt_at"][..]),
            ("webhook_deliveries_order", &["handler_url", "order_key", "event_seq"][..]),
            ("webhook_deliveries_event", &["event_id"][..]),
            ("webhook_deliveries_created_at", &["created_at"][..]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table("webhook_deliveries");
            for c in cols {
                idx.col(*c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("webhook_deliveries").to_owned()).await?;
        manager.drop_table(Table::drop().table("hook_events").to_owned()).await
    }
}
