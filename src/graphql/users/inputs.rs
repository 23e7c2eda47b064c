//! Inputs and payloads of the user mutations.

use super::*;
use crate::graphql::date_time::DateTime;
use async_graphql::{ID, InputObject, SimpleObject};

use crate::graphql::scalars::{UserCustomAttributes, UserStandardAttributes};

/// A login ID.
#[derive(InputObject)]
pub struct IdentityDefinitionLoginID {
    /// `email`, `phone` or `username`.
    pub key: String,
    /// The login ID.
    pub value: String,
}

/// How a new identity is defined.
#[derive(InputObject)]
pub struct IdentityDefinition {
    /// A login ID.
    #[graphql(name = "loginID")]
    pub login_id: IdentityDefinitionLoginID,
}

/// Input of `createUser`.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The user's first identity.
    pub definition: IdentityDefinition,
    /// Initial password, checked against the password policy. Omit it (null) for a user
    /// without a password; an empty string generates a random one that nobody knows
    /// (the user resets it).
    pub password: Option<String>,
    /// Email the password to the user's email login ID (needs a password, or `""` to
    /// generate one).
    pub send_password: Option<bool>,
    /// Make the user change the password at the first login.
    pub set_password_expired: Option<bool>,
    /// Start of the account valid period.
    pub account_valid_from: Option<DateTime>,
    /// End of the account valid period.
    pub account_valid_until: Option<DateTime>,
}

/// Result of `createUser`.
#[derive(SimpleObject)]
pub struct CreateUserPayload {
    /// The new user.
    pub user: User,
}

/// Input of `updateUser`.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// New standard attributes; replaces the whole object. Omit to keep.
    pub standard_attributes: Option<UserStandardAttributes>,
    /// New custom attributes; replaces the whole object. Omit to keep.
    pub custom_attributes: Option<UserCustomAttributes>,
}

/// A mutation result carrying the user.
#[derive(SimpleObject)]
pub struct UpdateUserPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `deleteUser`.
#[derive(InputObject)]
pub struct DeleteUserInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Why, kept in the audit log.
    pub reason: Option<String>,
}

/// Result of `deleteUser`.
#[derive(SimpleObject)]
pub struct DeleteUserPayload {
    /// ID of the deleted user.
    #[graphql(name = "deletedUserID")]
    pub deleted_user_id: ID,
}

/// Input of `setDisabledStatus`.
#[derive(InputObject)]
pub struct SetDisabledStatusInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Disable (true) or re-enable (false).
    pub is_disabled: bool,
    /// Reason shown to the user at login.
    pub reason: Option<String>,
    /// With `temporarilyDisabledUntil`: disable only inside this window.
    pub temporarily_disabled_from: Option<DateTime>,
    /// With `temporarilyDisabledFrom`: end of the window.
    pub temporarily_disabled_until: Option<DateTime>,
}

/// Result of `setDisabledStatus`.
#[derive(SimpleObject)]
pub struct SetDisabledStatusPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setAccountValidFrom`.
#[derive(InputObject)]
pub struct SetAccountValidFromInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Start of the valid period; null clears it.
    pub account_valid_from: Option<DateTime>,
}

/// Input of `setAccountValidUntil`.
#[derive(InputObject)]
pub struct SetAccountValidUntilInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// End of the valid period; null clears it.
    pub account_valid_until: Option<DateTime>,
}

/// Input of `setAccountValidPeriod`.
#[derive(InputObject)]
pub struct SetAccountValidPeriodInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Start of the valid period; null clears it.
    pub account_valid_from: Option<DateTime>,
    /// End of the valid period; null clears it.
    pub account_valid_until: Option<DateTime>,
}

/// Result of `setAccountValidFrom`.
#[derive(SimpleObject)]
pub struct SetAccountValidFromPayload {
    /// The user after the change.
    pub user: User,
}

/// Result of `setAccountValidUntil`.
#[derive(SimpleObject)]
pub struct SetAccountValidUntilPayload {
    /// The user after the change.
    pub user: User,
}

/// Result of `setAccountValidPeriod`.
#[derive(SimpleObject)]
pub struct SetAccountValidPeriodPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `resetPassword`.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// The new password, checked against the password policy; null or empty generates a
    /// random one that nobody knows.
    pub password: Option<String>,
    /// Email the new password to the user's email address.
    pub send_password: Option<bool>,
    /// Make the user change the password at the next login.
    pub set_password_expired: Option<bool>,
}

/// Result of `resetPassword`.
#[derive(SimpleObject)]
pub struct ResetPasswordPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setPasswordExpired`.
#[derive(InputObject)]
pub struct SetPasswordExpiredInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Expired: the user must change the password at the next login.
    pub expired: bool,
}

/// Result of `setPasswordExpired`.
#[derive(SimpleObject)]
pub struct SetPasswordExpiredPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setVerifiedStatus`.
#[derive(InputObject)]
pub struct SetVerifiedStatusInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// `email` or `phone_number`.
    pub claim_name: String,
    /// The value to mark.
    pub claim_value: String,
    /// Verified or not.
    pub is_verified: bool,
}

/// Result of `setVerifiedStatus`.
#[derive(SimpleObject)]
pub struct SetVerifiedStatusPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `anonymizeUser`.
#[derive(InputObject)]
pub struct AnonymizeUserInput {
    /// The user to anonymize.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `anonymizeUser`.
#[derive(SimpleObject)]
pub struct AnonymizeUserPayload {
    /// ID of the anonymized user.
    #[graphql(name = "anonymizedUserID")]
    pub anonymized_user_id: ID,
}

/// Input of `scheduleAccountDeletion`.
#[derive(InputObject)]
pub struct ScheduleAccountDeletionInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Why; shown as `deleteReason` until the deletion, and kept in the audit log.
    pub reason: Option<String>,
}

/// Result of `scheduleAccountDeletion`.
#[derive(SimpleObject)]
pub struct ScheduleAccountDeletionPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `unscheduleAccountDeletion`.
#[derive(InputObject)]
pub struct UnscheduleAccountDeletionInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `unscheduleAccountDeletion`.
#[derive(SimpleObject)]
pub struct UnscheduleAccountDeletionPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `scheduleAccountAnonymization`.
#[derive(InputObject)]
pub struct ScheduleAccountAnonymizationInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `scheduleAccountAnonymization`.
#[derive(SimpleObject)]
pub struct ScheduleAccountAnonymizationPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `unscheduleAccountAnonymization`.
#[derive(InputObject)]
pub struct UnscheduleAccountAnonymizationInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `unscheduleAccountAnonymization`.
#[derive(SimpleObject)]
pub struct UnscheduleAccountAnonymizationPayload {
    /// The user after the change.
    pub user: User,
}
