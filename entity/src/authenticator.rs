//! `authenticators`: how a user proves an identity: passwords, OOB OTP (email, SMS), TOTP.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "authenticators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// `password`, `oob_otp_email`, `oob_otp_sms`, `totp` or `passkey`.
    pub kind: String,
    /// `primary` or `secondary`.
    pub factor: String,
    pub is_default: bool,
    /// Argon2id PHC string; never leaves the service layer.
    pub password_hash: Option<String>,
    pub expire_after: Option<i64>,
    /// The email address or phone number of an OOB OTP authenticator.
    pub oob_target: Option<String>,
    /// A name the user gave the authenticator (TOTP).
    pub display_name: Option<String>,
    /// The TOTP seed, sealed with the master key; never leaves the service layer.
    pub totp_secret: Option<Vec<u8>>,
    /// The last TOTP time step accepted, so that a code is accepted once.
    pub totp_last_step: Option<i64>,
    /// The WebAuthn credential ID (base64url) of a passkey, the `unique_key` of its paired
    /// `passkey` identity.
    pub passkey_credential_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
