//! The `authentication.*` blocking events of a sign-in, with Authgear's payloads:
//! `pre_initialize` before anything is checked, `post_identified` once the user is known
//! (with the `identification`), and `pre_authenticated` right before the sign-in
//! finishes: after its last factor (the second factor when one is asked for). Each
//! sign-in method says what it has shown so far with a [`SignInSoFar`]; the handlers'
//! `constraints`, `bot_protection` and `rate_limits` go into the sign-in's
//! [`SignInControls`], which the method applies. Sign-ups, reauthentications and the
//! promotion of an anonymous user raise the same events, with their own
//! `authentication_flow.type` ([`FlowType`]).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::login_id::LoginIdType;
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::identities::{OAUTH, PASSKEY};
use crate::service::{Actor, Result, Services};

/// The steps of a sign-in where `authentication.*` hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::service) enum AuthStep {
    /// Before anything is checked (`authentication.pre_initialize`).
    PreInitialize,
    /// The user is known (`authentication.post_identified`).
    PostIdentified,
    /// The last factor passed, right before the session starts
    /// (`authentication.pre_authenticated`).
    PreAuthenticated,
}

impl AuthStep {
    fn event(self) -> &'static str {
        match self {
            Self::PreInitialize => "authentication.pre_initialize",
            Self::PostIdentified => "authentication.post_identified",
            Self::PreAuthenticated => "authentication.pre_authenticated",
        }
    }
}

/// The kind of flow the events belong to, as Authgear's `authentication_flow.type`
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::service) enum FlowType {
    /// Signing in to an existing account.
    #[default]
    Login,
    /// Creating an account.
    Signup,
    /// Confirming it's the user of a session before a sensitive action.
    Reauth,
    /// An anonymous user adding a real way to sign in.
    Promote,
}

impl FlowType {
    /// Authgear's name.
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Signup => "signup",
            Self::Reauth => "reauth",
            Self::Promote => "promote",
        }
    }
}

/// How a sign-in identified its user, as Authgear's `identification` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::service) enum Identification {
    /// An email address login ID.
    Email,
    /// A phone number login ID.
    Phone,
    /// A username login ID.
    Username,
    /// A provider account (social or enterprise login).
    OAuth,
    /// A passkey.
    Passkey,
}

impl Identification {
    /// Authgear's name.
    fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Username => "username",
            Self::OAuth => "oauth",
            Self::Passkey => "passkey",
        }
    }

    /// The kind of identity it uses.
    fn identity_kind(self) -> &'static str {
        match self {
            Self::Email | Self::Phone | Self::Username => "login_id",
            Self::OAuth => OAUTH,
            Self::Passkey => PASSKEY,
        }
    }

    /// How a typed login ID identifies ([`LoginIdType::of_text`], surrounding spaces
    /// aside).
    pub(in crate::service) fn of_login_id(text: &str) -> Self {
        match LoginIdType::of_text(text.trim()) {
            LoginIdType::Email => Self::Email,
            LoginIdType::Phone => Self::Phone,
            LoginIdType::Username => Self::Username,
        }
    }
}

/// What a sign-in has shown so far: the `authentication_context` of the payloads.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::service) struct SignInSoFar<'a> {
    /// Once identified: the user, how, and the unique keys the identity used may have
    /// (the typed login ID's candidates, the code's address, the provider account's or
    /// the passkey's key), to show that identity.
    identified: Option<(Uuid, Identification, &'a [String])>,
    /// A sign-up's identification, before its user exists: how, and nothing to show.
    identifying: Option<Identification>,
    /// A user known without an identification (the user of a session confirming it's them).
    known: Option<Uuid>,
    /// Once factors passed: Authgear's names of them (`primary_password`,
    /// `secondary_totp`, ...; none for a provider account) and the methods they proved.
    authenticated: Option<(&'a [String], &'a [String])>,
    /// The kind of flow.
    flow: FlowType,
}

impl<'a> SignInSoFar<'a> {
    /// Nothing shown yet, in a flow of kind `flow`.
    pub(in crate::service) fn start(flow: FlowType) -> Self {
        Self { flow, ..Self::default() }
    }

    /// `user` was identified `how`, with an identity whose unique key is one of `keys`.
    pub(in crate::service) fn identified(user: Uuid, how: Identification, keys: &'a [String]) -> Self {
        Self { identified: Some((user, how, keys)), ..Self::default() }
    }

    /// The user of a session, in a flow of kind `flow` (a reauthentication).
    pub(in crate::service) fn of_user(user: Uuid, flow: FlowType) -> Self {
        Self { known: Some(user), flow, ..Self::default() }
    }

    /// A sign-up chose a new identity of kind `how` (there is no user yet).
    pub(in crate::service) fn identifying(self, how: Identification) -> Self {
        Self { identifying: Some(how), ..self }
    }

    /// In a flow of kind `flow`.
    pub(in crate::service) fn in_flow(self, flow: FlowType) -> Self {
        Self { flow, ..self }
    }

    /// The factors named `asserted` (Authgear's names) passed, proving `amr`.
    pub(in crate::service) fn authenticated(self, asserted: &'a [String], amr: &'a [String]) -> Self {
        Self { authenticated: Some((asserted, amr)), ..self }
    }
}

impl Services {
    /// Runs the `authentication.*` hook of `step` for a sign-in that has shown `so_far`,
    /// and takes its outcome into `ctl`. A refusal is the error (`HookDisallowed`). Nothing
    /// is built or sent when no handler listens.
    pub(in crate::service) async fn authentication_hook(
        &self,
        step: AuthStep,
        so_far: SignInSoFar<'_>,
        actor: &Actor,
        ctl: &mut SignInControls,
    ) -> Result<()> {
        let event = step.event();
        if !self.will_deliver(event) {
            return Ok(());
        }
        let conn = &self.db.reader();
        let (user_id, user, identification) = match (so_far.identified, so_far.known) {
            (Some((id, how, keys)), _) => {
                let user = super::user_model::api_user(conn, id).await?;
                let identity = super::user_model::api_identity(conn, id, how.identity_kind(), keys).await?;
                let identification = json!({"identification": how.as_str(), "identity": identity, "id_token": null});
                (Some(id), user, Some(identification))
            }
            (None, Some(id)) => (Some(id), super::user_model::api_user(conn, id).await?, None),
            (None, None) => {
                let identification = so_far
                    .identifying
                    .map(|how| json!({"identification": how.as_str(), "identity": null, "id_token": null}));
                (None, None, identification)
            }
        };
        let (asserted, amr) = so_far.authenticated.unwrap_or((&[], &[]));
        let asserted: Vec<Value> =
            asserted.iter().map(|a| json!({"authentication": a, "authenticator": null})).collect();
        let mut payload = json!({
            "authentication_context": {
                "user": user,
                "asserted_identifications": identification.iter().collect::<Vec<_>>(),
                "asserted_authentications": asserted,
                "amr": amr,
                "authentication_flow": {"type": so_far.flow.as_str(), "name": "default"},
            },
        });
        if step == AuthStep::PostIdentified {
            payload["identification"] = identification.unwrap_or(Value::Null);
        }
        let outcome = self.run_blocking(event, user_id, payload, actor).await?;
        ctl.absorb(outcome.constraints, outcome.bot_protection, outcome.rate_limits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_login_ids_identify_as_authgear_names_them() {
        assert_eq!(Identification::of_login_id(" ann@example.com").as_str(), "email");
        assert_eq!(Identification::of_login_id("+14155550100").as_str(), "phone");
        assert_eq!(Identification::of_login_id("ann").as_str(), "username");
    }
}
