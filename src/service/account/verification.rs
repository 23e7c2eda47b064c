//! Verified email addresses and phone numbers, as the user proves them with a code: a
//! code that reaches a login ID marks it verified (`email_verified`,
//! `phone_number_verified`), audited as `identity.email.verified` /
//! `identity.phone.verified`.

use crate::domain::ids::{TypedId, UserId};
use crate::service::Account;
use crate::service::account::otp::Channel;
use crate::service::admin::user_rows::{refresh_derived, snapshot, user_row};
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Result};
use entity::{authenticator, verified_claim};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

/// The claim a channel verifies and the audit activity it writes.
pub(in crate::service) fn claim_of(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Email => ("email", "identity.email.verified"),
        Channel::Sms => ("phone_number", "identity.phone.verified"),
    }
}

impl Account<'_> {
    /// Marks `target` verified for the user (a code sent there came back). With
    /// `primary_oob`, also gives the user a primary OOB OTP authenticator for it (a
    /// passwordless signup). Writes nothing when both are already so; returns whether
    /// the claim was newly verified.
    pub(in crate::service) async fn mark_verified(
        &self,
        user_id: UserId,
        channel: Channel,
        target: &str,
        primary_oob: bool,
        actor: &Actor,
    ) -> Result<bool> {
        let (claim, activity) = claim_of(channel);
        let kind = match channel {
            Channel::Email => "oob_otp_email",
            Channel::Sms => "oob_otp_sms",
        };
        let verified = verified_claim::Entity::find()
            .filter(Expr::col(verified_claim::Column::UserId).eq(user_id))
            .filter(Expr::col(verified_claim::Column::Name).eq(claim))
            .filter(Expr::col(verified_claim::Column::Value).eq(target))
            .one(&self.db.conn)
            .await?
            .is_some();
        if verified && !primary_oob {
            return Ok(false);
        }
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            if !verified {
                verified_claim::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(user_id.uuid()),
                    name: Set(claim.to_owned()),
                    value: Set(target.to_owned()),
                    created_at: Set(t),
                }
                .insert(txn)
                .await?;
            }
            if primary_oob {
                authenticator::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(user_id.uuid()),
                    kind: Set(kind.to_owned()),
                    factor: Set("primary".to_owned()),
                    is_default: Set(false),
                    password_hash: Set(None),
                    expire_after: Set(None),
                    oob_target: Set(Some(target.to_owned())),
                    display_name: Set(None),
                    totp_secret: Set(None),
                    totp_last_step: Set(None),
                    created_at: Set(t),
                    updated_at: Set(t),
                }
                .insert(txn)
                .await?;
            }
            let row = refresh_derived(txn, row).await?;
            let audit = Audit { actor: actor.clone(), activity: activity.into() };
            tx.record(
                &audit,
                Some(user_id.uuid()),
                json!({"user": snapshot(&row), "claim_name": claim, "claim_value": target}),
            )
            .await?;
            Ok(!verified)
        })
        .await
    }
}
