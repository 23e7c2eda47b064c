//! The substring index of the users list's keyword search (issue #14): keywords of three or
//! more characters match anywhere in a user's login IDs and name through a trigram index.
//!
//! - PostgreSQL: `pg_trgm` GIN indexes on `identities.unique_key` (login IDs only, a partial
//!   index) and `users.name_key`. PostgreSQL keeps them in every writing transaction itself.
//! - SQLite: `user_search` holds one row per user with its searchable text (name key and
//!   login IDs' unique keys, separated by U+001F, which search text never holds), and
//!   `user_search_fts`, an FTS5 table with the `trigram` tokenizer, indexes that text.
//!   Triggers keep both in the transaction of every change to `users.name_key` or to a
//!   login ID, whichever code path writes it (the unit of work, bulk imports, cascading
//!   deletes, anonymization), so no write can forget the index. `user_search.id` is an
//!   `INTEGER PRIMARY KEY`, so the FTS rowids survive a `VACUUM`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The search text of the user whose id is the SQL expression `uid`.
fn search_text(uid: &str) -> String {
    format!(
        "COALESCE((SELECT name_key FROM users WHERE id = {uid}), '') || char(31) || \
         COALESCE((SELECT group_concat(unique_key, char(31)) FROM identities \
                   WHERE user_id = {uid} AND kind = 'login_id'), '')"
    )
}

fn sqlite_up() -> Vec<String> {
    let refresh = |uid: &str| format!("UPDATE user_search SET text = {} WHERE user_id = {uid};", search_text(uid));
    vec![
        "CREATE TABLE user_search (id INTEGER PRIMARY KEY, user_id BLOB NOT NULL UNIQUE, text TEXT NOT NULL)".into(),
        format!("INSERT INTO user_search (user_id, text) SELECT u.id, {} FROM users u", search_text("u.id")),
        "CREATE VIRTUAL TABLE user_search_fts USING fts5(text, content='user_search', content_rowid='id', \
         tokenize='trigram')"
            .into(),
        "INSERT INTO user_search_fts (user_search_fts) VALUES ('rebuild')".into(),
        // The FTS table follows `user_search` (an external-content table).
        "CREATE TRIGGER user_search_fts_ai AFTER INSERT ON user_search BEGIN \
           INSERT INTO user_search_fts (rowid, text) VALUES (new.id, new.text); END"
            .into(),
        "CREATE TRIGGER user_search_fts_ad AFTER DELETE ON user_search BEGIN \
           INSERT INTO user_search_fts (user_search_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
            .into(),
        "CREATE TRIGGER user_search_fts_au AFTER UPDATE OF text ON user_search WHEN old.text IS NOT new.text BEGIN \
           INSERT INTO user_search_fts (user_search_fts, rowid, text) VALUES ('delete', old.id, old.text); \
           INSERT INTO user_search_fts (rowid, text) VALUES (new.id, new.text); END"
            .into(),
        // `user_search` follows users and their login IDs.
        format!(
            "CREATE TRIGGER users_search_ai AFTER INSERT ON users BEGIN \
               INSERT INTO user_search (user_id, text) VALUES (new.id, {}); END",
            search_text("new.id")
        ),
        format!(
            "CREATE TRIGGER users_search_au AFTER UPDATE OF name_key ON users \
             WHEN old.name_key IS NOT new.name_key BEGIN {} END",
            refresh("new.id")
        ),
        "CREATE TRIGGER users_search_ad AFTER DELETE ON users BEGIN \
           DELETE FROM user_search WHERE user_id = old.id; END"
            .into(),
        format!(
            "CREATE TRIGGER identities_search_ai AFTER INSERT ON identities WHEN new.kind = 'login_id' BEGIN {} END",
            refresh("new.user_id")
        ),
        format!(
            "CREATE TRIGGER identities_search_au AFTER UPDATE OF unique_key, user_id, kind ON identities \
             WHEN (old.kind = 'login_id' OR new.kind = 'login_id') AND (old.unique_key IS NOT new.unique_key \
                   OR old.user_id IS NOT new.user_id OR old.kind IS NOT new.kind) BEGIN {} {} END",
            refresh("old.user_id"),
            refresh("new.user_id")
        ),
        format!(
            "CREATE TRIGGER identities_search_ad AFTER DELETE ON identities WHEN old.kind = 'login_id' BEGIN {} END",
            refresh("old.user_id")
        ),
    ]
}

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS identities_search_ad",
    "DROP TRIGGER IF EXISTS identities_search_au",
    "DROP TRIGGER IF EXISTS identities_search_ai",
    "DROP TRIGGER IF EXISTS users_search_ad",
    "DROP TRIGGER IF EXISTS users_search_au",
    "DROP TRIGGER IF EXISTS users_search_ai",
    "DROP TABLE IF EXISTS user_search_fts",
    "DROP TABLE IF EXISTS user_search",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX identities_unique_key_trgm ON identities USING gin (unique_key gin_trgm_ops) \
     WHERE kind = 'login_id'",
    "CREATE INDEX users_name_key_trgm ON users USING gin (name_key gin_trgm_ops)",
];

const POSTGRES_DOWN: &[&str] =
    &["DROP INDEX IF EXISTS users_name_key_trgm", "DROP INDEX IF EXISTS identities_unique_key_trgm"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let statements: Vec<String> = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_UP.iter().map(|s| (*s).to_owned()).collect(),
            _ => sqlite_up(),
        };
        for sql in statements {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        for sql in statements {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
