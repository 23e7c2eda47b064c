//! `fraud_protection_decisions`: one fraud protection decision per SMS about to be sent.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "fraud_protection_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: i64,
    /// `allowed` or `blocked`.
    pub decision: String,
    /// `send_sms`.
    pub action: String,
    /// The E.164 phone number.
    pub recipient: String,
    /// What the SMS carried: `login` or `verification` (the code's purpose).
    pub message_type: String,
    /// ISO 3166-1 alpha-2 country of the phone number, from its calling code.
    pub phone_country: Option<String>,
    pub ip_address: Option<String>,
    /// Country of the IP address; null without a GeoIP database.
    pub geo_location_code: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: Option<Uuid>,
    /// JSON array of warning type names.
    pub triggered_warnings: String,
    pub warning_count: i32,
    /// When the code this SMS carried was used.
    pub verified_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
