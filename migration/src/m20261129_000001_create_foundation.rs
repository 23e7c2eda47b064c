//! Users, identities, authenticators, verified claims, roles, groups, their links,
//! the audit log and signing keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A text column that sorts byte-wise on every backend, so that prefix search can use
/// a plain B-tree range scan (`>= 'abc' AND < 'abd'`).
fn search_text(manager: &SchemaManager, col: &'static str, null: bool) -> ColumnDef {
    let mut def = if null { text_null(col) } else { text(col) };
    if manager.get_database_backend() == DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &'static str,
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(*c);
    }
    if unique {
        idx.unique();
    }
    manager.create_index(idx).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(pk_uuid("id"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .col(big_integer_null("last_login_at"))
                    .col(json_binary("standard_attributes"))
                    .col(json_binary("custom_attributes"))
                    .col(search_text(manager, "name_key", true))
                    .col(boolean("is_disabled").default(false))
                    .col(text_null("disable_reason"))
                    .col(boolean("is_deactivated").default(false))
                    .col(boolean("is_anonymous").default(false))
                    .col(boolean("is_anonymized").default(false))
                    .col(big_integer_null("delete_at"))
                    .col(big_integer_null("anonymize_at"))
                    .col(big_integer_null("temporarily_disabled_from"))
                    .col(big_integer_null("temporarily_disabled_until"))
                    .col(big_integer_null("account_valid_from"))
                    .col(big_integer_null("account_valid_until"))
                    .to_owned(),
            )
            .await?;
        index(manager, "users_created_at_id", "users", &["created_at", "id"], false).await?;
        index(manager, "users_last_login_at_id", "users", &["last_login_at", "id"], false).await?;
        index(manager, "users_name_key", "users", &["name_key"], false).await?;

        manager
            .create_table(
                Table::create()
                    .table("identities")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("kind"))
                    .col(text("login_id_key"))
                    .col(text("login_id_type"))
                    .col(text("value"))
                    .col(text("original_value"))
                    .col(search_text(manager, "unique_key", false))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("identities", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "identities_type_unique_key", "identities", &["login_id_type", "unique_key"], true).await?;
        index(manager, "identities_unique_key", "identities", &["unique_key"], false).await?;
        index(manager, "identities_user_id", "identities", &["user_id"], false).await?;

        manager
            .create_table(
                Table::create()
                    .table("authenticators")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("kind"))
                    .col(text("factor"))
                    .col(boolean("is_default").default(false))
                    .col(text_null("password_hash"))
                    .col(big_integer_null("expire_after"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("authenticators", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "authenticators_user_id", "authenticators", &["user_id"], false).await?;
        // At most one primary password per user (a partial index: same SQL on both backends).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX authenticators_primary_password ON authenticators (user_id) \
                 WHERE kind = 'password' AND factor = 'primary'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("verified_claims")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(text("name"))
                    .col(text("value"))
                    .col(big_integer("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("verified_claims", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "verified_claims_user_name_value", "verified_claims", &["user_id", "name", "value"], true)
            .await?;

        for table in ["roles", "groups"] {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(pk_uuid("id"))
                        .col(search_text(manager, "key", false).unique_key().to_owned())
                        .col(text_null("name"))
                        .col(text_null("description"))
                        .col(big_integer("created_at"))
                        .col(big_integer("updated_at"))
                        .to_owned(),
                )
                .await?;
        }

        for (table, a, ta, b, tb, rev) in [
            ("user_roles", "user_id", "users", "role_id", "roles", "user_roles_role_id"),
            ("user_groups", "user_id", "users", "group_id", "groups", "user_groups_group_id"),
            ("group_roles", "group_id", "groups", "role_id", "roles", "group_roles_role_id"),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(uuid(a))
                        .col(uuid(b))
                        .col(big_integer("created_at"))
                        .primary_key(Index::create().col(a).col(b))
                        .foreign_key(
                            ForeignKey::create().from(table, a).to(ta, "id").on_delete(ForeignKeyAction::Cascade),
                        )
                        .foreign_key(
                            ForeignKey::create().from(table, b).to(tb, "id").on_delete(ForeignKeyAction::Cascade),
                        )
                        .to_owned(),
                )
                .await?;
            index(manager, rev, table, &[b, a], false).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("audit_logs")
                    .col(pk_uuid("id"))
                    .col(big_integer("created_at"))
                    .col(text("activity_type"))
                    .col(uuid_null("user_id"))
                    .col(text_null("actor"))
                    .col(text_null("ip_address"))
                    .col(text_null("user_agent"))
                    .col(text_null("client_id"))
                    .col(json_binary("data"))
                    .to_owned(),
            )
            .await?;
        index(manager, "audit_logs_created_at", "audit_logs", &["created_at", "id"], false).await?;
        index(manager, "audit_logs_user_created_at", "audit_logs", &["user_id", "created_at"], false).await?;
        index(manager, "audit_logs_type_created_at", "audit_logs", &["activity_type", "created_at"], false).await?;

        manager
            .create_table(
                Table::create()
                    .table("signing_keys")
                    .col(pk_uuid("id"))
                    .col(text("kid").unique_key().to_owned())
                    .col(text("alg"))
                    .col(blob("private_key"))
                    .col(big_integer("created_at"))
                    .col(boolean("active").default(false))
                    .col(big_integer_null("deactivated_at"))
                    .col(big_integer_null("retire_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "signing_keys",
            "audit_logs",
            "group_roles",
            "user_groups",
            "user_roles",
            "groups",
            "roles",
            "verified_claims",
            "authenticators",
            "identities",
            "users",
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
