//! `revoked_tokens`: access tokens revoked before they expired (RFC 7009).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    /// The token's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// When the token expires; the row can go after that.
    pub expires_at: i64,
    pub revoked_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
