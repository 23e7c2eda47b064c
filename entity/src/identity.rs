//! `identities`: how a user is recognised: login IDs and anonymous device keys (OAuth,
//! passkeys and biometric keys later).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// `login_id` or `anonymous` (more kinds later).
    pub kind: String,
    /// Login ID key from config (`email`, `phone`, `username`).
    pub login_id_key: String,
    /// Login ID type (`email`, `phone`, `username`); for other kinds, the kind itself.
    pub login_id_type: String,
    /// Normalized value, as shown in claims.
    pub value: String,
    /// The value as the user or admin typed it.
    pub original_value: String,
    /// Case-folded value that uniqueness and search use; an anonymous identity's key ID.
    pub unique_key: String,
    /// What a kind other than a login ID holds: `{key_id, jwk}` for `anonymous`.
    pub details: Option<Json>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
