//! `consumed_challenges`: used `/oauth2/challenge` tokens, by SHA-256, until they expire.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "consumed_challenges")]
pub struct Model {
    /// SHA-256 of the challenge token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: Vec<u8>,
    /// `anonymous_request`, `biometric_request` or `app2app_request`.
    pub purpose: String,
    /// When the challenge expired (a replay after that fails anyway).
    pub expires_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
