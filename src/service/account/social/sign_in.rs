//! A sign-in through a provider as the `authentication.*` hooks see it:
//! `pre_initialize` when the provider's button is pressed (a refusal keeps the browser
//! here), `post_identified` (`identification: "oauth"`, the connected provider account)
//! and `pre_authenticated` (`amr: []`) once the callback names a connected account. Their
//! controls go through the round trip in the sealed cookie. A provider sign-in asks for no
//! second factor of its own (as in Authgear), unless a hook's `constraints.amr` does; no
//! bot-protection check or failed-sign-in limit applies to it, so `bot_protection` and
//! `rate_limits` have nothing to weigh there (the `authentication.general` weight goes on
//! to a second factor the hooks asked for).

use time::OffsetDateTime;

use super::{SsoError, SsoOutcome};
use crate::domain::ids::{SessionId, TypedId};
use crate::service::account::sign_in_controls::{RateGroup, SignInControls};
use crate::service::admin::users::User;
use crate::service::events::sign_in::{AuthStep, Identification, SignInSoFar};
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
        let so_far = identified.authenticated(None, &[]);
        self.authentication_hook(AuthStep::PreAuthenticated, so_far, actor, &mut ctl).await?;
        self.sso_session(user, &ctl, flow, actor, replaces, t).await
    }

    /// The end of a provider sign-in or sign-up: the session, or, when a hook's
    /// `constraints.amr` asks for more than a provider account proves (nothing: its `amr`
    /// is empty), the second factor or its enrolment.
    pub(super) async fn sso_session(
        &self,
        user: User,
        ctl: &SignInControls,
        flow: &str,
        actor: &Actor,
        replaces: Option<SessionId>,
        t: OffsetDateTime,
    ) -> Result<SsoOutcome, SsoError> {
        if ctl.needs_more(&[]) {
            let weight = ctl.weight(RateGroup::General);
            let next =
                self.required_second_factor(&user, Vec::new(), flow, t, weight).await.map_err(SsoError::Login)?;
            return Ok(SsoOutcome::Continue(Box::new(next)));
        }
        let (sess, token) = self.start_idp_session(&user, actor, replaces, t, &[]).await?;
        Ok(SsoOutcome::SignedIn(Box::new(user), sess, token))
    }
}
