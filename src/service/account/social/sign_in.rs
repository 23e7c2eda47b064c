//! A sign-in through a provider as the `authentication.*` hooks see it:
//! `pre_initialize` when the provider's button is pressed (a refusal keeps the browser
//! here), `post_identified` (`identification: "oauth"`, the connected provider account)
//! and `pre_authenticated` (`amr: []`) once the callback names a connected account (for a
//! new account, a sign-up or a promotion, both before its user exists). Their
//! controls go through the round trip in the sealed cookie. A provider sign-in asks for no
//! second factor of its own (as in Authgear), unless a hook's `constraints.amr` does; no
//! bot-protection check or failed-sign-in limit applies to it, so `bot_protection` and
//! `rate_limits` have nothing to weigh there (the `authentication.general` weight goes on
//! to a second factor the hooks asked for).

use time::OffsetDateTime;

use super::{SsoError, SsoOutcome};
use crate::domain::ids::{SessionId, TypedId};
use crate::service::account::first_factor::FirstFactor;
use crate::service::account::login::{LoginError, PasswordPassed};
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::users::User;
use crate::service::events::sign_in::{AuthStep, FlowType, Identification, SignInSoFar};
use crate::service::{Account, Actor};

impl Account<'_> {
    /// `authentication.pre_initialize` of a sign-in through a provider, before the browser
    /// goes to it; the controls to seal in the round trip's cookie.
    pub(super) async fn sso_pre_initialize(&self, actor: &Actor) -> Result<SignInControls, SsoError> {
        let mut ctl = SignInControls::default();
        self.authentication_hook(AuthStep::PreInitialize, SignInSoFar::default(), actor, &mut ctl).await?;
        Ok(ctl)
    }

    /// Signs in `user`, to whom the provider account with unique key `key` is connected:
    /// `post_identified`, the checks of [`Self::check_may_sign_in`], `pre_authenticated`,
    /// then the session or the second factor a hook asked for.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn sso_sign_in(
        &self,
        user: User,
        key: &str,
        mut ctl: SignInControls,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
    ) -> Result<SsoOutcome, SsoError> {
        let keys = [key.to_owned()];
        let identified = SignInSoFar::identified(user.id.uuid(), Identification::OAuth, &keys);
        self.authentication_hook(AuthStep::PostIdentified, identified, actor, &mut ctl).await?;
        self.check_may_sign_in(&user).map_err(SsoError::Login)?;
        let so_far = identified.authenticated(&[], &[]);
        self.authentication_hook(AuthStep::PreAuthenticated, so_far, actor, &mut ctl).await?;
        self.sso_session(user, key, FlowType::Login, ctl, flow, actor, replaces, t).await
    }

    /// The hooks of a new provider account before its user exists, in a flow of kind
    /// `kind` (a sign-up, or the promotion of the anonymous user `promoted`):
    /// `post_identified` and `pre_authenticated` (`amr: []`). A refusal creates nothing.
    pub(super) async fn sso_new_account_hooks(
        &self,
        kind: FlowType,
        promoted: Option<uuid::Uuid>,
        ctl: &mut SignInControls,
        actor: &Actor,
    ) -> Result<(), SsoError> {
        let so_far = match promoted {
            Some(user) => SignInSoFar::identified(user, Identification::OAuth, &[]).in_flow(kind),
            None => SignInSoFar::start(kind).identifying(Identification::OAuth),
        };
        self.authentication_hook(AuthStep::PostIdentified, so_far, actor, ctl).await?;
        self.authentication_hook(AuthStep::PreAuthenticated, so_far.authenticated(&[], &[]), actor, ctl).await?;
        Ok(())
    }

    /// The end of a provider sign-in or sign-up (`kind`), its hooks done: the session, or,
    /// when a hook's `constraints.amr` asks for more than a provider account proves
    /// (nothing: its `amr` is empty), the second factor or its enrolment.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn sso_session(
        &self,
        user: User,
        key: &str,
        kind: FlowType,
        ctl: SignInControls,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
    ) -> Result<SsoOutcome, SsoError> {
        if ctl.needs_more(&[]) {
            let mut first = FirstFactor::new(Vec::new(), None, Identification::OAuth, vec![key.to_owned()]);
            first.flow = kind;
            let state = PasswordPassed::new(&user, flow, t, &first, ctl, true);
            let next = self.next_second_factor(&user, state).await.map_err(SsoError::Login)?;
            return Ok(SsoOutcome::Continue(Box::new(next)));
        }
        let (sess, token) = self.start_idp_session(&user, actor, replaces, t, &[]).await.map_err(|e| match e {
            // Deleted meanwhile: as when the connected account's user is not found.
            LoginError::Invalid => SsoError::InvalidState,
            LoginError::Server(e) => SsoError::Server(e),
            refused => SsoError::Login(refused),
        })?;
        Ok(SsoOutcome::SignedIn(Box::new(user), sess, token))
    }
}
