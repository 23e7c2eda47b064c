//! The message that carries a sign-in or verification code, or a login link: rendered
//! in the authorization request's language and sent by email or SMS.

use minijinja::context;

use crate::service::account::otp::{Channel, OtpPurpose};
use crate::service::{Account, Actor, Result};

impl Account<'_> {
    /// Renders and sends the message that carries a code or a login link.
    pub(in crate::service) async fn deliver_code(
        &self,
        purpose: OtpPurpose,
        channel: Channel,
        target: &str,
        issued: &crate::service::account::otp::Issued,
        lang: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        let cfg = &self.config.oob_otp;
        let purpose_name = purpose.as_str();
        match (channel, &issued.link_token) {
            (Channel::Email, Some(token)) => {
                let link = format!(
                    "{}/login/link?token={}",
                    self.config.public_url(),
                    url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
                );
                let minutes = cfg.link_lifetime_seconds / 60;
                let body = self.messages.render("email_login_link.txt", context! { link, minutes, lang })?;
                let subject = self.messages.subject("login_link", lang)?;
                self.send_email(target, &subject, body, "login_link", actor).await
            }
            (Channel::Email, None) => {
                let minutes = cfg.code_lifetime_seconds / 60;
                let ctx = context! { code => issued.code.clone(), minutes, lang, purpose => purpose_name };
                let body = self.messages.render("email_code.txt", ctx)?;
                let kind = if purpose == OtpPurpose::Login { "login_code" } else { "verification_code" };
                let subject = self.messages.subject(kind, lang)?;
                self.send_email(target, &subject, body, kind, actor).await
            }
            (Channel::Sms, _) => {
                let minutes = cfg.code_lifetime_seconds / 60;
                let ctx = context! { code => issued.code.clone(), minutes, lang, purpose => purpose_name };
                let body = self.messages.render("sms_code.txt", ctx)?;
                let kind = if purpose == OtpPurpose::Login { "login_code" } else { "verification_code" };
                self.guard_sms(purpose, target, actor).await?;
                self.send_sms(target, &body, kind, actor).await
            }
        }
    }

    /// The language of the authorization request's pages (its first `ui_locales` tag),
    /// for the message's template.
    pub(in crate::service) fn flow_lang(&self, flow: &str) -> Option<String> {
        let req: crate::service::oauth::authorize::AuthRequest = self.unseal("authorize", flow)?;
        let tag = req.ui_locales.as_deref()?.split_ascii_whitespace().next()?;
        (tag.len() <= 35 && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).then(|| tag.to_owned())
    }
}
