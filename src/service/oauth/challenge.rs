//! The challenges of `POST /oauth2/challenge`: issued sealed (nothing is written), used
//! once inside the write of the grant that consumes them.

use crate::crypto::challenge::{Challenge, ChallengeError, LIFETIME_SECONDS, Purpose, digest};
use crate::service::OAuth;
use crate::service::Result;
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::now;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{OnConflict, Query};
use time::OffsetDateTime;

/// What the sealed token is bound to, so that no other sealed value passes as one.
const SEAL_PURPOSE: &str = "oauth2-challenge";

/// A challenge as `POST /oauth2/challenge` returns it.
#[derive(Debug, Clone)]
pub struct IssuedChallenge {
    /// The opaque token the device signs into its JWT.
    pub token: String,
    /// When it expires.
    pub expire_at: OffsetDateTime,
}

impl From<ChallengeError> for OAuthError {
    fn from(e: ChallengeError) -> Self {
        Self::InvalidGrant(e.to_string())
    }
}

impl OAuth<'_> {
    /// A new challenge for `purpose`, valid for five minutes and once.
    pub fn issue_challenge(&self, purpose: Purpose) -> IssuedChallenge {
        let t = now();
        let challenge = Challenge::new(purpose, t.unix_timestamp());
        let token = self.seal(SEAL_PURPOSE, &challenge);
        IssuedChallenge { token, expire_at: t + time::Duration::seconds(LIFETIME_SECONDS) }
    }

    /// The challenge of `token`, if this server sealed it, it is for `purpose` and it has
    /// not expired. Whether it was used already is only known when it is consumed.
    pub(in crate::service) fn open_challenge(&self, token: &str, purpose: Purpose) -> Result<Challenge, OAuthError> {
        let challenge: Challenge = self.unseal(SEAL_PURPOSE, token).ok_or(ChallengeError::Invalid)?;
        challenge.check(purpose, now().unix_timestamp())?;
        Ok(challenge)
    }
}

/// Records `token` (opened with [`OAuth::open_challenge`]) as used, in the transaction of
/// the change it authorises; a challenge used before is `invalid_grant`, and the change
/// rolls back with the error.
pub(in crate::service) async fn consume_challenge(
    conn: &impl ConnectionTrait,
    token: &str,
    challenge: &Challenge,
) -> Result<(), OAuthError> {
    let stmt = Query::insert()
        .into_table("consumed_challenges")
        .columns(["digest", "purpose", "expires_at"])
        .values([
            digest(token).into(),
            challenge.purpose.as_str().into(),
            challenge.exp.saturating_mul(1_000_000).into(),
        ])
        .map_err(crate::service::Error::internal)?
        .on_conflict(OnConflict::column("digest").do_nothing().to_owned())
        .to_owned();
    if conn.execute(&stmt).await?.rows_affected() == 0 {
        return Err(OAuthError::InvalidGrant("the challenge was already used".into()));
    }
    Ok(())
}

/// Deletes the records of used challenges that have expired (a replay of one fails on
/// its expiry anyway); returns how many.
pub(in crate::service) async fn forget_expired_challenges(conn: &impl ConnectionTrait, t: i64) -> Result<u64> {
    use entity::consumed_challenge;
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{EntityTrait, QueryFilter};
    Ok(consumed_challenge::Entity::delete_many()
        .filter(Expr::col(consumed_challenge::Column::ExpiresAt).lt(t))
        .exec(conn)
        .await?
        .rows_affected)
}
