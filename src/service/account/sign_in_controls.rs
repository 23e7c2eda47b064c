//! What the `authentication.*` blocking hooks decided for one sign-in, beyond "allowed":
//! whether it must pass the bot-protection challenge (`bot_protection.mode`), how much
//! it counts against the sign-in rate limits (`rate_limits.<group>.weight`), and what it
//! must prove (`constraints.amr`). As in Authgear, the last non-null value of each wins:
//! along one event's chain of handlers, and from one event to the next (`pre_initialize`,
//! then `post_identified`, then `pre_authenticated`). A later `rate_limits` replaces the
//! whole earlier one: a group it leaves out counts 1 again. `constraints.amr` is checked
//! once the first factor passed, against what it proved.
//!
//! A sign-in that spans requests (a code sent, then entered; a round trip through a
//! provider) carries its controls in its sealed state.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{BotFlow, BotProvider};
use crate::hooks::blocking::{BotProtection, BotProtectionMode, Constraints};
use crate::service::account::login::LoginError;
use crate::service::account::rate_limit::Weight;
use crate::service::{Account, Actor};

/// The rate limits a hook may weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::service) enum RateGroup {
    /// `authentication.general`: the failed sign-ins per IP address and per login ID from
    /// one address (`rate_limits.login_failures_per_*`).
    General,
    /// `authentication.account_enumeration`: login IDs that name no account, per IP
    /// address (`rate_limits.account_enumeration_per_ip_per_minute`, shared with the
    /// forgot-password form).
    AccountEnumeration,
}

impl RateGroup {
    /// The group's key in a hook's `rate_limits`.
    fn key(self) -> &'static str {
        match self {
            Self::General => "authentication.general",
            Self::AccountEnumeration => "authentication.account_enumeration",
        }
    }
}

/// The hooks' decisions so far in one sign-in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(in crate::service) struct SignInControls {
    /// The last `bot_protection.mode` a hook returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot_protection: Option<BotProtectionMode>,
    /// The last `rate_limits` a hook returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate_limits: Option<Map<String, Value>>,
    /// Whether this sign-in passed the bot-protection check already.
    #[serde(default)]
    bot_checked: bool,
    /// The last `constraints.amr` a hook returned (`constraints` without `amr`: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amr: Option<Vec<String>>,
}

impl SignInControls {
    /// Takes in one event's outcome: each non-null value replaces the earlier one.
    pub(in crate::service) fn absorb(
        &mut self,
        constraints: Option<Constraints>,
        bot: Option<BotProtection>,
        rate_limits: Option<Map<String, Value>>,
    ) {
        if let Some(c) = constraints {
            self.amr = Some(c.amr.unwrap_or_default());
        }
        if let Some(b) = bot {
            self.bot_protection = Some(b.mode);
        }
        if rate_limits.is_some() {
            self.rate_limits = rate_limits;
        }
    }

    /// Whether the hooks' `constraints.amr` asks for more than a first factor that proved
    /// `proved`: a second factor. `pwd` is left out (there is no password step after
    /// another first factor), as before.
    pub(in crate::service) fn needs_more(&self, proved: &[String]) -> bool {
        self.amr.as_ref().is_some_and(|wanted| wanted.iter().any(|a| a != "pwd" && !proved.contains(a)))
    }

    /// How much this attempt counts against `group`: the hooks' weight, else 1.
    pub(in crate::service) fn weight(&self, group: RateGroup) -> Weight {
        self.rate_limits
            .as_ref()
            .and_then(|m| m.get(group.key()))
            .and_then(|g| g.get("weight"))
            .and_then(Value::as_f64)
            .map_or(Weight::ONE, Weight::from_hook)
    }
}

impl Account<'_> {
    /// The bot-protection check of a sign-in at this point of it: when a hook's
    /// `bot_protection.mode` is `always` (or, no hook having said, the configuration asks
    /// for it on the sign-in form), the form's `token` must pass the provider's check;
    /// `never` skips it. A sign-in is checked at most once. Without a configured provider
    /// there is nothing to check with, and a hook's `always` changes nothing (as in
    /// Authgear).
    pub(in crate::service) async fn sign_in_bot_check(
        &self,
        ctl: &mut SignInControls,
        token: Option<&str>,
        actor: &Actor,
    ) -> Result<(), LoginError> {
        if ctl.bot_checked {
            return Ok(());
        }
        let cfg = &self.config.bot_protection;
        let Some(provider) = cfg.active_provider() else { return Ok(()) };
        let required = match ctl.bot_protection {
            Some(BotProtectionMode::Always) => true,
            Some(BotProtectionMode::Never) => false,
            None => cfg.required_for(BotFlow::Login).is_some(),
        };
        if !required {
            return Ok(());
        }
        self.verify_bot_token(BotFlow::Login, provider, token, actor).await.map_err(LoginError::BotProtection)?;
        ctl.bot_checked = true;
        Ok(())
    }

    /// The form field of the configured provider's token, when bot protection is on: a
    /// sign-in form's token is read from it whatever the configuration asks of the form,
    /// since a hook may ask for the challenge.
    pub fn bot_token_field(&self) -> Option<&'static str> {
        self.config.bot_protection.active_provider().map(BotProvider::token_field)
    }
}
