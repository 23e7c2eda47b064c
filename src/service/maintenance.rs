//! Background work: deleting expired sessions, codes, device tokens, revoked-token
//! records, used challenges and old counters, and abandoned anonymous users (when
//! configured), and audit rows and finished webhook
//! events past the audit retention (`retention.rs`).

mod retention;

use crate::service::Maintenance;
use crate::service::Result;
use crate::service::store::time::{micros, now};
use entity::session;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter};

/// Sessions that ended longer ago than this are deleted with their refresh tokens.
const KEEP_ENDED_SESSIONS_US: i64 = 86_400 * 1_000_000;

impl Maintenance<'_> {
    /// Deletes revoked-token records past their token's expiry; sessions (with their
    /// refresh tokens), authorization codes and reset codes that ended more than a day
    /// ago; expired device tokens and records of used challenges. (Due deletions and
    /// anonymizations are the lifecycle job's, `admin/lifecycle.rs`.) Rotated refresh
    /// tokens of live sessions stay (only tokens issued before grant tokens have rows):
    /// reuse detection needs them. Returns the rows deleted.
    pub async fn cleanup(&self) -> Result<u64> {
        let t = micros(now());
        let (tokens, sessions, codes, resets) = self
            .write_unaudited(async |tx| {
                let txn = tx.conn();
                let tokens = entity::revoked_token::Entity::delete_many()
                    .filter(Expr::col(entity::revoked_token::Column::ExpiresAt).lt(t))
                    .exec(txn)
                    .await?
                    .rows_affected;
                let ended = t - KEEP_ENDED_SESSIONS_US;
                let sessions = session::Entity::delete_many()
                    .filter(
                        sea_orm::sea_query::Condition::any()
                            .add(Expr::col(session::Column::ExpiresAt).lt(ended))
                            .add(Expr::col(session::Column::RevokedAt).lt(ended)),
                    )
                    .exec(txn)
                    .await?
                    .rows_affected;
                let t = micros(now());
                let codes = entity::authorization_code::Entity::delete_many()
                    .filter(Expr::col(entity::authorization_code::Column::ExpiresAt).lt(t - KEEP_ENDED_SESSIONS_US))
                    .exec(txn)
                    .await?
                    .rows_affected;
                let resets = entity::password_reset_code::Entity::delete_many()
                    .filter(Expr::col(entity::password_reset_code::Column::ExpiresAt).lt(t - KEEP_ENDED_SESSIONS_US))
                    .exec(txn)
                    .await?
                    .rows_affected;
                let otps = crate::service::account::otp::forget_old_codes(txn, t).await?;
                let devices = crate::service::account::device_tokens::forget_expired(txn, t).await?;
                let challenges = crate::service::oauth::challenge::forget_expired_challenges(txn, t).await?;
                Ok::<_, crate::service::Error>((tokens, sessions, codes, resets + otps + devices + challenges))
            })
            .await?;
        let counters = self.forget_old_counters().await?;
        let lockouts = self.forget_old_lockouts().await?;
        let anonymous = self.delete_abandoned_anonymous_users().await?;
        let audit = self.forget_old_audit().await?;
        Ok(tokens + sessions + codes + resets + counters + lockouts + anonymous + audit)
    }
}
