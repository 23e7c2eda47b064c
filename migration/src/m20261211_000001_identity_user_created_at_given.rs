//! PostgreSQL: an insert that gives an identity's `user_created_at` (an import, which
//! knows the creation time of the users it writes) no longer runs the trigger that looks
//! it up, a PL/pgSQL call and an index probe per identity (a sixth of an identity's insert).
//! Every other insert leaves the column out and the trigger fills it, as before; moving an
//! identity to another user still refills it.

use crate::postgres_only::run;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "DROP TRIGGER identities_fill_user_created_at ON identities",
    "CREATE TRIGGER identities_fill_user_created_at BEFORE INSERT ON identities FOR EACH ROW \
     WHEN (NEW.user_created_at IS NULL) EXECUTE FUNCTION identities_fill_user_created_at()",
    "CREATE TRIGGER identities_refill_user_created_at BEFORE UPDATE OF user_id ON identities FOR EACH ROW \
     EXECUTE FUNCTION identities_fill_user_created_at()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS identities_refill_user_created_at ON identities",
    "DROP TRIGGER IF EXISTS identities_fill_user_created_at ON identities",
    "CREATE TRIGGER identities_fill_user_created_at BEFORE INSERT OR UPDATE OF user_id ON identities \
     FOR EACH ROW EXECUTE FUNCTION identities_fill_user_created_at()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
