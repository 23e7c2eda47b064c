//! Database migrations of authgraph. Never edit a migration after it has been applied;
//! add a new one (`mYYYYMMDD_HHMMSS_verb_noun.rs`) instead.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_foundation;
mod m20261129_000002_create_applications_and_resources;
mod m20261129_000003_create_revoked_tokens;
mod m20261129_000004_create_sessions;
mod m20261129_000005_create_login_flow;
mod m20261129_000006_create_rate_limits;
mod m20261201_000001_create_change_generations;
mod m20261201_100600_add_can_introspect_all_tokens;
mod m20261201_135000_add_authenticator_details;
mod m20261201_143000_create_recovery_codes;
mod m20261201_160000_create_account_lockouts;
mod m20261201_161000_create_otp_codes;
mod m20261201_170000_create_device_tokens;
mod m20261201_171000_create_password_history;
mod m20261201_172000_create_fraud_protection_decisions;
mod m20261201_200000_create_consumed_challenges;
mod m20261201_200100_add_identity_details;
mod m20261201_220000_add_authenticator_credential_id;
mod m20261201_220000_add_session_device_info;
mod m20261202_000000_create_webhook_outbox;
mod m20261202_010000_create_hook_scripts;
mod m20261203_100000_add_user_lifecycle_columns;
mod m20261203_200000_create_user_imports;
mod m20261203_300000_create_user_exports;
mod m20261204_000000_add_session_identity_id;
mod m20261204_100000_create_user_search_index;
mod m20261205_000000_add_id_token_alg;
mod m20261206_000000_order_user_search_by_creation;
mod m20261207_000000_partial_lifecycle_indexes;
mod m20261208_000000_revoked_tokens_generation;
mod m20261209_000000_identity_user_created_at;
mod m20261210_000000_search_time_brin;
mod m20261211_000000_create_user_import_outcomes;
mod m20261211_000001_identity_user_created_at_given;
mod m20261212_000000_search_symbol_rows;
mod m20261213_000000_search_joined_trigrams;
mod m20261214_000000_session_refresh_generation;
mod postgres_only;

pub use m20261212_000000_search_symbol_rows::SYMBOL_ROWS;
pub use m20261213_000000_search_joined_trigrams::{joined_column, trigram_text};

/// Runs every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_foundation::Migration),
            Box::new(m20261129_000002_create_applications_and_resources::Migration),
            Box::new(m20261129_000003_create_revoked_tokens::Migration),
            Box::new(m20261129_000004_create_sessions::Migration),
            Box::new(m20261129_000005_create_login_flow::Migration),
            Box::new(m20261129_000006_create_rate_limits::Migration),
            Box::new(m20261201_000001_create_change_generations::Migration),
            Box::new(m20261201_100600_add_can_introspect_all_tokens::Migration),
            Box::new(m20261201_135000_add_authenticator_details::Migration),
            Box::new(m20261201_143000_create_recovery_codes::Migration),
            Box::new(m20261201_160000_create_account_lockouts::Migration),
            Box::new(m20261201_161000_create_otp_codes::Migration),
            Box::new(m20261201_170000_create_device_tokens::Migration),
            Box::new(m20261201_171000_create_password_history::Migration),
            Box::new(m20261201_172000_create_fraud_protection_decisions::Migration),
            Box::new(m20261201_200000_create_consumed_challenges::Migration),
            Box::new(m20261201_200100_add_identity_details::Migration),
            Box::new(m20261201_220000_add_session_device_info::Migration),
            Box::new(m20261202_000000_create_webhook_outbox::Migration),
            Box::new(m20261201_220000_add_authenticator_credential_id::Migration),
            Box::new(m20261202_010000_create_hook_scripts::Migration),
            Box::new(m20261203_100000_add_user_lifecycle_columns::Migration),
            Box::new(m20261203_200000_create_user_imports::Migration),
            Box::new(m20261203_300000_create_user_exports::Migration),
            Box::new(m20261204_000000_add_session_identity_id::Migration),
            Box::new(m20261204_100000_create_user_search_index::Migration),
            Box::new(m20261205_000000_add_id_token_alg::Migration),
            Box::new(m20261206_000000_order_user_search_by_creation::Migration),
            Box::new(m20261207_000000_partial_lifecycle_indexes::Migration),
            Box::new(m20261208_000000_revoked_tokens_generation::Migration),
            Box::new(m20261209_000000_identity_user_created_at::Migration),
            Box::new(m20261210_000000_search_time_brin::Migration),
            Box::new(m20261211_000000_create_user_import_outcomes::Migration),
            Box::new(m20261211_000001_identity_user_created_at_given::Migration),
            Box::new(m20261212_000000_search_symbol_rows::Migration),
            Box::new(m20261213_000000_search_joined_trigrams::Migration),
            Box::new(m20261214_000000_session_refresh_generation::Migration),
        ]
    }
}
