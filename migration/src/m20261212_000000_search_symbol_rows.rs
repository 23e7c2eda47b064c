//! PostgreSQL: partial indexes of the login IDs and names that hold a character other
//! than an ASCII letter, a digit, a space, `@`, `.` or `-` ([`SYMBOL_ROWS`]), in list
//! order. `pg_trgm` indexes only letters and digits, so a keyword such as `%%%`, `a_b`
//! or an emoji gives its index nothing (or only trigrams that every name holds) and a
//! search would read every row. Every row that holds such a keyword also holds one of its
//! symbols, so it lies in these indexes, which hold few rows where most keys are plain
//! ASCII emails and names. An insert pays one regular-expression test per row.

use crate::postgres_only::run;
use sea_orm_migration::prelude::*;

/// A PostgreSQL regular expression matching keys that hold a "symbol": any character but
/// the ones listed (spelled out: a bracket range such as `a-z` may follow the collation).
/// A search's statement repeats it word for word, so that the planner sees the partial
/// indexes apply.
pub const SYMBOL_ROWS: &str = "[^abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 @.-]";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let logins = format!(
            "CREATE INDEX identities_symbol_login_ids ON identities (user_created_at, user_id) \
             WHERE kind = 'login_id' AND unique_key ~ '{SYMBOL_ROWS}'"
        );
        let names =
            format!("CREATE INDEX users_symbol_names ON users (created_at, id) WHERE name_key ~ '{SYMBOL_ROWS}'");
        run(manager, &[&logins, &names]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &["DROP INDEX IF EXISTS identities_symbol_login_ids", "DROP INDEX IF EXISTS users_symbol_names"])
            .await
    }
}
