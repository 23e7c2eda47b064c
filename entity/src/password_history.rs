//! `password_history`: Argon2 hashes of a user's recent passwords (the newest 12 at most).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "password_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The PHC string of the password's Argon2id hash.
    pub password_hash: String,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
