//! SQLite: the search table's row IDs follow the users' creation time, newest first (issue
//! #14), so that the FTS5 trigram index hands out a keyword's matches in the list's default
//! order (its fast, forward direction) and a page of a search stops after its last match
//! instead of sorting every match.
//!
//! A row ID is `-bucket × 2^26 + slot`: the bucket is the user's `created_at` in tenths of
//! a second (truncated toward zero, clamped to ±1.3·10^11, about the years 1558 to 2382, so
//! that the product fits in 64 bits), the slot counts the users of that bucket in the order
//! they arrived (67 million per tenth of a second). Row IDs therefore never invert the
//! creation order across buckets; within one bucket the list's exact order (`created_at`,
//! then `id`) comes from sorting that bucket's matches, which `user_search.created_at`
//! carries. Triggers keep this in the transaction of every write, as before; the table is
//! rebuilt in that order here. PostgreSQL is unchanged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// 2^26: the row IDs of one bucket (a tenth of a second of creation time).
const SLOTS: &str = "67108864";

/// The negated bucket (tenth of a second of creation, clamped) of the SQL expression
/// `created_at`: newer users have smaller row IDs.
fn bucket(created_at: &str) -> String {
    format!("(-max(-130000000000, min(130000000000, ({created_at}) / 100000)))")
}

/// The next free row ID of the bucket of `created_at`: one seek of the primary key.
fn next_slot(created_at: &str) -> String {
    let start = format!("({} * {SLOTS})", bucket(created_at));
    format!(
        "COALESCE((SELECT id + 1 FROM (SELECT id FROM user_search WHERE id < {start} + {SLOTS} \
         ORDER BY id DESC LIMIT 1) WHERE id >= {start}), {start})"
    )
}

/// The search text of the user whose id is the SQL expression `uid` (as in the first
/// version of the index).
fn search_text(uid: &str) -> String {
    format!(
        "COALESCE((SELECT name_key FROM users WHERE id = {uid}), '') || char(31) || \
         COALESCE((SELECT group_concat(unique_key, char(31)) FROM identities \
                   WHERE user_id = {uid} AND kind = 'login_id'), '')"
    )
}

const TRIGGERS: &[&str] = &[
    "user_search_fts_ai",
    "user_search_fts_ad",
    "user_search_fts_au",
    "users_search_ai",
    "users_search_au",
    "users_search_au_created",
    "users_search_ad",
    "identities_search_ai",
    "identities_search_au",
    "identities_search_ad",
];

fn drop_triggers() -> Vec<String> {
    TRIGGERS.iter().map(|t| format!("DROP TRIGGER IF EXISTS {t}")).collect()
}

/// The triggers of both versions but those that place rows.
fn common_triggers() -> Vec<String> {
    let refresh = |uid: &str| format!("UPDATE user_search SET text = {} WHERE user_id = {uid};", search_text(uid));
    vec![
        "CREATE TRIGGER user_search_fts_ai AFTER INSERT ON user_search BEGIN \
           INSERT INTO user_search_fts (rowid, text) VALUES (new.id, new.text); END"
            .into(),
        "CREATE TRIGGER user_search_fts_ad AFTER DELETE ON user_search BEGIN \
           INSERT INTO user_search_fts (user_search_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
            .into(),
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

/// The FTS table over `user_search`, filled from it.
fn create_fts() -> [String; 2] {
    [
        "CREATE VIRTUAL TABLE user_search_fts USING fts5(text, content='user_search', content_rowid='id', \
         tokenize='trigram')"
            .into(),
        "INSERT INTO user_search_fts (user_search_fts) VALUES ('rebuild')".into(),
    ]
}

fn sqlite_up() -> Vec<String> {
    let mut s = drop_triggers();
    s.push("DROP TABLE IF EXISTS user_search_fts".into());
    s.push(
        "CREATE TABLE user_search_new (id INTEGER PRIMARY KEY, user_id BLOB NOT NULL UNIQUE, \
         created_at INTEGER NOT NULL, text TEXT NOT NULL)"
            .into(),
    );
    // Each bucket's slots in the list's order, from 0.
    s.push(format!(
        "INSERT INTO user_search_new (id, user_id, created_at, text) \
         SELECT {b} * {SLOTS} + row_number() OVER (PARTITION BY {b} ORDER BY u.created_at, u.id) - 1, \
                u.id, u.created_at, {text} FROM users u",
        b = bucket("u.created_at"),
        text = search_text("u.id"),
    ));
    s.push("DROP TABLE user_search".into());
    s.push("ALTER TABLE user_search_new RENAME TO user_search".into());
    s.extend(create_fts());
    s.extend(common_triggers());
    // A row that moves (its user's creation time changed) or whose text changed is
    // re-indexed under its new row ID.
    s.push(
        "CREATE TRIGGER user_search_fts_au AFTER UPDATE OF id, text ON user_search \
         WHEN old.id IS NOT new.id OR old.text IS NOT new.text BEGIN \
           INSERT INTO user_search_fts (user_search_fts, rowid, text) VALUES ('delete', old.id, old.text); \
           INSERT INTO user_search_fts (rowid, text) VALUES (new.id, new.text); END"
            .into(),
    );
    s.push(format!(
        "CREATE TRIGGER users_search_ai AFTER INSERT ON users BEGIN \
           INSERT INTO user_search (id, user_id, created_at, text) VALUES ({}, new.id, new.created_at, {}); END",
        next_slot("new.created_at"),
        search_text("new.id")
    ));
    s.push(format!(
        "CREATE TRIGGER users_search_au_created AFTER UPDATE OF created_at ON users \
         WHEN old.created_at IS NOT new.created_at BEGIN \
           UPDATE user_search SET id = {}, created_at = new.created_at WHERE user_id = new.id; END",
        next_slot("new.created_at")
    ));
    s
}

/// Back to the first version: row IDs in arrival order, no creation time.
fn sqlite_down() -> Vec<String> {
    let mut s = drop_triggers();
    s.push("DROP TABLE IF EXISTS user_search_fts".into());
    s.push(
        "CREATE TABLE user_search_old (id INTEGER PRIMARY KEY, user_id BLOB NOT NULL UNIQUE, text TEXT NOT NULL)"
            .into(),
    );
    s.push("INSERT INTO user_search_old (user_id, text) SELECT user_id, text FROM user_search ORDER BY id".into());
    s.push("DROP TABLE user_search".into());
    s.push("ALTER TABLE user_search_old RENAME TO user_search".into());
    s.extend(create_fts());
    s.extend(common_triggers());
    s.push(
        "CREATE TRIGGER user_search_fts_au AFTER UPDATE OF text ON user_search WHEN old.text IS NOT new.text BEGIN \
           INSERT INTO user_search_fts (user_search_fts, rowid, text) VALUES ('delete', old.id, old.text); \
           INSERT INTO user_search_fts (rowid, text) VALUES (new.id, new.text); END"
            .into(),
    );
    s.push(format!(
        "CREATE TRIGGER users_search_ai AFTER INSERT ON users BEGIN \
           INSERT INTO user_search (user_id, text) VALUES (new.id, {}); END",
        search_text("new.id")
    ));
    s
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            return Ok(());
        }
        let conn = manager.get_connection();
        for sql in sqlite_up() {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            return Ok(());
        }
        let conn = manager.get_connection();
        for sql in sqlite_down() {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
