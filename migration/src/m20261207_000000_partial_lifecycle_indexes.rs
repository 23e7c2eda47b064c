//! The indexes on `users.delete_at` and `users.anonymize_at` hold only the users with a
//! schedule: the job that runs due schedules asks for `delete_at <= now` (which implies the
//! column is set, so both PostgreSQL and SQLite use a partial index for it), and almost every
//! user has neither. A full index paid one entry per user on every insert (about a tenth of
//! a bulk import's cost on PostgreSQL).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [&str; 2] = ["delete_at", "anonymize_at"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for c in COLUMNS {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS users_{c}")).await?;
            db.execute_unprepared(&format!("CREATE INDEX users_{c} ON users ({c}) WHERE {c} IS NOT NULL")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for c in COLUMNS {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS users_{c}")).await?;
            db.execute_unprepared(&format!("CREATE INDEX users_{c} ON users ({c})")).await?;
        }
        Ok(())
    }
}
