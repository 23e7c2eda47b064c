//! Anonymous users for web apps, as Authgear's web SDK makes them: a browser cannot keep a
//! device key, so `POST /api/anonymous_user/signup` creates an anonymous user without one
//! and signs it in either with the IdP session cookie (`session_type: cookie`, the web
//! app's first-party browser session) or with a refresh-token grant (`refresh_token`).
//! `POST /api/anonymous_user/promotion_code` gives the signed-in anonymous user a
//! single-use code, valid five minutes, that an authorization request redeems with
//! `login_hint=https://authgear.com/login_hint?type=anonymous&promotion_code=…` to promote
//! the user as the device-key `jwt=` form does.
//!
//! A promotion code is sealed (nothing is stored until it is used): who it promotes, the
//! client of the refresh token it came from, and when it was issued. Its single use is a
//! row in `consumed_challenges`, as for the device-key challenges.

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::ids::{TypedId, UserId};
use crate::service::account::login::IdpSession;
use crate::service::account::rate_limit::PerIp;
use crate::service::admin::applications::Application;
use crate::service::admin::identities::{ANONYMOUS, insert_keyless_anonymous};
use crate::service::admin::user_rows::{new_user_row, snapshot};
use crate::service::admin::users::User;
use crate::service::oauth::authorize::FULL_ACCESS;
use crate::service::oauth::device_grant::{DeviceGrantTokens, DeviceSignIn};
use crate::service::oauth::error::OAuthError;
use crate::service::oauth::refresh_token::live;
use crate::service::store::time::{micros, now, strings};
use crate::service::unit_of_work::Tx;
use crate::service::{Actor, Audit, Error, OAuth};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait};

/// What a promotion code is sealed for, so that no other sealed value passes as one.
pub const PROMOTION_CODE_PURPOSE: &str = "anonymous-promotion-code";
/// How long a promotion code lives (Authgear's `duration.Short`).
pub const PROMOTION_CODE_LIFETIME_SECS: i64 = 5 * 60;

/// A promotion code's sealed content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromotionCode {
    /// Random: what its single use is recorded by.
    pub id: String,
    /// The anonymous user it promotes.
    pub user: Uuid,
    /// The client whose refresh token asked for it, if one did: only that client's
    /// authorization requests redeem it.
    pub client_id: Option<String>,
    /// When it was issued (Unix seconds).
    pub iat: i64,
}

/// `session_type` of the web SDK's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebSessionType {
    /// The browser's IdP session cookie.
    Cookie,
    /// A refresh-token grant kept by the web app.
    RefreshToken,
}

impl WebSessionType {
    /// `cookie` or `refresh_token`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cookie" => Some(Self::Cookie),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }
}

/// Why a web anonymous request was refused, as Authgear's API errors name it.
#[derive(Debug)]
pub enum AnonymousApiError {
    /// HTTP 400, `Invalid` with this reason and message.
    Invalid(&'static str, String),
    /// HTTP 401 `Unauthorized`: no signed-in user.
    Unauthenticated(String),
    /// HTTP 403 `Forbidden`: the token may not do this.
    Forbidden(String),
    /// HTTP 429 `TooManyRequest`.
    RateLimited(String),
    /// The server failed.
    Server(Error),
}

impl From<Error> for AnonymousApiError {
    fn from(e: Error) -> Self {
        Self::Server(e)
    }
}

impl From<sea_orm::DbErr> for AnonymousApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Server(e.into())
    }
}

impl From<OAuthError> for AnonymousApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Server(e) => Self::Server(e),
            OAuthError::TooManyRequests(d) => Self::RateLimited(d),
            other => Self::Invalid("InvalidGrant", other.description()),
        }
    }
}

/// What a web anonymous signup answers.
#[derive(Debug)]
pub enum WebSignup {
    /// Cookie sessions: the new IdP session's cookie value, or none when the browser is
    /// already signed in as an anonymous user (who stays signed in).
    Cookie(Option<String>),
    /// Refresh-token sessions: the tokens (a refresh token given in the request is
    /// answered with a new access token for it, not rotated).
    Tokens(DeviceGrantTokens),
}

/// A promotion code as the web SDK receives it.
#[derive(Debug, Clone)]
pub struct IssuedPromotionCode {
    /// The code for the `login_hint`.
    pub code: String,
    /// When it expires.
    pub expire_at: OffsetDateTime,
}

/// Who asks for a promotion code.
#[derive(Debug, Clone, Copy)]
pub enum PromotionCaller<'a> {
    /// The browser's IdP session.
    Session(&'a IdpSession),
    /// A refresh token (`session_type: refresh_token`).
    RefreshToken(&'a str),
    /// An access token (`Authorization: Bearer`).
    AccessToken(&'a str),
    /// Nobody signed in.
    Nobody,
}

fn logged_in_as_normal_user() -> AnonymousApiError {
    AnonymousApiError::Invalid("LoggedInAsNormalUser", "user logged in as normal user".into())
}

/// The single-use record of a promotion code.
fn code_digest(id: &str) -> Vec<u8> {
    sha256(format!("{PROMOTION_CODE_PURPOSE}:{id}")).to_vec()
}

impl OAuth<'_> {
    /// The client of a web anonymous request: it must exist and be of a type that may have
    /// anonymous users, and anonymous users must be on.
    async fn anonymous_web_client(&self, client_id: &str) -> Result<Application, AnonymousApiError> {
        if !self.config.anonymous.enabled {
            return Err(AnonymousApiError::Invalid(
                "AnonymousUserDisallowed",
                "anonymous users are disabled (anonymous.enabled is off)".into(),
            ));
        }
        let app = self.applications().cached(client_id).await?.ok_or_else(|| {
            AnonymousApiError::Invalid("InvalidClient", format!("no application has the client ID “{client_id}”"))
        })?;
        if !app.kind.allows_anonymous_users() {
            return Err(AnonymousApiError::Invalid(
                "UnauthorizedClient",
                format!(
                    "anonymous users are not supported by a {} application; use a SPA, native or traditional web application",
                    app.kind.as_str()
                ),
            ));
        }
        Ok(app)
    }

    /// `POST /api/anonymous_user/signup`: a new anonymous user without a key for `client_id`,
    /// signed in by `session_type`. A browser already signed in as an anonymous user (cookie)
    /// or a refresh token of an anonymous user keeps that user; a normal user is refused.
    /// A new user counts against `rate_limits.anonymous_signups_per_ip_per_minute` and is
    /// audited as the anonymous-request grant audits it (`user.created`,
    /// `user.authenticated`).
    #[tracing::instrument(skip_all, fields(client_id = %client_id))]
    pub async fn anonymous_web_signup(
        &self,
        client_id: &str,
        session_type: WebSessionType,
        refresh_token: Option<&str>,
        current: Option<&IdpSession>,
        actor: &Actor,
    ) -> Result<WebSignup, AnonymousApiError> {
        let app = self.anonymous_web_client(client_id).await?;
        match session_type {
            WebSessionType::Cookie => {
                if let Some(s) = current {
                    match self.users().get(s.user_id).await? {
                        Some(u) if u.is_anonymous => return Ok(WebSignup::Cookie(None)),
                        Some(_) => return Err(logged_in_as_normal_user()),
                        None => {}
                    }
                }
                self.check_anonymous_signup_rate(actor).await?;
                let t = now();
                let replaces = current.map(|s| s.id);
                let token = self
                    .write(async |tx| {
                        let user = new_web_anonymous_user(tx, actor, t).await?;
                        let (_, token, _) = self.account().open_idp_session(tx, &user, actor, replaces, t, &[]).await?;
                        Ok::<_, AnonymousApiError>(token)
                    })
                    .await?;
                Ok(WebSignup::Cookie(Some(token)))
            }
            WebSessionType::RefreshToken => {
                if let Some(rt) = refresh_token {
                    return self.anonymous_access_token(&app, rt).await.map(WebSignup::Tokens);
                }
                self.check_anonymous_signup_rate(actor).await?;
                let t = now();
                let scopes: Vec<String> = ["openid", "offline_access", FULL_ACCESS].map(str::to_owned).to_vec();
                let sign_in = DeviceSignIn {
                    app: &app,
                    scopes: &scopes,
                    amr: &[],
                    identity_type: ANONYMOUS,
                    device_info: None,
                    replaces_grants_of: None,
                    at: t,
                };
                let (user, sid) = self
                    .write(async |tx| {
                        let user = new_web_anonymous_user(tx, actor, t).await?;
                        let sid = sign_in.open_grant(tx, &user, actor).await?;
                        Ok::<_, AnonymousApiError>((user, sid))
                    })
                    .await?;
                Ok(WebSignup::Tokens(self.device_grant_tokens(&sign_in, &user, sid).await?))
            }
        }
    }

    async fn check_anonymous_signup_rate(&self, actor: &Actor) -> Result<(), AnonymousApiError> {
        let ip = actor.ip.as_deref().unwrap_or("-");
        if !self.account().allow_per_ip(PerIp::AnonymousSignup, ip, actor).await? {
            return Err(AnonymousApiError::RateLimited(
                "too many new anonymous users from this address; try again in a minute".into(),
            ));
        }
        Ok(())
    }

    /// A new access token for the anonymous user of refresh token `rt` of `app` (the
    /// token is not rotated, as in Authgear).
    async fn anonymous_access_token(
        &self,
        app: &Application,
        rt: &str,
    ) -> Result<DeviceGrantTokens, AnonymousApiError> {
        let invalid = || AnonymousApiError::Invalid("InvalidGrant", "invalid refresh token".into());
        let t = micros(now());
        let ((sess, user_row, _), current) = self.grant_of_refresh_token(rt).await?.ok_or_else(invalid)?;
        if sess.client_id.as_deref() != Some(app.client_id.as_str()) || !current || !live(&sess, app, t) {
            return Err(invalid());
        }
        let user = User::from(user_row);
        if !user.is_anonymous {
            return Err(logged_in_as_normal_user());
        }
        if user.is_disabled_at(now()) || user.is_deactivated {
            return Err(AnonymousApiError::Invalid("InvalidGrant", "the user is disabled".into()));
        }
        let scopes = strings(&sess.scopes);
        let access = self.user_access_token(&user, app, sess.id, sess.auth_time, &scopes).await?;
        Ok(DeviceGrantTokens {
            access_token: access,
            refresh_token: rt.to_owned(),
            id_token: None,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
    }

    /// `POST /api/anonymous_user/promotion_code`: a single-use code, valid five minutes,
    /// that promotes the signed-in anonymous user through the authorization endpoint.
    pub async fn anonymous_promotion_code(
        &self,
        caller: PromotionCaller<'_>,
    ) -> Result<IssuedPromotionCode, AnonymousApiError> {
        let (user_id, client_id) = match caller {
            PromotionCaller::Nobody => {
                return Err(AnonymousApiError::Unauthenticated("authentication required".into()));
            }
            PromotionCaller::Session(s) => (s.user_id, None),
            PromotionCaller::AccessToken(token) => {
                let (user, scopes) = self
                    .bearer_user(token)
                    .await
                    .map_err(|_| AnonymousApiError::Unauthenticated("authentication required".into()))?;
                if !scopes.iter().any(|s| s == FULL_ACCESS) {
                    return Err(AnonymousApiError::Forbidden(
                        "the client is not authorized to have full user access".into(),
                    ));
                }
                (user.id, None)
            }
            PromotionCaller::RefreshToken(rt) => {
                let t = micros(now());
                let forbidden = |why: &str| AnonymousApiError::Forbidden(why.to_owned());
                let ((sess, _, _), current) =
                    self.grant_of_refresh_token(rt).await?.ok_or_else(|| forbidden("invalid refresh token"))?;
                let Some(cid) = sess.client_id.clone() else { return Err(forbidden("invalid refresh token")) };
                let app = self.applications().cached(&cid).await?.ok_or_else(|| forbidden("invalid refresh token"))?;
                if !current || !live(&sess, &app, t) {
                    return Err(forbidden("invalid refresh token"));
                }
                if !strings(&sess.scopes).iter().any(|s| s == FULL_ACCESS) {
                    return Err(forbidden("the client is not authorized to have full user access"));
                }
                (UserId::from(sess.user_id), Some(cid))
            }
        };
        match self.users().get(user_id).await? {
            Some(u) if u.is_anonymous && !u.is_disabled_at(now()) && !u.is_deactivated => {}
            Some(u) if !u.is_anonymous => return Err(logged_in_as_normal_user()),
            _ => return Err(AnonymousApiError::Unauthenticated("authentication required".into())),
        }
        let t = now();
        let code =
            PromotionCode { id: b64(random_bytes::<16>()), user: user_id.uuid(), client_id, iat: t.unix_timestamp() };
        Ok(IssuedPromotionCode {
            code: self.seal(PROMOTION_CODE_PURPOSE, &code),
            expire_at: t + time::Duration::seconds(PROMOTION_CODE_LIFETIME_SECS),
        })
    }

    /// Redeems a promotion code at the authorization endpoint of `app`: the anonymous user it
    /// promotes. The code is used up here. Errors are sentences for the error page.
    pub(in crate::service) async fn redeem_promotion_code(
        &self,
        app: &Application,
        code: &str,
    ) -> Result<UserId, String> {
        if !self.config.anonymous.enabled || !app.kind.allows_anonymous_users() {
            return Err("This application may not promote anonymous users.".into());
        }
        let foreign = "This promotion link is not valid here: it was not issued by this server for this application. Go back to the application and try again.";
        let Some(c) = self.unseal::<PromotionCode>(PROMOTION_CODE_PURPOSE, code) else { return Err(foreign.into()) };
        if c.client_id.as_ref().is_some_and(|cid| *cid != app.client_id) {
            return Err(foreign.into());
        }
        let age = now().unix_timestamp() - c.iat;
        if !(0..=PROMOTION_CODE_LIFETIME_SECS).contains(&age) {
            return Err("This promotion link has expired (it is valid for 5 minutes). Go back to the application and try again.".into());
        }
        let user = UserId::from(c.user);
        let server = |e: Error| {
            tracing::error!(cause = %e.describe(), "redeeming a promotion code failed");
            "The server failed; try again.".to_owned()
        };
        match self.users().get(user).await.map_err(server)? {
            Some(u) if u.is_anonymous && !u.is_disabled_at(now()) && !u.is_deactivated => {}
            Some(u) if !u.is_anonymous => {
                return Err("This account was promoted already. Sign in to it instead.".into());
            }
            _ => return Err("The guest account of this promotion link no longer exists or is disabled.".into()),
        }
        let expires = (c.iat + PROMOTION_CODE_LIFETIME_SECS).saturating_mul(1_000_000);
        let fresh =
            self.write_unaudited(async |tx| consume_code(tx.conn(), &c.id, expires).await).await.map_err(server)?;
        if !fresh {
            return Err("This promotion link was already used. Go back to the application and try again.".into());
        }
        Ok(user)
    }
}

/// A new anonymous user without a key, in `tx`, audited as `user.created`.
async fn new_web_anonymous_user(tx: &Tx, actor: &Actor, t: OffsetDateTime) -> Result<User, Error> {
    let txn = tx.conn();
    let tm = micros(t);
    let row = new_user_row(tm, true).insert(txn).await?;
    insert_keyless_anonymous(txn, row.id, tm).await?;
    let audit = Audit { actor: actor.clone(), activity: "user.created".into() };
    tx.record_at(&audit, Some(row.id), json!({"user": snapshot(&row), "identity_type": ANONYMOUS}), t).await?;
    Ok(User::from(row))
}

/// Records the promotion code `id` as used; `false` if it was used before.
async fn consume_code(conn: &impl ConnectionTrait, id: &str, expires_at: i64) -> Result<bool, Error> {
    let stmt = Query::insert()
        .into_table("consumed_challenges")
        .columns(["digest", "purpose", "expires_at"])
        .values([code_digest(id).into(), "anonymous_promotion".into(), expires_at.into()])
        .map_err(Error::internal)?
        .on_conflict(OnConflict::column("digest").do_nothing().to_owned())
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() == 1)
}
