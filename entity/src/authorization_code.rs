//! `authorization_codes`: one-time codes of the authorization code flow (5 minutes).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the code.
    #[sea_orm(unique)]
    pub code_hash: Vec<u8>,
    pub client_id: String,
    pub user_id: Uuid,
    /// The browser session the code was issued in.
    pub idp_session_id: Uuid,
    pub redirect_uri: String,
    pub scopes: Json,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub amr: Json,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set on first use; a second use is refused and revokes what the first issued.
    pub used_at: Option<i64>,
    /// The refresh-token grant the first use created.
    pub issued_session_id: Option<Uuid>,
    /// The `jti` of the access token the first use issued.
    pub issued_jti: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
