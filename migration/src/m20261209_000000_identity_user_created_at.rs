//! PostgreSQL: each identity carries its user's creation time (`user_created_at`), so that
//! a keyword search can order the login IDs it matches in the users list's order without
//! looking up every matching user: a keyword matching 100,000 login IDs far down the list
//! used to join and sort all 100,000 users (about a second); now the trigram index's
//! matches are sorted on their own row and only one page of users is read. An index on
//! the column (login IDs only) lets a search also walk login IDs in the list's order.
//!
//! A trigger fills the column on insert (and if an identity ever moves to another user),
//! whatever code path writes the identity; another copies a user's `created_at` to their
//! identities should it ever change. SQLite keeps its own search table
//! (`m20261206_000000_order_user_search_by_creation`) and is left as it is.

use crate::postgres_only::run;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE identities ADD COLUMN user_created_at BIGINT",
    "UPDATE identities i SET user_created_at = u.created_at FROM users u WHERE u.id = i.user_id",
    "ALTER TABLE identities ALTER COLUMN user_created_at SET NOT NULL",
    "CREATE INDEX identities_login_id_by_user_time ON identities (user_created_at, user_id) WHERE kind = 'login_id'",
    "CREATE FUNCTION identities_fill_user_created_at() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN SELECT created_at INTO NEW.user_created_at FROM users WHERE id = NEW.user_id; RETURN NEW; END $$",
    "CREATE TRIGGER identities_fill_user_created_at BEFORE INSERT OR UPDATE OF user_id ON identities \
     FOR EACH ROW EXECUTE FUNCTION identities_fill_user_created_at()",
    "CREATE FUNCTION users_copy_created_at() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN UPDATE identities SET user_created_at = NEW.created_at WHERE user_id = NEW.id; RETURN NULL; END $$",
    "CREATE TRIGGER users_copy_created_at AFTER UPDATE OF created_at ON users FOR EACH ROW \
     WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION users_copy_created_at()",
];

const DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS identities_login_id_by_user_time",
    "DROP TRIGGER IF EXISTS users_copy_created_at ON users",
    "DROP FUNCTION IF EXISTS users_copy_created_at()",
    "DROP TRIGGER IF EXISTS identities_fill_user_created_at ON identities",
    "DROP FUNCTION IF EXISTS identities_fill_user_created_at()",
    "ALTER TABLE identities DROP COLUMN IF EXISTS user_created_at",
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
