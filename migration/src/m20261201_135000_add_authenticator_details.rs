//! What authenticators other than passwords need, and the per-user MFA grace period:
//! `authenticators.oob_target` (the email or phone of an OOB OTP authenticator),
//! `display_name` (a TOTP authenticator's name), `totp_secret` (the seed, sealed with the
//! master key) and `totp_last_step` (the last accepted time step, so a code is used once);
//! `users.mfa_grace_period_end_at` (microseconds, like the other times). At most one
//! secondary password per user, and one OOB authenticator per user, type, kind and target.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Added one at a time: SQLite's `ALTER TABLE` takes one change per statement.
fn columns() -> [(&'static str, ColumnDef); 5] {
    [
        ("authenticators", text_null("oob_target")),
        ("authenticators", text_null("display_name")),
        ("authenticators", blob_null("totp_secret")),
        ("authenticators", big_integer_null("totp_last_step")),
        ("users", big_integer_null("mfa_grace_period_end_at")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, mut col) in columns() {
            manager.alter_table(Table::alter().table(table).add_column(&mut col).to_owned()).await?;
        }
        let conn = manager.get_connection();
        // Partial and expression indexes: the same SQL on both backends.
        conn.execute_unprepared(
            "CREATE UNIQUE INDEX authenticators_secondary_password ON authenticators (user_id) \
             WHERE kind = 'password' AND factor = 'secondary'",
        )
        .await?;
        conn.execute_unprepared(
            "CREATE UNIQUE INDEX authenticators_oob_target ON authenticators \
             (user_id, kind, factor, lower(oob_target)) WHERE oob_target IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["authenticators_oob_target", "authenticators_secondary_password"] {
            manager.drop_index(Index::drop().name(name).table("authenticators").to_owned()).await?;
        }
        for (table, col) in columns() {
            let name = col.get_column_name();
            manager.alter_table(Table::alter().table(table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
