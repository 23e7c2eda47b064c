//! PostgreSQL: the `pg_trgm` indexes of login IDs and names rebuilt on a copy of the key
//! with its separators (a space, `@`, `.` and `-`) replaced by a letter: the stored
//! generated columns `identities.unique_key_joined` and `users.name_key_joined`
//! ([`joined_column`]).
//!
//! `pg_trgm` splits text into words at every character but a letter or digit, and takes
//! trigrams within words only. A keyword such as `x last` then gives it the trigrams of
//! `x` and `last` apart, and where every name holds `last` the index returns every row,
//! each read and checked (0.3–0.7 s over a million users), to find none. With the
//! separators replaced the key is one word, and the keyword's `xqlast` holds `xql`, which
//! only a name ending in `x` does. A search asks the index with the keyword replaced the
//! same way ([`trigram_text`]) and checks the real keyword on the rows it returns: the
//! letter also stands for itself, so the index may return a row that does not match
//! (`maxqlast` for `x last`), never leave one out.
//!
//! The copies are stored rather than indexed as an expression: PostgreSQL checks every
//! row a trigram index returns against the index's condition, and computing the
//! expression there cost 0.55 µs a row, which made a common three-letter keyword's page
//! 1.8 times slower. The columns add the key's length to each row; adding them rewrites
//! both tables once (11 s for a million users here). The tables are analyzed so that the
//! planner knows the new columns from the start.

use crate::postgres_only::run;
use sea_orm_migration::prelude::*;

/// The separators replaced in the indexed copy, and the letter that replaces each.
const SEPARATORS: &str = " @.-";
const JOINER: char = 'q';

/// The column holding the copy of the key column `col` that the trigram index reads.
pub fn joined_column(col: &str) -> String {
    format!("{col}_joined")
}

/// `text` as the trigram indexes' copies hold it: each separator replaced by the letter.
pub fn trigram_text(text: &str) -> String {
    text.chars().map(|c| if SEPARATORS.contains(c) { JOINER } else { c }).collect()
}

/// `ALTER TABLE` adding `col`'s stored copy to `table`.
fn add_copy(table: &str, col: &str) -> String {
    let joiners: String = SEPARATORS.chars().map(|_| JOINER).collect();
    format!(
        "ALTER TABLE {table} ADD COLUMN {} text GENERATED ALWAYS AS (translate({col}, '{SEPARATORS}', '{joiners}')) STORED",
        joined_column(col)
    )
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(
            manager,
            &[
                "DROP INDEX IF EXISTS identities_unique_key_trgm",
                "DROP INDEX IF EXISTS users_name_key_trgm",
                &add_copy("identities", "unique_key"),
                &add_copy("users", "name_key"),
                "CREATE INDEX identities_unique_key_joined_trgm ON identities \
                 USING gin (unique_key_joined gin_trgm_ops) WHERE kind = 'login_id'",
                "CREATE INDEX users_name_key_joined_trgm ON users USING gin (name_key_joined gin_trgm_ops)",
                "ANALYZE identities",
                "ANALYZE users",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(
            manager,
            &[
                "ALTER TABLE identities DROP COLUMN IF EXISTS unique_key_joined",
                "ALTER TABLE users DROP COLUMN IF EXISTS name_key_joined",
                "CREATE INDEX identities_unique_key_trgm ON identities USING gin (unique_key gin_trgm_ops) \
                 WHERE kind = 'login_id'",
                "CREATE INDEX users_name_key_trgm ON users USING gin (name_key gin_trgm_ops)",
            ],
        )
        .await
    }
}
