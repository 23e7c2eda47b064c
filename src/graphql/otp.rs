//! One-time codes and messages in the Admin API: `generateOOBOTPCode` and
//! `sendResetPasswordMessage`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use crate::graphql::context::{audit, services};
use crate::service::account::otp::OtpPurpose;

/// What a one-time code is for (Authgear's `OTPPurpose`).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "OTPPurpose")]
pub enum OtpPurposeInput {
    /// Signing in with the code (passwordless or as a second factor).
    Login,
    /// Verifying the email address or phone number.
    Verification,
}

/// Input of `generateOOBOTPCode`.
#[derive(InputObject)]
#[graphql(name = "GenerateOOBOTPCodeInput")]
pub struct GenerateOobOtpCodeInput {
    /// The email address or phone number (E.164) the code is for.
    pub target: String,
    /// What the code is for; default `LOGIN`.
    pub purpose: Option<OtpPurposeInput>,
}

/// Result of `generateOOBOTPCode`.
#[derive(SimpleObject)]
#[graphql(name = "GenerateOOBOTPCodePayload")]
pub struct GenerateOobOtpCodePayload {
    /// The code. It replaces any code sent to the target for that purpose and is valid
    /// for `oob_otp.code_lifetime_seconds`.
    pub code: String,
}

/// Input of `sendResetPasswordMessage`.
#[derive(InputObject)]
pub struct SendResetPasswordMessageInput {
    /// The email login ID of the user to send the reset link to.
    #[graphql(name = "loginID")]
    pub login_id: ID,
}

/// Code and message mutations; each needs `user:write` and is audited.
#[derive(Default)]
pub struct OtpMutation;

#[Object]
impl OtpMutation {
    /// Makes a one-time code for an email address or phone number without sending it (for
    /// support staff and tests); a user enters it where a sent code is asked for.
    #[graphql(name = "generateOOBOTPCode", requires_scopes = "user:write")]
    async fn generate_oob_otp_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The target and purpose.")] input: GenerateOobOtpCodeInput,
    ) -> async_graphql::Result<GenerateOobOtpCodePayload> {
        let purpose = match input.purpose.unwrap_or(OtpPurposeInput::Login) {
            OtpPurposeInput::Login => OtpPurpose::Login,
            OtpPurposeInput::Verification => OtpPurpose::Verification,
        };
        let code = services(ctx)?
            .account()
            .generate_code(&audit(ctx, "generate_oob_otp_code"), &input.target, purpose)
            .await?;
        Ok(GenerateOobOtpCodePayload { code })
    }

    /// Emails a password reset link to a user (as "Forgot your password?" does). At most
    /// one message a minute per user.
    #[graphql(requires_scopes = "user:write")]
    async fn send_reset_password_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's email login ID.")] input: SendResetPasswordMessageInput,
    ) -> async_graphql::Result<bool> {
        services(ctx)?
            .account()
            .admin_send_reset_link(&audit(ctx, "send_reset_password_message"), input.login_id.as_str())
            .await?;
        Ok(true)
    }
}
