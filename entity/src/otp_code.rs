//! `otp_codes`: one-time codes sent by email or SMS, and login links (one live code per
//! purpose and target).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "otp_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `login` or `verification`.
    pub purpose: String,
    /// The normalized email address or E.164 phone number the code was sent to.
    pub target: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Keyed hash of the code.
    pub code_hash: String,
    /// SHA-256 of a login link's token, when the code was sent as a link.
    pub link_hash: Option<Vec<u8>>,
    pub failed_attempts: i32,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the login link was opened and approved.
    pub approved_at: Option<i64>,
    pub consumed_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
