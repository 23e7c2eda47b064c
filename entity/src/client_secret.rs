//! `client_secrets`: secrets of confidential and m2m applications, as SHA-256 digests.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "client_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub application_id: Uuid,
    /// SHA-256 of the secret.
    pub secret_hash: Vec<u8>,
    /// The last four characters, to tell secrets apart.
    pub hint: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
