//! Self-service signup from the Auth UI: one login ID and a password, then logged in; or,
//! for an authorization request that promotes an anonymous user, the same added to that
//! user. (Signup with a passkey instead of a password is in `passkeys.rs`.)

use crate::config::LoginIdType;
use crate::domain::ids::{SessionId, TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::domain::password::check_policy;
use crate::domain::reason;
use crate::service::Account;
use crate::service::account::first_factor::FirstFactor;
use crate::service::account::login::{LoginError, LoginOutcome};
use crate::service::account::promotion::{anonymous_row, finish_promotion};
use crate::service::account::rate_limit::PerIp;
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::identities::insert_login_id;
use crate::service::admin::user_rows::insert_password;
use crate::service::admin::users::User;
use crate::service::events::sign_in::{AuthStep, FlowType, Identification, SignInSoFar};
use crate::service::store::time::now;
use crate::service::{Actor, Audit, Error, Result};

impl Account<'_> {
    /// Self-service signup: creates a user with one login ID and a password (the login ID
    /// type is recognised from the text), then signs them in. Writes `user.created` and
    /// `user.authenticated`. With `promote` (the anonymous user of a promotion request),
    /// the login ID and password go to that user instead, whose device key identity is
    /// removed: `user.anonymous.promoted`.
    ///
    /// The `authentication.*` hooks run first (`authentication_flow.type` `signup` or
    /// `promote`; a refusal creates nothing). A second factor that `mfa.mode` `required`
    /// or a hook's `constraints.amr` asks for is enrolled before the session starts.
    pub async fn signup(
        &self,
        login_id: &str,
        password: String,
        actor: &Actor,
        replaces: Option<SessionId>,
        promote: Option<UserId>,
        flow: &str,
    ) -> std::result::Result<LoginOutcome, LoginError> {
        if password.is_empty() {
            return Err(Error::invalid(reason::PASSWORD_POLICY_VIOLATED, "choose a password").into());
        }
        let text = login_id.trim();
        let kind = self.signup_login_id_kind(text)?;
        let how = Identification::of_login_id(text);
        let amr = ["pwd".to_owned()];
        let ctl = self.new_account_hooks(promote, how, "primary_password", &amr, actor).await?;
        self.check_signup_rate(actor).await?;
        let user = match promote {
            Some(anonymous) => self.promote(anonymous, kind.as_str(), text, password, actor).await?,
            None => {
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
                self.users().create(&audit, input).await?
            }
        };
        let mut first = FirstFactor::password(how, vec![text.to_owned()]);
        first.flow = if promote.is_some() { FlowType::Promote } else { FlowType::Signup };
        first.pre_authenticated = true;
        self.after_first_factor(&user, first, flow, actor, replaces, now(), ctl).await
    }

    /// The `authentication.*` hooks of a sign-up (or of the promotion of the anonymous user
    /// `promoted`) whose new identity is of kind `how` and whose first factor
    /// (`authentication`, Authgear's name) proves `amr`, before anything is created:
    /// `pre_initialize`, `post_identified` and `pre_authenticated`, with
    /// `authentication_flow.type` `signup` (or `promote`). A refusal creates nothing.
    /// Returns the hooks' controls; the sign-up applies their `constraints.amr`.
    pub(in crate::service) async fn new_account_hooks(
        &self,
        promoted: Option<UserId>,
        how: Identification,
        authentication: &'static str,
        amr: &[String],
        actor: &Actor,
    ) -> Result<SignInControls> {
        let mut ctl = SignInControls::default();
        let flow = if promoted.is_some() { FlowType::Promote } else { FlowType::Signup };
        let start = SignInSoFar::start(flow);
        self.authentication_hook(AuthStep::PreInitialize, start, actor, &mut ctl).await?;
        let identified = match promoted {
            Some(user) => SignInSoFar::identified(user.uuid(), how, &[]).in_flow(flow),
            None => start.identifying(how),
        };
        self.authentication_hook(AuthStep::PostIdentified, identified, actor, &mut ctl).await?;
        let asserted = [authentication.to_owned()];
        let done = identified.authenticated(&asserted, amr);
        self.authentication_hook(AuthStep::PreAuthenticated, done, actor, &mut ctl).await?;
        Ok(ctl)
    }

    /// The type of a login ID typed at signup (recognised from the text), if signup
    /// accepts that type.
    pub(in crate::service) fn signup_login_id_kind(&self, text: &str) -> Result<LoginIdType> {
        let types = &self.config.login_id.types;
        let kind = LoginIdType::of_text(text);
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

    /// Adds a login ID and a password to the anonymous user `user_id` and removes the
    /// user's device key identities: the user keeps their ID, and is no longer anonymous.
    async fn promote(&self, user_id: UserId, key: &str, value: &str, password: String, actor: &Actor) -> Result<User> {
        let login_id = LoginId::parse(&self.config.login_id, key, value)?;
        check_policy(&self.config.password_policy, &password)?;
        let hash = self.hasher.hash(password).await?;
        let keep = self.config.password_policy.history_kept();
        let t = now();
        self.write(async |tx| {
            let row = anonymous_row(tx, user_id.uuid()).await?;
            let txn = tx.conn();
            insert_login_id(txn, key, user_id, &login_id, t).await?;
            insert_password(txn, row.id, hash, t, false, keep).await?;
            finish_promotion(tx, row, "login_id", actor, t).await
        })
        .await
    }
}
