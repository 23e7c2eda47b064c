//! `signing_keys`: JWT signing keys; private parts encrypted with the master key.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// RFC 7638 thumbprint of the public key.
    #[sea_orm(unique)]
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// AES-256-GCM(nonce || ciphertext) of the PKCS#8 DER private key.
    pub private_key: Vec<u8>,
    pub created_at: i64,
    /// Set while the key signs new tokens.
    pub active: bool,
    /// When the key stopped signing; it verifies until `retire_at`.
    pub deactivated_at: Option<i64>,
    pub retire_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
