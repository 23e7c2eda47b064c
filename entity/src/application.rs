//! `applications`: OAuth clients.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The OAuth `client_id`, generated.
    #[sea_orm(unique)]
    pub client_id: String,
    pub name: String,
    /// `spa`, `native`, `traditional_webapp`, `confidential`, `m2m`, `third_party_app`.
    pub kind: String,
    /// JSON arrays of strings.
    pub redirect_uris: Json,
    pub post_logout_redirect_uris: Json,
    pub grant_types: Json,
    pub allowed_origins: Json,
    pub access_token_lifetime: i64,
    pub refresh_token_lifetime: i64,
    pub refresh_token_idle_timeout: i64,
    pub refresh_token_rotation: bool,
    /// `RS256`, `ES256` or `EdDSA`.
    pub access_token_alg: String,
    /// The ID tokens' algorithm: `RS256`, `ES256` or `EdDSA`.
    pub id_token_alg: String,
    /// May introspect tokens issued to other clients (a resource server).
    pub can_introspect_all_tokens: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
