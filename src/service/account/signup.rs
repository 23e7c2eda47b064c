//! Self-service signup from the Auth UI: one login ID and a password, then logged in.
//! (Signup with a passkey instead of a password is in `passkeys.rs`.)

use crate::config::LoginIdType;
use crate::domain::ids::SessionId;
use crate::domain::reason;
use crate::service::Account;
use crate::service::account::login::IdpSession;
use crate::service::account::rate_limit::PerIp;
use crate::service::admin::users::User;
use crate::service::store::time::now;
use crate::service::{Actor, Audit, Error, Result};

impl Account<'_> {
    /// Self-service signup: creates a user with one login ID and a password (the login ID
    /// type is recognised from the text), then logs them in. Writes `user.created` and
    /// `user.authenticated`.
    pub async fn signup(
        &self,
        login_id: &str,
        password: String,
        actor: &Actor,
        replaces: Option<SessionId>,
    ) -> Result<(User, IdpSession, String)> {
        if password.is_empty() {
            return Err(Error::invalid(reason::PASSWORD_POLICY_VIOLATED, "choose a password"));
        }
        let text = login_id.trim();
        let kind = self.signup_login_id_kind(text)?;
        self.check_signup_rate(actor).await?;
        let audit = Audit { actor: actor.clone(), activity: "user.created".into() };
        let input = crate::service::admin::users::NewUser {
            login_id_key: kind.as_str().to_owned(),
            login_id_value: text.to_owned(),
            password: Some(password),
            send_password: false,
            set_password_expired: false,
            account_valid_from: None,
            account_valid_until: None,
        };
        let user = self.users().create(&audit, input).await?;
        let (sess, token) = self.start_idp_session(&user, actor, replaces, now(), &["pwd"]).await?;
        Ok((user, sess, token))
    }

    /// The type of a login ID typed at signup (recognised from the text), if signup
    /// accepts that type.
    pub(in crate::service) fn signup_login_id_kind(&self, text: &str) -> Result<LoginIdType> {
        let types = &self.config.login_id.types;
        let kind = if text.contains('@') {
            LoginIdType::Email
        } else if text.starts_with('+') {
            LoginIdType::Phone
        } else {
            LoginIdType::Username
        };
        if !types.contains(&kind) {
            let allowed: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            return Err(Error::invalid(
                reason::INVALID_LOGIN_ID,
                format!("sign up with one of: {}", allowed.join(", ").replace("phone", "phone number (+country code)")),
            ));
        }
        Ok(kind)
    }

    /// Refuses a signup beyond the per-IP rate.
    pub(in crate::service) async fn check_signup_rate(&self, actor: &Actor) -> Result<()> {
        let ip = actor.ip.as_deref().unwrap_or("-");
        if !self.allow_per_ip(PerIp::Signup, ip, actor).await? {
            return Err(Error::invalid(
                reason::RATE_LIMITED,
                "too many sign-ups from this address; wait a minute and try again",
            ));
        }
        Ok(())
    }
}
