//! User mutations.

use super::*;
use crate::domain::ids::UserId;
use async_graphql::{Context, Object};

use crate::graphql::context::{audit, services};
use crate::graphql::node::{decode, encode};
use crate::service::admin::users::NewUser;
use crate::service::admin::users::ValidPeriod;

/// User mutations. Each needs `user:write` and writes one audit log entry in the same
/// transaction as the change.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user with one login ID and an optional password.
    #[graphql(requires_scopes = "user:write")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user.")] input: CreateUserInput,
    ) -> async_graphql::Result<CreateUserPayload> {
        let new = NewUser {
            login_id_key: input.definition.login_id.key,
            login_id_value: input.definition.login_id.value,
            password: input.password,
            send_password: input.send_password.unwrap_or(false),
            set_password_expired: input.set_password_expired.unwrap_or(false),
            account_valid_from: input.account_valid_from.map(|d| d.0),
            account_valid_until: input.account_valid_until.map(|d| d.0),
        };
        let user = services(ctx)?.users().create(&audit(ctx, "create_user"), new).await?;
        Ok(CreateUserPayload { user: User(user) })
    }

    /// Replaces a user's standard and/or custom attributes.
    #[graphql(requires_scopes = "user:write")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateUserInput,
    ) -> async_graphql::Result<UpdateUserPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .users()
            .update(
                &audit(ctx, "update_user"),
                id,
                input.standard_attributes.map(|s| s.0),
                input.custom_attributes.map(|c| c.0),
            )
            .await?;
        Ok(UpdateUserPayload { user: User(user) })
    }

    /// Deletes a user now with everything that belongs to them: identities,
    /// authenticators, sessions, consents, role and group links and pending codes. The
    /// audit log keeps its rows. Works on an anonymized user too.
    #[graphql(requires_scopes = "user:write")]
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user to delete.")] input: DeleteUserInput,
    ) -> async_graphql::Result<DeleteUserPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        services(ctx)?.users().delete(&audit(ctx, "delete_user"), id, input.reason).await?;
        Ok(DeleteUserPayload { deleted_user_id: encode(id) })
    }

    /// Anonymizes a user now: every identity, authenticator, attribute, session, consent
    /// and role and group link goes; only the user ID and the fact that it was anonymized
    /// stay. Cannot be undone. Fails with `UserIsAnonymized` on an anonymized user.
    #[graphql(requires_scopes = "user:write")]
    async fn anonymize_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user to anonymize.")] input: AnonymizeUserInput,
    ) -> async_graphql::Result<AnonymizeUserPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        services(ctx)?.users().anonymize(&audit(ctx, "anonymize_user"), id).await?;
        Ok(AnonymizeUserPayload { anonymized_user_id: encode(id) })
    }

    /// Schedules a user's deletion after `account_deletion.grace_period_days` (default
    /// 30). Until then the account is disabled and signed out. The blocking hook
    /// `user.pre_schedule_deletion` runs first and may refuse. Fails with
    /// `InvalidAccountStatusTransition` when a deletion is already scheduled.
    #[graphql(requires_scopes = "user:write")]
    async fn schedule_account_deletion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and the reason.")] input: ScheduleAccountDeletionInput,
    ) -> async_graphql::Result<ScheduleAccountDeletionPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .users()
            .schedule_deletion(&audit(ctx, "schedule_account_deletion"), id, input.reason)
            .await?;
        Ok(ScheduleAccountDeletionPayload { user: User(user) })
    }

    /// Cancels a scheduled deletion (the administrator's or the user's own request) and
    /// re-enables the account. Fails with `InvalidAccountStatusTransition` when none is
    /// scheduled.
    #[graphql(requires_scopes = "user:write")]
    async fn unschedule_account_deletion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: UnscheduleAccountDeletionInput,
    ) -> async_graphql::Result<UnscheduleAccountDeletionPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?.users().unschedule_deletion(&audit(ctx, "unschedule_account_deletion"), id).await?;
        Ok(UnscheduleAccountDeletionPayload { user: User(user) })
    }

    /// Schedules a user's anonymization after `account_anonymization.grace_period_days`
    /// (default 30). Until then the account is disabled and signed out. The blocking hook
    /// `user.pre_schedule_anonymization` runs first and may refuse. Fails with
    /// `InvalidAccountStatusTransition` when one is already scheduled.
    #[graphql(requires_scopes = "user:write")]
    async fn schedule_account_anonymization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: ScheduleAccountAnonymizationInput,
    ) -> async_graphql::Result<ScheduleAccountAnonymizationPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user =
            services(ctx)?.users().schedule_anonymization(&audit(ctx, "schedule_account_anonymization"), id).await?;
        Ok(ScheduleAccountAnonymizationPayload { user: User(user) })
    }

    /// Cancels a scheduled anonymization and re-enables the account. Fails with
    /// `InvalidAccountStatusTransition` when none is scheduled.
    #[graphql(requires_scopes = "user:write")]
    async fn unschedule_account_anonymization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: UnscheduleAccountAnonymizationInput,
    ) -> async_graphql::Result<UnscheduleAccountAnonymizationPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .users()
            .unschedule_anonymization(&audit(ctx, "unschedule_account_anonymization"), id)
            .await?;
        Ok(UnscheduleAccountAnonymizationPayload { user: User(user) })
    }

    /// Disables a user (indefinitely, or inside a window) or re-enables them.
    #[graphql(requires_scopes = "user:write")]
    async fn set_disabled_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new status.")] input: SetDisabledStatusInput,
    ) -> async_graphql::Result<SetDisabledStatusPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .users()
            .set_disabled_status(
                &audit(ctx, "set_disabled_status"),
                id,
                input.is_disabled,
                input.reason,
                (input.temporarily_disabled_from.map(|d| d.0), input.temporarily_disabled_until.map(|d| d.0)),
            )
            .await?;
        Ok(SetDisabledStatusPayload { user: User(user) })
    }

    /// Sets or clears the start of the account valid period.
    #[graphql(requires_scopes = "user:write")]
    async fn set_account_valid_from(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new bound.")] input: SetAccountValidFromInput,
    ) -> async_graphql::Result<SetAccountValidFromPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let p = ValidPeriod { from: Some(input.account_valid_from.map(|d| d.0)), until: None };
        let user =
            services(ctx)?.users().set_account_valid_period(&audit(ctx, "set_account_valid_from"), id, p).await?;
        Ok(SetAccountValidFromPayload { user: User(user) })
    }

    /// Sets or clears the end of the account valid period.
    #[graphql(requires_scopes = "user:write")]
    async fn set_account_valid_until(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new bound.")] input: SetAccountValidUntilInput,
    ) -> async_graphql::Result<SetAccountValidUntilPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let p = ValidPeriod { from: None, until: Some(input.account_valid_until.map(|d| d.0)) };
        let user =
            services(ctx)?.users().set_account_valid_period(&audit(ctx, "set_account_valid_until"), id, p).await?;
        Ok(SetAccountValidUntilPayload { user: User(user) })
    }

    /// Sets or clears both bounds of the account valid period.
    #[graphql(requires_scopes = "user:write")]
    async fn set_account_valid_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new bounds.")] input: SetAccountValidPeriodInput,
    ) -> async_graphql::Result<SetAccountValidPeriodPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let p = ValidPeriod {
            from: Some(input.account_valid_from.map(|d| d.0)),
            until: Some(input.account_valid_until.map(|d| d.0)),
        };
        let user =
            services(ctx)?.users().set_account_valid_period(&audit(ctx, "set_account_valid_period"), id, p).await?;
        Ok(SetAccountValidPeriodPayload { user: User(user) })
    }

    /// Sets a new password for a user (creating their password authenticator if needed).
    #[graphql(requires_scopes = "user:write")]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new password.")] input: ResetPasswordInput,
    ) -> async_graphql::Result<ResetPasswordPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .users()
            .reset_password(
                &audit(ctx, "reset_password"),
                id,
                input.password.unwrap_or_default(),
                input.set_password_expired.unwrap_or(false),
                input.send_password.unwrap_or(false),
            )
            .await?;
        Ok(ResetPasswordPayload { user: User(user) })
    }

    /// Marks a user's password as expired (or not).
    #[graphql(requires_scopes = "user:write")]
    async fn set_password_expired(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new state.")] input: SetPasswordExpiredInput,
    ) -> async_graphql::Result<SetPasswordExpiredPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user =
            services(ctx)?.users().set_password_expired(&audit(ctx, "set_password_expired"), id, input.expired).await?;
        Ok(SetPasswordExpiredPayload { user: User(user) })
    }

    /// Marks an email or phone number as verified or unverified for a user.
    #[graphql(requires_scopes = "user:write")]
    async fn set_verified_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The claim and its new state.")] input: SetVerifiedStatusInput,
    ) -> async_graphql::Result<SetVerifiedStatusPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .users()
            .set_verified_status(
                &audit(ctx, "set_verified_status"),
                id,
                &input.claim_name,
                &input.claim_value,
                input.is_verified,
            )
            .await?;
        Ok(SetVerifiedStatusPayload { user: User(user) })
    }
}
