//! Social and enterprise login: signing in, signing up and connecting an account through
//! an upstream OAuth 2.0 / OpenID Connect provider (authorization code with PKCE, state
//! and nonce), and account linking when the provider's verified email is an existing
//! account's login ID.
//!
//! Between the redirect to the provider and its callback, the browser keeps a sealed
//! cookie with the state, the nonce, the PKCE verifier, the authorization flow and, for a
//! connection from the settings page, the user. The identity is kind `oauth`, unique per
//! `alias:subject`. An OAuth sign-in has an empty `amr` (as in Authgear) and asks for no
//! second factor unless a sign-in hook does (`sign_in.rs`).

pub(in crate::service) mod provider_cache;
mod sign_in;
mod upstream;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::{AccountLinking, OAuthProviderConfig};
use crate::crypto::{b64, ct_eq, random_bytes};
use crate::domain::ids::{IdentityId, TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::service::Account;
use crate::service::account::login::{IdpSession, LoginError, LoginOutcome};
use crate::service::account::promotion::{anonymous_row, finish_promotion};
use crate::service::account::rate_limit::PerIp;
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::identities::{Identity, OAUTH, insert_keyed, keyed_identity};
use crate::service::admin::user_rows::{new_user_row, refresh_derived, snapshot, user_row};
use crate::service::admin::users::User;
use crate::service::events::sign_in::FlowType;
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error};
use entity::verified_claim;
use sea_orm::{ActiveModelTrait, Set};

/// The purpose the "sent to the provider" cookie is sealed for.
const STARTED_PURPOSE: &str = "sso-started";
/// The purpose of the "sign in to link" state.
const LINK_PURPOSE: &str = "sso-link";
/// The longest sealed pending link kept whole in its cookie.
const MAX_LINK_COOKIE: usize = 3_000;
/// How long a round trip through the provider, or a pending link, may take (seconds).
const LIFETIME_SECS: i64 = 10 * 60;

/// Why a sign-in or connection through a provider did not complete.
#[derive(Debug)]
pub enum SsoError {
    /// No provider has this alias.
    UnknownProvider,
    /// The callback's state does not match this browser's (tampered with, from another
    /// browser, already used, or too old).
    InvalidState,
    /// The provider sent the user back with an error (`access_denied` when the user
    /// cancelled); the error code.
    Denied(String),
    /// The provider could not be reached, or refused a back-channel call; what failed.
    Provider(String),
    /// The provider's answer failed a check (ID token signature, issuer, audience, expiry,
    /// nonce); which.
    Rejected(String),
    /// The verified email is an existing account's login ID and `account_linking` is
    /// `error`.
    LinkRefused,
    /// The provider account is connected to another user.
    ConnectedElsewhere,
    /// The provider account is new and signup is closed.
    SignupClosed,
    /// Promoting an anonymous user: the provider's verified email is another account's
    /// login ID (never linked silently; the promotion is refused).
    PromotionEmailTaken,
    /// Promoting an anonymous user who was promoted already (another tab finished first).
    AlreadyPromoted,
    /// Too many sign-ups from this network.
    RateLimited,
    /// The pending link is tampered with or expired, or the user who signed in is not the
    /// account to link; or the user who started a connection is no longer signed in.
    LinkExpired,
    /// The user may not sign in (disabled, deleting).
    Login(LoginError),
    /// The server failed.
    Server(Error),
}

impl From<Error> for SsoError {
    fn from(e: Error) -> Self {
        Self::Server(e)
    }
}

impl From<sea_orm::DbErr> for SsoError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Server(e.into())
    }
}

/// Sealed in a cookie while the browser is at the provider.
#[derive(Serialize, Deserialize)]
struct Started {
    alias: String,
    state: String,
    nonce: String,
    verifier: String,
    flow: String,
    iat: i64,
    /// The user connecting the account from the settings page; none for a sign-in.
    connect: Option<Uuid>,
    /// The anonymous user the authorization request promotes; the provider account is
    /// added to that user.
    #[serde(default)]
    promote: Option<Uuid>,
    /// A sign-in: the controls of its `authentication.pre_initialize` hook.
    #[serde(default)]
    ctl: SignInControls,
}

/// Sealed between a sign-in that found the email taken (`login_and_link`) and the sign-in
/// to that account: the provider account and the account it is for.
#[derive(Serialize, Deserialize)]
struct PendingLink {
    alias: String,
    email: String,
    provider: String,
    subject: String,
    details: Value,
    user: Uuid,
    iat: i64,
}

/// Where to send the browser, and the cookie that keeps the round trip's secrets.
#[derive(Debug, Clone)]
pub struct SsoStart {
    /// The provider's authorization URL.
    pub url: String,
    /// The sealed cookie value.
    pub cookie: String,
}

/// What the provider's callback carried.
#[derive(Debug, Clone, Default)]
pub struct SsoCallback {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`.
    pub error: Option<String>,
}

/// How a callback ended.
#[derive(Debug)]
pub enum SsoOutcome {
    /// Signed in (or signed up): the user, the session and the cookie value.
    SignedIn(Box<User>, IdpSession, String),
    /// A sign-in hook's `constraints.amr` asks for a second factor: the sign-in goes on
    /// there (or through its enrolment).
    Continue(Box<LoginOutcome>),
    /// The account was connected to the signed-in user (settings).
    Connected,
    /// `login_and_link`: the email belongs to an account; the user signs in to it with
    /// this sealed state, and the connection is added then.
    LinkRequired {
        /// The sealed pending link.
        pending: String,
        /// The email, to show on the login page.
        email: String,
        /// The provider's name.
        provider: String,
    },
}

/// A provider's button on the login page.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderButton {
    /// The alias.
    pub alias: String,
    /// The text.
    pub label: String,
}

/// Records `email` as a verified claim of `user_id` (the provider said so).
async fn insert_verified_email(
    conn: &impl sea_orm::ConnectionTrait,
    user_id: Uuid,
    email: &str,
    t: i64,
) -> Result<(), sea_orm::DbErr> {
    verified_claim::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        name: Set("email".to_owned()),
        value: Set(email.to_owned()),
        created_at: Set(t),
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn random() -> String {
    b64(random_bytes::<32>())
}

impl Account<'_> {
    /// The configured providers, for the login, signup and settings pages.
    pub fn sso_providers(&self) -> Vec<ProviderButton> {
        let p = &self.config.social_login.providers;
        p.iter().map(|p| ProviderButton { alias: p.alias.clone(), label: p.button() }).collect()
    }

    fn provider(&self, alias: &str) -> Result<&OAuthProviderConfig, SsoError> {
        self.config.social_login.provider(alias).ok_or(SsoError::UnknownProvider)
    }

    /// The callback URL to register at the provider for `alias`.
    pub fn sso_redirect_uri(&self, alias: &str) -> String {
        format!("{}/sso/oauth2/callback/{alias}", self.config.public_url())
    }

    /// Starts a sign-in (or, with `connect`, a connection for that user; with `promote`,
    /// the promotion of that anonymous user) through the provider `alias`: the provider's
    /// authorization URL and the sealed cookie. A sign-in runs its
    /// `authentication.pre_initialize` hook first.
    #[tracing::instrument(skip(self, flow, actor))]
    pub async fn sso_start(
        &self,
        alias: &str,
        flow: &str,
        connect: Option<UserId>,
        promote: Option<UserId>,
        actor: &Actor,
    ) -> Result<SsoStart, SsoError> {
        let p = self.provider(alias)?;
        let ctl = if connect.is_none() && promote.is_none() {
            self.sso_pre_initialize(actor).await?
        } else {
            SignInControls::default()
        };
        let e = upstream::endpoints(&self.http, &self.providers, p).await?;
        let started = Started {
            alias: alias.to_owned(),
            state: random(),
            nonce: random(),
            verifier: random(),
            flow: flow.to_owned(),
            iat: now().unix_timestamp(),
            connect: connect.map(|u| u.uuid()),
            promote: promote.map(|u| u.uuid()),
            ctl,
        };
        let url = upstream::authorization_url(
            p,
            &e,
            &self.sso_redirect_uri(alias),
            &started.state,
            &started.nonce,
            &started.verifier,
        )?;
        Ok(SsoStart { url, cookie: self.seal(STARTED_PURPOSE, &started) })
    }

    /// The authorization flow of a round trip cookie, if it is genuine (to return to the
    /// login page of the right request after an error).
    pub fn sso_flow(&self, cookie: Option<&str>) -> String {
        cookie.and_then(|c| self.unseal::<Started>(STARTED_PURPOSE, c)).map(|s| s.flow).unwrap_or_default()
    }

    /// The provider's callback: checks the state against this browser's cookie, exchanges
    /// the code, checks the ID token (or reads GitHub's or Facebook's API), then signs the
    /// user in, signs them up, connects the account, or asks to sign in first to link.
    #[tracing::instrument(skip_all, fields(alias = %alias))]
    pub async fn sso_callback(
        &self,
        alias: &str,
        cb: SsoCallback,
        cookie: Option<&str>,
        actor: &Actor,
        current: Option<&IdpSession>,
    ) -> Result<SsoOutcome, SsoError> {
        let p = self.provider(alias)?;
        let replaces = current.map(|s| s.id);
        let started = cookie.and_then(|c| self.unseal::<Started>(STARTED_PURPOSE, c)).ok_or(SsoError::InvalidState)?;
        let age = now().unix_timestamp() - started.iat;
        let state_ok = cb.state.as_deref().is_some_and(|s| ct_eq(s.as_bytes(), started.state.as_bytes()));
        if started.alias != alias || !state_ok || !(0..=LIFETIME_SECS).contains(&age) {
            return Err(SsoError::InvalidState);
        }
        if let Some(error) = cb.error {
            return Err(SsoError::Denied(error.chars().take(64).collect()));
        }
        let code = cb
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| SsoError::Provider(format!("{} sent no authorization code", p.kind.display_name())))?;
        let who = self.upstream_user(p, alias, &code, &started).await?;
        let key = format!("{alias}:{}", who.subject);
        let details = json!({
            "provider_type": p.kind.as_str(),
            "provider_alias": alias,
            "subject_id": who.subject,
            "profile": who.profile,
        });
        let existing = keyed_identity(&self.db.reader(), OAUTH, &key).await?;
        if let Some(connect) = started.connect {
            // Connected only for the user still signed in in this browser.
            if current.is_none_or(|s| s.user_id.uuid() != connect) {
                return Err(SsoError::LinkExpired);
            }
            return match existing {
                Some(i) if i.user_id == connect => Ok(SsoOutcome::Connected),
                Some(_) => Err(SsoError::ConnectedElsewhere),
                None => {
                    self.connect_identity(connect, &key, details, actor).await?;
                    Ok(SsoOutcome::Connected)
                }
            };
        }
        let t = now();
        if let Some(anonymous) = started.promote {
            if existing.is_some() {
                return Err(SsoError::ConnectedElsewhere);
            }
            let mut ctl = started.ctl;
            self.sso_new_account_hooks(FlowType::Promote, Some(anonymous), &mut ctl, actor).await?;
            let user = self.sso_promote(anonymous, &key, details, &who, actor).await?;
            return self.sso_session(user, &key, FlowType::Promote, ctl, &started.flow, actor, replaces, t).await;
        }
        if let Some(ident) = existing {
            let Some(user) = self.users().get(UserId::from(ident.user_id)).await? else {
                return Err(SsoError::InvalidState);
            };
            return self.sso_sign_in(user, &key, started.ctl, &started.flow, actor, replaces, t).await;
        }
        // A new provider account. A verified email that is an existing login ID links (or
        // is refused); an unverified one never does.
        let email = who.email.clone().filter(|_| who.email_verified);
        if let Some(email) = &email
            && let Ok(lookup) = LoginId::lookup_key(&self.config.login_id, "email", email)
            && let Some(owner) = self.users().user_ids_by_unique_keys(&[lookup]).await?.first().copied()
        {
            return match self.config.social_login.account_linking {
                AccountLinking::Error => Err(SsoError::LinkRefused),
                AccountLinking::LoginAndLink => {
                    let mut pending = PendingLink {
                        alias: alias.to_owned(),
                        email: email.clone(),
                        provider: p.kind.display_name().to_owned(),
                        subject: who.subject.clone(),
                        details,
                        user: owner.uuid(),
                        iat: t.unix_timestamp(),
                    };
                    let mut sealed = self.seal(LINK_PURPOSE, &pending);
                    if sealed.len() > MAX_LINK_COOKIE {
                        // A browser drops a cookie over 4 KB: keep the profile's main claims.
                        let keep = ["sub", "email", "email_verified", "name", "login", "oid", "tid"];
                        let profile = &mut pending.details["profile"];
                        if let Value::Object(m) = profile {
                            m.retain(|k, _| keep.contains(&k.as_str()));
                        }
                        sealed = self.seal(LINK_PURPOSE, &pending);
                    }
                    Ok(SsoOutcome::LinkRequired {
                        pending: sealed,
                        email: email.clone(),
                        provider: p.kind.display_name().to_owned(),
                    })
                }
            };
        }
        if !self.config.ui.signup_enabled {
            return Err(SsoError::SignupClosed);
        }
        if !self.allow_per_ip(PerIp::Signup, actor.ip.as_deref().unwrap_or("-"), actor).await? {
            return Err(SsoError::RateLimited);
        }
        let mut ctl = started.ctl;
        self.sso_new_account_hooks(FlowType::Signup, None, &mut ctl, actor).await?;
        let user = self.sso_signup(&key, details, email.as_deref(), actor).await?;
        self.sso_session(user, &key, FlowType::Signup, ctl, &started.flow, actor, replaces, t).await
    }

    /// Adds a new provider account to the anonymous user `anonymous` (a promotion): the
    /// `oauth` identity and the verified email, the anonymous identity removed,
    /// `user.anonymous.promoted`. A verified email that is another account's login ID
    /// refuses the promotion, whatever `account_linking` says.
    async fn sso_promote(
        &self,
        anonymous: Uuid,
        key: &str,
        details: Value,
        who: &upstream::UpstreamUser,
        actor: &Actor,
    ) -> Result<User, SsoError> {
        let email = who.email.clone().filter(|_| who.email_verified);
        if let Some(email) = &email
            && let Ok(lookup) = LoginId::lookup_key(&self.config.login_id, "email", email)
            && !self.users().user_ids_by_unique_keys(&[lookup]).await?.is_empty()
        {
            return Err(SsoError::PromotionEmailTaken);
        }
        if !self.config.ui.signup_enabled {
            return Err(SsoError::SignupClosed);
        }
        if !self.allow_per_ip(PerIp::Signup, actor.ip.as_deref().unwrap_or("-"), actor).await? {
            return Err(SsoError::RateLimited);
        }
        let at = now();
        let t = micros(at);
        self.write(async |tx| {
            let row = anonymous_row(tx, anonymous).await.map_err(|e| match e {
                Error::Conflict { .. } => SsoError::AlreadyPromoted,
                e => SsoError::Server(e),
            })?;
            let txn = tx.conn();
            insert_keyed(txn, OAUTH, row.id, key, details, t).await.map_err(|e| {
                match crate::service::store::direct_statements::sql_err(&e) {
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => SsoError::ConnectedElsewhere,
                    _ => SsoError::from(e),
                }
            })?;
            if let Some(email) = &email {
                insert_verified_email(txn, row.id, email, t).await?;
            }
            Ok(finish_promotion(tx, row, OAUTH, actor, at).await?)
        })
        .await
    }

    /// The code exchange, then who the provider says the user is: the checked ID token
    /// (completed from userinfo), or GitHub's or Facebook's API.
    async fn upstream_user(
        &self,
        p: &OAuthProviderConfig,
        alias: &str,
        code: &str,
        started: &Started,
    ) -> Result<upstream::UpstreamUser, SsoError> {
        let e = upstream::endpoints(&self.http, &self.providers, p).await?;
        let redirect_uri = self.sso_redirect_uri(alias);
        let tokens = upstream::exchange_code(&self.http, p, &e, code, &redirect_uri, &started.verifier).await?;
        let access = tokens.get("access_token").and_then(Value::as_str);
        let name = p.kind.display_name();
        if p.kind.is_oidc() {
            let id_token = tokens
                .get("id_token")
                .and_then(Value::as_str)
                .ok_or_else(|| SsoError::Rejected(format!("{name} returned no ID token")))?;
            let claims =
                upstream::verify_id_token(&self.http, &self.providers, p, &e, id_token, &started.nonce).await?;
            return upstream::oidc_user(&self.http, p, &e, claims, access).await;
        }
        let access = access.ok_or_else(|| SsoError::Provider(format!("{name} returned no access token")))?;
        if p.kind == crate::config::ProviderType::Github {
            upstream::github_user(&self.http, p, &e, access).await
        } else {
            upstream::facebook_user(&self.http, p, &e, access).await
        }
    }

    /// The email and the provider's name of a pending link, if it is genuine and recent
    /// (to show the login page's notice again after a wrong password).
    pub fn sso_pending_link(&self, pending: &str) -> Option<(String, String)> {
        self.unseal::<PendingLink>(LINK_PURPOSE, pending)
            .filter(|l| (0..=LIFETIME_SECS).contains(&(now().unix_timestamp() - l.iat)))
            .map(|l| (l.email, l.provider))
    }

    /// `login_and_link`, after the user signed in to the account the email belongs to:
    /// adds the connection. Refused when the pending link is not genuine or too old, or
    /// `user_id` is another account.
    pub async fn sso_link_after_login(&self, pending: &str, user_id: UserId, actor: &Actor) -> Result<(), SsoError> {
        let link = self.unseal::<PendingLink>(LINK_PURPOSE, pending).ok_or(SsoError::LinkExpired)?;
        let age = now().unix_timestamp() - link.iat;
        if link.user != user_id.uuid() || !(0..=LIFETIME_SECS).contains(&age) {
            return Err(SsoError::LinkExpired);
        }
        let key = format!("{}:{}", link.alias, link.subject);
        match keyed_identity(&self.db.reader(), OAUTH, &key).await? {
            Some(i) if i.user_id == link.user => Ok(()),
            Some(_) => Err(SsoError::ConnectedElsewhere),
            None => self.connect_identity(user_id.uuid(), &key, link.details, actor).await,
        }
    }

    /// Adds an `oauth` identity to a user; writes `identity.oauth.connected`.
    async fn connect_identity(&self, user_id: Uuid, key: &str, details: Value, actor: &Actor) -> Result<(), SsoError> {
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id).await?;
            let ident = insert_keyed(txn, OAUTH, user_id, key, details, t).await.map_err(|e| {
                match crate::service::store::direct_statements::sql_err(&e) {
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => SsoError::ConnectedElsewhere,
                    _ => SsoError::from(e),
                }
            })?;
            let row = refresh_derived(txn, row).await?;
            let ident = Identity::from(ident);
            let audit = Audit { actor: actor.clone(), activity: "identity.oauth.connected".into() };
            tx.record(&audit, Some(row.id), json!({"identity": ident.claims(), "identity_id": ident.id})).await?;
            Ok(())
        })
        .await
    }

    /// A new user from a provider account: the `oauth` identity and, when the provider
    /// marks the email verified, the email as a verified standard attribute (no login ID:
    /// as in Authgear, the email comes from the identity). Writes `user.created`.
    async fn sso_signup(
        &self,
        key: &str,
        details: Value,
        email: Option<&str>,
        actor: &Actor,
    ) -> Result<User, SsoError> {
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let row = new_user_row(t, false).insert(txn).await?;
            insert_keyed(txn, OAUTH, row.id, key, details, t).await.map_err(|e| {
                match crate::service::store::direct_statements::sql_err(&e) {
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => SsoError::ConnectedElsewhere,
                    _ => SsoError::from(e),
                }
            })?;
            if let Some(email) = email {
                insert_verified_email(txn, row.id, email, t).await?;
            }
            let row = refresh_derived(txn, row).await?;
            let row = self.pre_create_hook(txn, row, actor).await?;
            let audit = Audit { actor: actor.clone(), activity: "user.created".into() };
            tx.record(&audit, Some(row.id), json!({"user": snapshot(&row), "identity_type": OAUTH})).await?;
            Ok(User::from(row))
        })
        .await
    }

    /// Removes one of the user's `oauth` identities (settings); never the last identity.
    /// Writes `identity.oauth.disconnected`.
    pub async fn sso_disconnect(&self, user_id: UserId, identity_id: IdentityId, actor: &Actor) -> Result<(), Error> {
        let mine = self.sso_connections(user_id).await?;
        if !mine.iter().any(|i| i.id == identity_id) {
            return Err(Error::not_found(crate::domain::reason::IDENTITY_NOT_FOUND, "no such connected account"));
        }
        let audit = Audit { actor: actor.clone(), activity: "identity.oauth.disconnected".into() };
        self.identities().delete(&audit, identity_id).await?;
        Ok(())
    }

    /// The user's connected provider accounts (`oauth` identities).
    pub async fn sso_connections(&self, user_id: UserId) -> Result<Vec<Identity>, Error> {
        let mut all = self.lookups().identities_by_user_ids(&[user_id]).await?;
        Ok(all.remove(&user_id).unwrap_or_default().into_iter().filter(|i| i.kind == OAUTH).collect())
    }
}
