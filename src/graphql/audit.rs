//! The audit log: `AuditLog` entries and the `auditLogs` query.

use crate::domain::ids::UserId;
use crate::domain::text::quoted;
use crate::graphql::date_time::DateTime;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Object};

use super::connection::{Conn, CountSource, args, to_conn};
use super::context::services;
use super::loaders::{AppLoader, UserById};
use super::node::{decode_all, encode};
use super::scalars::AuditLogData;
use super::users::{SortDirection, User};
use crate::service::admin::audit_logs::AuditFilter;

macro_rules! activity_types {
    ($($(#[$attr:meta])* $variant:ident => $s:literal,)*) => {
        /// Audited activity types, in Authgear's upper-snake form of the event type.
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        pub enum AuditLogActivityType {
            $(
                #[doc = concat!("`", $s, "`")]
                $(#[$attr])*
                $variant,
            )*
        }

        impl AuditLogActivityType {
            /// The stored (dotted) form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $s,)*
                }
            }
            /// From the stored form.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some(Self::$variant),)*
                    _ => None,
                }
            }
            /// Every known type.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];
        }
    };
}

activity_types! {
    #[graphql(name = "M2M_TOKEN_CREATED")]
    M2mTokenCreated => "m2m.token.created",
    AdminApiMutationCreateUserExecuted => "admin_api.mutation.create_user.executed",
    AdminApiMutationUpdateUserExecuted => "admin_api.mutation.update_user.executed",
    AdminApiMutationDeleteUserExecuted => "admin_api.mutation.delete_user.executed",
    AdminApiMutationSetDisabledStatusExecuted => "admin_api.mutation.set_disabled_status.executed",
    AdminApiMutationSetAccountValidFromExecuted => "admin_api.mutation.set_account_valid_from.executed",
    AdminApiMutationSetAccountValidUntilExecuted => "admin_api.mutation.set_account_valid_until.executed",
    AdminApiMutationSetAccountValidPeriodExecuted => "admin_api.mutation.set_account_valid_period.executed",
    AdminApiMutationResetPasswordExecuted => "admin_api.mutation.reset_password.executed",
    AdminApiMutationSetPasswordExpiredExecuted => "admin_api.mutation.set_password_expired.executed",
    AdminApiMutationSetVerifiedStatusExecuted => "admin_api.mutation.set_verified_status.executed",
    AdminApiMutationCreateIdentityExecuted => "admin_api.mutation.create_identity.executed",
    AdminApiMutationUpdateIdentityExecuted => "admin_api.mutation.update_identity.executed",
    AdminApiMutationDeleteIdentityExecuted => "admin_api.mutation.delete_identity.executed",
    AdminApiMutationCreateAuthenticatorExecuted => "admin_api.mutation.create_authenticator.executed",
    AdminApiMutationDeleteAuthenticatorExecuted => "admin_api.mutation.delete_authenticator.executed",
    AdminApiMutationSetMfaGracePeriodExecuted => "admin_api.mutation.set_mfa_grace_period.executed",
    AdminApiMutationRemoveMfaGracePeriodExecuted => "admin_api.mutation.remove_mfa_grace_period.executed",
    AdminApiMutationResetAccountLockoutExecuted => "admin_api.mutation.reset_account_lockout.executed",
    AdminApiMutationCreateRoleExecuted => "admin_api.mutation.create_role.executed",
    AdminApiMutationUpdateRoleExecuted => "admin_api.mutation.update_role.executed",
    AdminApiMutationDeleteRoleExecuted => "admin_api.mutation.delete_role.executed",
    AdminApiMutationCreateGroupExecuted => "admin_api.mutation.create_group.executed",
    AdminApiMutationUpdateGroupExecuted => "admin_api.mutation.update_group.executed",
    AdminApiMutationDeleteGroupExecuted => "admin_api.mutation.delete_group.executed",
    AdminApiMutationAddRoleToUsersExecuted => "admin_api.mutation.add_role_to_users.executed",
    AdminApiMutationRemoveRoleFromUsersExecuted => "admin_api.mutation.remove_role_from_users.executed",
    AdminApiMutationAddRoleToGroupsExecuted => "admin_api.mutation.add_role_to_groups.executed",
    AdminApiMutationRemoveRoleFromGroupsExecuted => "admin_api.mutation.remove_role_from_groups.executed",
    AdminApiMutationAddGroupToUsersExecuted => "admin_api.mutation.add_group_to_users.executed",
    AdminApiMutationRemoveGroupFromUsersExecuted => "admin_api.mutation.remove_group_from_users.executed",
    AdminApiMutationAddGroupToRolesExecuted => "admin_api.mutation.add_group_to_roles.executed",
    AdminApiMutationRemoveGroupFromRolesExecuted => "admin_api.mutation.remove_group_from_roles.executed",
    AdminApiMutationAddUserToRolesExecuted => "admin_api.mutation.add_user_to_roles.executed",
    AdminApiMutationRemoveUserFromRolesExecuted => "admin_api.mutation.remove_user_from_roles.executed",
    AdminApiMutationAddUserToGroupsExecuted => "admin_api.mutation.add_user_to_groups.executed",
    AdminApiMutationRemoveUserFromGroupsExecuted => "admin_api.mutation.remove_user_from_groups.executed",
    UserCreated => "user.created",
    UserAuthenticated => "user.authenticated",
    UserReauthenticated => "user.reauthenticated",
    UserSignedOut => "user.signed_out",
    UserAnonymousPromoted => "user.anonymous.promoted",
    AuthenticationIdentityLoginIdFailed => "authentication.identity.login_id.failed",
    AuthenticationIdentityAnonymousFailed => "authentication.identity.anonymous.failed",
    AuthenticationIdentityBiometricFailed => "authentication.identity.biometric.failed",
    AuthenticationPrimaryPasswordFailed => "authentication.primary.password.failed",
    AuthenticationSecondaryTotpFailed => "authentication.secondary.totp.failed",
    AuthenticationSecondaryRecoveryCodeFailed => "authentication.secondary.recovery_code.failed",
    AuthenticationPrimaryOobOtpEmailFailed => "authentication.primary.oob_otp_email.failed",
    AuthenticationPrimaryOobOtpSmsFailed => "authentication.primary.oob_otp_sms.failed",
    AuthenticationSecondaryOobOtpEmailFailed => "authentication.secondary.oob_otp_email.failed",
    AuthenticationSecondaryOobOtpSmsFailed => "authentication.secondary.oob_otp_sms.failed",
    AuthenticationPrimaryPasskeyFailed => "authentication.primary.passkey.failed",
    IdentityPasskeyAdded => "identity.passkey.added",
    IdentityPasskeyRemoved => "identity.passkey.removed",
    AuthenticationLoginLinkApproved => "authentication.login_link.approved",
    IdentityEmailVerified => "identity.email.verified",
    IdentityPhoneVerified => "identity.phone.verified",
    IdentityBiometricEnabled => "identity.biometric.enabled",
    IdentityBiometricDisabled => "identity.biometric.disabled",
    IdentityOauthConnected => "identity.oauth.connected",
    IdentityOauthDisconnected => "identity.oauth.disconnected",
    AuthenticationBlocked => "authentication.blocked",
    UserAuthorizationGranted => "user.authorization.granted",
    UserProfileUpdated => "user.profile.updated",
    UserPasswordChanged => "user.password.changed",
    UserPasswordReset => "user.password.reset",
    UserDeletionScheduled => "user.deletion_scheduled",
    AuthenticatorCreated => "authenticator.created",
    AuthenticatorDeleted => "authenticator.deleted",
    RecoveryCodesGenerated => "recovery_codes.generated",
    DeviceTokenCreated => "device_token.created",
    DeviceTokenRevoked => "device_token.revoked",
    UserDeleted => "user.deleted",
    RateLimitBlocked => "rate_limit.blocked",
    BotProtectionVerificationFailed => "bot_protection.verification.failed",
    EmailSent => "email.sent",
    EmailError => "email.error",
    SmsSent => "sms.sent",
    SmsError => "sms.error",
    FraudProtectionDecisionRecorded => "fraud_protection.decision_recorded",
    AdminApiMutationGenerateOobOtpCodeExecuted => "admin_api.mutation.generate_oob_otp_code.executed",
    AdminApiMutationSendResetPasswordMessageExecuted => "admin_api.mutation.send_reset_password_message.executed",
    #[graphql(name = "USER_SESSION_TERMINATED")]
    UserSessionTerminated => "user.session.terminated",
    AdminApiMutationCreateSessionExecuted => "admin_api.mutation.create_session.executed",
    AdminApiMutationRevokeSessionExecuted => "admin_api.mutation.revoke_session.executed",
    AdminApiMutationRevokeAllSessionsExecuted => "admin_api.mutation.revoke_all_sessions.executed",
    AdminApiMutationDeleteAuthorizationExecuted => "admin_api.mutation.delete_authorization.executed",
    AdminApiMutationRotateSigningKeyExecuted => "admin_api.mutation.rotate_signing_key.executed",
    AdminApiMutationCreateApplicationExecuted => "admin_api.mutation.create_application.executed",
    AdminApiMutationUpdateApplicationExecuted => "admin_api.mutation.update_application.executed",
    AdminApiMutationDeleteApplicationExecuted => "admin_api.mutation.delete_application.executed",
    AdminApiMutationCreateApplicationSecretExecuted => "admin_api.mutation.create_application_secret.executed",
    AdminApiMutationRevokeApplicationSecretExecuted => "admin_api.mutation.revoke_application_secret.executed",
    AdminApiMutationCreateResourceExecuted => "admin_api.mutation.create_resource.executed",
    AdminApiMutationUpdateResourceExecuted => "admin_api.mutation.update_resource.executed",
    AdminApiMutationDeleteResourceExecuted => "admin_api.mutation.delete_resource.executed",
    AdminApiMutationCreateScopeExecuted => "admin_api.mutation.create_scope.executed",
    AdminApiMutationUpdateScopeExecuted => "admin_api.mutation.update_scope.executed",
    AdminApiMutationDeleteScopeExecuted => "admin_api.mutation.delete_scope.executed",
    AdminApiMutationAddResourceToClientidExecuted => "admin_api.mutation.add_resource_to_clientid.executed",
    AdminApiMutationRemoveResourceFromClientidExecuted => "admin_api.mutation.remove_resource_from_clientid.executed",
    AdminApiMutationAddScopesToClientidExecuted => "admin_api.mutation.add_scopes_to_clientid.executed",
    AdminApiMutationRemoveScopesFromClientidExecuted => "admin_api.mutation.remove_scopes_from_clientid.executed",
    AdminApiMutationReplaceScopesOfClientidExecuted => "admin_api.mutation.replace_scopes_of_clientid.executed",
    AdminApiMutationRedeliverWebhookEventExecuted => "admin_api.mutation.redeliver_webhook_event.executed",
    AdminApiMutationRedeliverFailedWebhookDeliveriesExecuted => "admin_api.mutation.redeliver_failed_webhook_deliveries.executed",
    AdminApiMutationImportUsersExecuted => "admin_api.mutation.import_users.executed",
    AdminApiMutationCancelUserImportExecuted => "admin_api.mutation.cancel_user_import.executed",
    /// A batch of a bulk import was written (or validated, in a dry run).
    UserImportBatchCommitted => "user_import.batch_committed",
    /// A bulk import finished.
    UserImportCompleted => "user_import.completed",
    AdminApiMutationAnonymizeUserExecuted => "admin_api.mutation.anonymize_user.executed",
    AdminApiMutationScheduleAccountAnonymizationExecuted => "admin_api.mutation.schedule_account_anonymization.executed",
    AdminApiMutationScheduleAccountDeletionExecuted => "admin_api.mutation.schedule_account_deletion.executed",
    AdminApiMutationUnscheduleAccountAnonymizationExecuted => "admin_api.mutation.unschedule_account_anonymization.executed",
    AdminApiMutationUnscheduleAccountDeletionExecuted => "admin_api.mutation.unschedule_account_deletion.executed",
    AuthenticationSecondaryPasswordFailed => "authentication.secondary.password.failed",
    EmailSuppressed => "email.suppressed",
    IdentityEmailAdded => "identity.email.added",
    IdentityEmailRemoved => "identity.email.removed",
    IdentityEmailUnverified => "identity.email.unverified",
    IdentityEmailUpdated => "identity.email.updated",
    IdentityPhoneAdded => "identity.phone.added",
    IdentityPhoneRemoved => "identity.phone.removed",
    IdentityPhoneUnverified => "identity.phone.unverified",
    IdentityPhoneUpdated => "identity.phone.updated",
    IdentityUsernameAdded => "identity.username.added",
    IdentityUsernameRemoved => "identity.username.removed",
    IdentityUsernameUpdated => "identity.username.updated",
    SmsSuppressed => "sms.suppressed",
    UsageAlertTriggered => "usage.alert.triggered",
    UserAnonymizationScheduled => "user.anonymization_scheduled",
    UserAnonymizationUnscheduled => "user.anonymization_unscheduled",
    UserAnonymized => "user.anonymized",
    UserDeletionUnscheduled => "user.deletion_unscheduled",
    UserDisabled => "user.disabled",
    UserReenabled => "user.reenabled",
    WhatsappError => "whatsapp.error",
    WhatsappOtpVerified => "whatsapp.otp.verified",
    WhatsappSent => "whatsapp.sent",
    WhatsappSuppressed => "whatsapp.suppressed",
    AdminApiMutationCreateHookScriptExecuted => "admin_api.mutation.create_hook_script.executed",
    AdminApiMutationUpdateHookScriptExecuted => "admin_api.mutation.update_hook_script.executed",
    AdminApiMutationDeleteHookScriptExecuted => "admin_api.mutation.delete_hook_script.executed",
    AdminApiMutationExportUsersExecuted => "admin_api.mutation.export_users.executed",
    AdminApiUserExportDownloaded => "admin_api.user_export.downloaded",
    AdminApiUserExportPasswordHashesExported => "admin_api.user_export.password_hashes_exported",
}

/// An audit log entry.
#[derive(Clone)]
pub struct AuditLog(pub crate::service::admin::audit_logs::AuditLog);

/// An audit log entry: who did what, to whom, when and from where.
#[Object(requires_scopes = "audit-log:read")]
impl AuditLog {
    /// The global ID of the entry.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// What happened.
    async fn activity_type(&self) -> async_graphql::Result<AuditLogActivityType> {
        // The list query only selects known types, so this fails only on a type that a
        // newer server version wrote.
        AuditLogActivityType::parse(&self.0.activity_type).ok_or_else(|| {
            async_graphql::Error::new(format!("unknown activity type {}", quoted(&self.0.activity_type)))
        })
    }
    /// When it happened.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// The affected user; null if none or if the user was deleted since. Needs `user:read`.
    #[graphql(requires_scopes = "user:read")]
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.user_id else { return Ok(None) };
        let loader = ctx.data::<DataLoader<AppLoader>>()?;
        Ok(loader.load_one(UserById(id)).await?.map(User))
    }
    /// IP address of the caller.
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }
    /// User agent of the caller.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// OAuth client of the caller's token, if any.
    #[graphql(name = "clientID")]
    async fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }
    /// The whole event: `type`, `payload` (what changed) and `context` (actor, IP, time).
    async fn data(&self) -> AuditLogData {
        AuditLogData(self.0.data.clone())
    }
}

/// Audit log queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Lists audit log entries, newest first by default. `rangeFrom` is inclusive and
    /// `rangeTo` exclusive; user, email and phone filters are OR-ed together. Needs
    /// `audit-log:read`.
    #[graphql(
        requires_scopes = "audit-log:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these activity types (default: all).")] activity_types: Option<
            Vec<AuditLogActivityType>,
        >,
        #[graphql(desc = "Entries at or after this time.")] range_from: Option<DateTime>,
        #[graphql(desc = "Entries before this time.")] range_to: Option<DateTime>,
        #[graphql(name = "userIDs", desc = "Entries about these users.")] user_ids: Option<Vec<ID>>,
        #[graphql(desc = "Entries about users with these email addresses.")] email_addresses: Option<Vec<String>>,
        #[graphql(desc = "Entries about users with these phone numbers.")] phone_numbers: Option<Vec<String>>,
        #[graphql(desc = "Sort direction (default DESC).")] sort_direction: Option<SortDirection>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<AuditLog>> {
        let types = match activity_types {
            Some(t) if !t.is_empty() => t,
            _ => AuditLogActivityType::ALL.to_vec(),
        };
        let filter = AuditFilter {
            activity_types: types.iter().map(|t| t.as_str().to_owned()).collect(),
            range_from: range_from.map(|d| d.0),
            range_to: range_to.map(|d| d.0),
            user_ids: decode_all::<UserId>(&user_ids.unwrap_or_default())?,
            emails: email_addresses.unwrap_or_default(),
            phones: phone_numbers.unwrap_or_default(),
            ascending: sort_direction == Some(SortDirection::Asc),
        };
        let page = services(ctx)?.audit_logs().list(&filter, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::AuditLogs(Box::new(filter)), AuditLog))
    }
}
