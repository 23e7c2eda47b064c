//! PostgreSQL: BRIN indexes of creation times on `identities` (`user_created_at`) and
//! `users` (`created_at`), so that a keyword search can read only the matches of a span
//! of the list: the planner `AND`s the trigram index's bitmap with the pages whose rows
//! fall in the span, and a keyword matching 100,000 login IDs reads a few pages of them
//! instead of every one. Rows are mostly written in creation order, so each range of 16
//! pages covers a short span of times; where they are not, a range covers more and a
//! search reads more pages, never fewer rows than it should. Each index is a few pages per
//! million rows and costs an insert next to nothing. They are not partial: PostgreSQL
//! 15's planner leaves a partial BRIN index out of a bitmap `AND`.

use crate::postgres_only::run;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX identities_user_created_at_brin ON identities USING brin (user_created_at) \
     WITH (pages_per_range = 16, autosummarize = on)",
    "CREATE INDEX users_created_at_brin ON users USING brin (created_at) \
     WITH (pages_per_range = 16, autosummarize = on)",
];

const DOWN: &[&str] =
    &["DROP INDEX IF EXISTS identities_user_created_at_brin", "DROP INDEX IF EXISTS users_created_at_brin"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
