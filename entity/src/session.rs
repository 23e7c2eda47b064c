//! `sessions`: browser (IdP) sessions and refresh-token grants of a user.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// `idp` or `offline_grant`.
    pub kind: String,
    /// The application of an offline grant.
    pub client_id: Option<String>,
    /// The browser session an offline grant came from.
    pub idp_session_id: Option<Uuid>,
    pub scopes: Json,
    pub amr: Json,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_accessed_at: i64,
    pub created_by_ip: Option<String>,
    pub last_accessed_by_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Absolute end of the session.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// SHA-256 of an IdP session's cookie; `None` for refresh-token grants.
    pub token_hash: Option<Vec<u8>>,
    /// What the app's SDK said about the device (`x_device_info`), for device-key grants.
    pub device_info: Option<Json>,
    /// The identity a device-key grant signed in with (anonymous or biometric).
    pub identity_id: Option<Uuid>,
    /// A refresh-token grant's current token generation (its token is the grant's ID and
    /// this number, with a MAC); 0 for a new grant.
    pub refresh_generation: i64,
    /// When the current generation replaced the one before (the grace window's start).
    pub refresh_rotated_at: Option<i64>,
    #[sea_orm(has_many)]
    pub refresh_tokens: HasMany<super::refresh_token::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
