//! The `Authenticator` type, authenticator mutations and the MFA grace period.

use crate::domain::ids::{AuthenticatorId, UserId};
use crate::domain::reason;
use crate::graphql::date_time::DateTime;
use crate::service::admin::authenticators::{Factor, NewAuthenticator};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use serde_json::Value;

use super::context::{audit, services};
use super::error::bad_input;
use super::node::{decode, encode};
use super::scalars::AuthenticatorClaims;
use super::users::User;

/// Authenticator types.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AuthenticatorType {
    /// Password.
    Password,
    /// Time-based one-time password.
    Totp,
    /// One-time code by email.
    OobOtpEmail,
    /// One-time code by SMS.
    OobOtpSms,
    /// Passkey.
    Passkey,
}

impl AuthenticatorType {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Totp => "totp",
            Self::OobOtpEmail => "oob_otp_email",
            Self::OobOtpSms => "oob_otp_sms",
            Self::Passkey => "passkey",
        }
    }
}

/// Primary (first factor) or secondary (second factor).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AuthenticatorKind {
    /// First factor.
    Primary,
    /// Second factor.
    Secondary,
}

impl AuthenticatorKind {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        self.factor().as_str()
    }
    /// The service's spelling.
    pub fn factor(self) -> Factor {
        match self {
            Self::Primary => Factor::Primary,
            Self::Secondary => Factor::Secondary,
        }
    }
}

/// A way a user proves an identity. Secrets such as password hashes are never exposed.
#[derive(Clone)]
pub struct Authenticator(pub crate::service::admin::authenticators::Authenticator);

/// A way a user proves an identity. Secrets such as password hashes are never exposed.
#[Object(requires_scopes = "user:read")]
impl Authenticator {
    /// The global ID of the authenticator.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The authenticator type.
    #[graphql(name = "type")]
    async fn authenticator_type(&self) -> AuthenticatorType {
        match self.0.kind.as_str() {
            "totp" => AuthenticatorType::Totp,
            "oob_otp_email" => AuthenticatorType::OobOtpEmail,
            "oob_otp_sms" => AuthenticatorType::OobOtpSms,
            "passkey" => AuthenticatorType::Passkey,
            _ => AuthenticatorType::Password,
        }
    }
    /// Primary or secondary.
    async fn kind(&self) -> AuthenticatorKind {
        if self.0.factor == "secondary" { AuthenticatorKind::Secondary } else { AuthenticatorKind::Primary }
    }
    /// Whether this is the default authenticator of its kind.
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
    /// When a password expires (the user must change it); null if it does not.
    async fn expire_after(&self) -> Option<DateTime> {
        self.0.expire_after.map(DateTime)
    }
    /// Non-secret claims of the authenticator, with Authgear's keys:
    /// `https://authgear.com/claims/authenticator/type` always,
    /// `https://authgear.com/claims/oob_otp/email` or `https://authgear.com/claims/oob_otp/phone`
    /// for email and SMS codes, `https://authgear.com/claims/totp/display_name` for TOTP.
    async fn claims(&self, #[graphql(desc = "Only these claims.")] names: Option<Vec<String>>) -> AuthenticatorClaims {
        let mut c = self.0.claims();
        if let (Some(names), Value::Object(map)) = (names, &mut c) {
            map.retain(|k, _| names.contains(k));
        }
        AuthenticatorClaims(c)
    }
    /// When the authenticator was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the authenticator was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// The password of a new password authenticator.
#[derive(InputObject)]
pub struct AuthenticatorDefinitionPassword {
    /// Password of the new authenticator, checked against the password policy.
    pub password: String,
}

/// The email address of a new email code authenticator.
#[derive(InputObject)]
#[graphql(name = "AuthenticatorDefinitionOOBOTPEmail")]
pub struct AuthenticatorDefinitionOobOtpEmail {
    /// Email of the new OOB OTP email authenticator.
    pub email: String,
}

/// The phone number of a new SMS code authenticator.
#[derive(InputObject)]
#[graphql(name = "AuthenticatorDefinitionOOBOTPSMS")]
pub struct AuthenticatorDefinitionOobOtpSms {
    /// Phone number (E.164) of the new OOB OTP SMS authenticator.
    pub phone: String,
}

/// Definition of an authenticator: its kind, its type, and exactly one of `password`,
/// `oobOtpEmail` and `oobOtpSMS`, the one that matches the type. TOTP authenticators are
/// enrolled by the user, and passkeys by their device; neither can be created here.
#[derive(InputObject)]
pub struct AuthenticatorDefinition {
    /// Kind of authenticator.
    pub kind: AuthenticatorKind,
    /// Type of authenticator.
    #[graphql(name = "type")]
    pub authenticator_type: AuthenticatorType,
    /// Password authenticator definition. Must be provided when type is PASSWORD.
    pub password: Option<AuthenticatorDefinitionPassword>,
    /// OOB OTP email authenticator definition. Must be provided when type is OOB_OTP_EMAIL.
    pub oob_otp_email: Option<AuthenticatorDefinitionOobOtpEmail>,
    /// OOB OTP SMS authenticator definition. Must be provided when type is OOB_OTP_SMS.
    #[graphql(name = "oobOtpSMS")]
    pub oob_otp_sms: Option<AuthenticatorDefinitionOobOtpSms>,
}

impl AuthenticatorDefinition {
    /// The authenticator to add: the sub-input that matches the type, and no other.
    fn parse(self) -> async_graphql::Result<NewAuthenticator> {
        let given: Vec<&str> = [
            self.password.as_ref().map(|_| "password"),
            self.oob_otp_email.as_ref().map(|_| "oobOtpEmail"),
            self.oob_otp_sms.as_ref().map(|_| "oobOtpSMS"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (wanted, new) = match self.authenticator_type {
            AuthenticatorType::Password => ("password", self.password.map(|p| NewAuthenticator::Password(p.password))),
            AuthenticatorType::OobOtpEmail => {
                ("oobOtpEmail", self.oob_otp_email.map(|e| NewAuthenticator::OobOtpEmail(e.email)))
            }
            AuthenticatorType::OobOtpSms => {
                ("oobOtpSMS", self.oob_otp_sms.map(|s| NewAuthenticator::OobOtpSms(s.phone)))
            }
            AuthenticatorType::Totp => {
                return Err(bad_input(
                    reason::UNSUPPORTED_AUTHENTICATOR_TYPE,
                    "a TOTP authenticator cannot be created by an admin: the user enrols it in their settings",
                ));
            }
            AuthenticatorType::Passkey => {
                return Err(bad_input(
                    reason::UNSUPPORTED_AUTHENTICATOR_TYPE,
                    "a passkey cannot be created by an admin: the user registers it from their device",
                ));
            }
        };
        match new {
            Some(new) if given.len() == 1 => Ok(new),
            _ => Err(bad_input(
                reason::INVALID_AUTHENTICATOR_DEFINITION,
                format!(
                    "type {} needs `{wanted}` and no other definition",
                    self.authenticator_type.as_str().to_uppercase()
                ),
            )),
        }
    }
}

/// Input of `createAuthenticator`.
#[derive(InputObject)]
pub struct CreateAuthenticatorInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// The new authenticator.
    pub definition: AuthenticatorDefinition,
}

/// Result of `createAuthenticator`.
#[derive(SimpleObject)]
pub struct CreateAuthenticatorPayload {
    /// The new authenticator.
    pub authenticator: Authenticator,
}

/// Input of `deleteAuthenticator`.
#[derive(InputObject)]
pub struct DeleteAuthenticatorInput {
    /// The authenticator.
    #[graphql(name = "authenticatorID")]
    pub authenticator_id: ID,
}

/// Result of `deleteAuthenticator`.
#[derive(SimpleObject)]
pub struct DeleteAuthenticatorPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setMFAGracePeriod`.
#[derive(InputObject)]
#[graphql(name = "setMFAGracePeriodInput")]
pub struct SetMfaGracePeriodInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// End of the grace period; must be in the future.
    pub end_at: DateTime,
}

/// Result of `setMFAGracePeriod`.
#[derive(SimpleObject)]
#[graphql(name = "setMFAGracePeriodPayload")]
pub struct SetMfaGracePeriodPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `removeMFAGracePeriod`.
#[derive(InputObject)]
#[graphql(name = "removeMFAGracePeriodInput")]
pub struct RemoveMfaGracePeriodInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `removeMFAGracePeriod`.
#[derive(SimpleObject)]
#[graphql(name = "removeMFAGracePeriodPayload")]
pub struct RemoveMfaGracePeriodPayload {
    /// The user after the change.
    pub user: User,
}

/// Authenticator mutations; each needs `user:write` and writes one audit log entry in the
/// same transaction as the change.
#[derive(Default)]
pub struct AuthenticatorMutation;

#[Object]
impl AuthenticatorMutation {
    /// Adds a password, email code or SMS code authenticator to a user. A user has at
    /// most one primary and one secondary password, and one email or SMS authenticator of
    /// a kind per address.
    #[graphql(requires_scopes = "user:write")]
    async fn create_authenticator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and the new authenticator.")] input: CreateAuthenticatorInput,
    ) -> async_graphql::Result<CreateAuthenticatorPayload> {
        let user_id = decode::<UserId>(&input.user_id)?;
        let factor = input.definition.kind.factor();
        let new = input.definition.parse()?;
        let a =
            services(ctx)?.authenticators().create(&audit(ctx, "create_authenticator"), user_id, factor, new).await?;
        Ok(CreateAuthenticatorPayload { authenticator: Authenticator(a) })
    }

    /// Removes an authenticator from its user.
    #[graphql(requires_scopes = "user:write")]
    async fn delete_authenticator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The authenticator to remove.")] input: DeleteAuthenticatorInput,
    ) -> async_graphql::Result<DeleteAuthenticatorPayload> {
        let id = decode::<AuthenticatorId>(&input.authenticator_id)?;
        let user = services(ctx)?.authenticators().delete(&audit(ctx, "delete_authenticator"), id).await?;
        Ok(DeleteAuthenticatorPayload { user: User(user) })
    }

    /// Lets a user sign in without a second factor until `endAt`, even where MFA is
    /// required; they are asked to enrol one meanwhile.
    #[graphql(name = "setMFAGracePeriod", requires_scopes = "user:write")]
    async fn set_mfa_grace_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and the end of the grace period.")] input: SetMfaGracePeriodInput,
    ) -> async_graphql::Result<SetMfaGracePeriodPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?
            .authenticators()
            .set_mfa_grace_period(&audit(ctx, "set_mfa_grace_period"), id, input.end_at.0)
            .await?;
        Ok(SetMfaGracePeriodPayload { user: User(user) })
    }

    /// Ends a user's MFA grace period.
    #[graphql(name = "removeMFAGracePeriod", requires_scopes = "user:write")]
    async fn remove_mfa_grace_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: RemoveMfaGracePeriodInput,
    ) -> async_graphql::Result<RemoveMfaGracePeriodPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user =
            services(ctx)?.authenticators().remove_mfa_grace_period(&audit(ctx, "remove_mfa_grace_period"), id).await?;
        Ok(RemoveMfaGracePeriodPayload { user: User(user) })
    }
}
