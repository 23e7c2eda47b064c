//! `users`: one row per end user.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub standard_attributes: Json,
    pub custom_attributes: Json,
    /// Lower-cased `name` (or given/family name) used for prefix search.
    pub name_key: Option<String>,
    /// Disabled indefinitely by an admin.
    pub is_disabled: bool,
    pub disable_reason: Option<String>,
    pub is_deactivated: bool,
    pub is_anonymous: bool,
    pub is_anonymized: bool,
    pub delete_at: Option<i64>,
    /// Why the deletion was scheduled (`scheduleAccountDeletion`'s `reason`).
    pub delete_reason: Option<String>,
    pub anonymize_at: Option<i64>,
    pub temporarily_disabled_from: Option<i64>,
    pub temporarily_disabled_until: Option<i64>,
    pub account_valid_from: Option<i64>,
    pub account_valid_until: Option<i64>,
    /// Until then, a user without a second factor may sign in when MFA is required.
    pub mfa_grace_period_end_at: Option<i64>,
    /// When the user was anonymized.
    pub anonymized_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
