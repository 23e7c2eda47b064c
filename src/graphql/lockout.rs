//! The account lockout (`authentication_lockout`): `User.accountLockout` and the
//! `resetAccountLockout` mutation.

use crate::domain::ids::UserId;
use crate::graphql::date_time::DateTime;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::context::{audit, services};
use super::node::decode;
use super::users::User;

/// A user's account lockout: whether too many failed sign-in attempts lock the account,
/// or some addresses out of it, and until when.
pub struct AccountLockout(pub crate::service::admin::lockouts::AccountLockout);

/// A user's account lockout: whether too many failed sign-in attempts lock the account,
/// or some addresses out of it, and until when.
#[Object(requires_scopes = "user:read")]
impl AccountLockout {
    /// Whether the account, or at least one address, is locked out now.
    async fn is_locked(&self) -> bool {
        self.0.is_locked()
    }
    /// The configured lockout type, `per_user` (the account is locked from every address)
    /// or `per_user_per_ip` (one address is locked out); null when the lockout is off.
    async fn lockout_type(&self) -> Option<&'static str> {
        self.0.lockout_type
    }
    /// When the lock ends: the account's lock, or else the latest lock of an address; null
    /// when nothing is locked.
    async fn locked_until(&self) -> Option<DateTime> {
        self.0.locked_until.map(DateTime)
    }
    /// The addresses locked out of the account now (`per_user_per_ip`), latest lock first.
    #[graphql(name = "lockedIPs")]
    async fn locked_ips(&self) -> Vec<AccountLockoutIp> {
        self.0
            .locked_ips
            .iter()
            .map(|l| AccountLockoutIp { ip_address: l.ip_address.clone(), locked_until: DateTime(l.locked_until) })
            .collect()
    }
}

/// An address locked out of an account.
#[derive(SimpleObject)]
#[graphql(name = "AccountLockoutIP")]
pub struct AccountLockoutIp {
    /// The IPv4 address, or the IPv6 /64 network (`2001:db8:1:2::/64`): failures are
    /// counted per network, as the rate limits count them.
    #[graphql(name = "ipAddress")]
    pub ip_address: String,
    /// When the lock of this address ends.
    pub locked_until: DateTime,
}

/// Input of `resetAccountLockout`.
#[derive(InputObject)]
pub struct ResetAccountLockoutInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `resetAccountLockout`.
#[derive(SimpleObject)]
pub struct ResetAccountLockoutPayload {
    /// The user after the change.
    pub user: User,
}

/// The account lockout mutation; it needs `user:write` and writes one audit log entry in
/// the same transaction as the change.
#[derive(Default)]
pub struct LockoutMutation;

#[Object]
impl LockoutMutation {
    /// Unlocks a user's account (and every address locked out of it) and forgets their
    /// failed sign-in attempts.
    #[graphql(requires_scopes = "user:write")]
    async fn reset_account_lockout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user to unlock.")] input: ResetAccountLockoutInput,
    ) -> async_graphql::Result<ResetAccountLockoutPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?.users().reset_account_lockout(&audit(ctx, "reset_account_lockout"), id).await?;
        Ok(ResetAccountLockoutPayload { user: User(user) })
    }
}
