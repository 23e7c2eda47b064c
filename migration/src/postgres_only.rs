//! Migrations that apply to PostgreSQL alone (SQLite keeps its own structures).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Runs `statements` in order on PostgreSQL; does nothing on another database.
pub async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
