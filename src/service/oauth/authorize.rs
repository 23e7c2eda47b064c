//! The authorization endpoint's logic: validating a request, deciding the next step
//! (log in, choose the account, consent, or issue a code) and issuing codes.

use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::ids::{TypedId, UserId};
use crate::domain::oauth::{AppType, redirect_uri_matches};
use crate::domain::text::quoted;
use crate::service::OAuth;
use crate::service::account::login::IdpSession;
use crate::service::oauth::error::OAuthError;
use crate::service::oauth::promotion::PromotionHint;
use crate::service::store::built_once::BuiltOnce;
use crate::service::store::time::{micros, now, strings};
use crate::service::{Actor, Audit, Result};
use entity::{authorization, authorization_code};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Authgear's first-party scope: the SDKs ask for it; it grants the user's full profile.
pub const FULL_ACCESS: &str = "https://authgear.com/scopes/full-access";

/// Authgear's scope for every user claim in userinfo.
pub const FULL_USERINFO: &str = "https://authgear.com/scopes/full-userinfo";

/// Scopes an authorization request may ask for.
pub const USER_SCOPES: [&str; 6] = ["openid", "profile", "email", "phone", "address", "offline_access"];

/// How long a code can be exchanged.
const CODE_LIFETIME_US: i64 = 300 * 1_000_000;

/// How long a pending authorization request (login page) stays usable.
pub const REQUEST_LIFETIME_US: i64 = 3600 * 1_000_000;

/// The raw parameters of an authorization request (after the repeated-parameter check).
#[derive(Debug, Default, Clone)]
pub struct AuthorizeParams {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `response_type`.
    pub response_type: Option<String>,
    /// `response_mode`.
    pub response_mode: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age`.
    pub max_age: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `id_token_hint`.
    pub id_token_hint: Option<String>,
    /// `ui_locales`.
    pub ui_locales: Option<String>,
    /// `request` (a request object; not supported).
    pub request: Option<String>,
    /// `request_uri` (not supported).
    pub request_uri: Option<String>,
    /// Authgear's `x_page`: `signup` opens the signup page instead of the login page.
    pub x_page: Option<String>,
}

/// A validated authorization request, carried sealed through the login pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    /// Client.
    pub client_id: String,
    /// Where the response goes (exactly one of the client's registered URIs).
    pub redirect_uri: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `true` for `form_post`.
    pub form_post: bool,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// The `sub` of a valid `id_token_hint`.
    pub hint_sub: Option<String>,
    /// `ui_locales`.
    pub ui_locales: Option<String>,
    /// Start at the signup page (Authgear's `x_page=signup`).
    #[serde(default)]
    pub signup_first: bool,
    /// When the request arrived (UTC micros).
    pub iat: i64,
    /// The user who chose to continue on the select-account page. Bound to the user, so
    /// that a sealed request passed from one browser to another proves nothing.
    pub account_chosen_by: Option<UserId>,
    /// The user who consented on the consent page (bound for the same reason).
    pub consented_by: Option<UserId>,
    /// The anonymous user this request promotes (a promotion `login_hint` that verified):
    /// the signup page adds the new login ID to this user instead of creating one.
    #[serde(default)]
    pub promote: Option<UserId>,
}

impl AuthRequest {
    /// The request needs a login that happened after it arrived (`prompt=login`, `max_age=0`).
    pub fn forces_login(&self) -> bool {
        self.prompt.iter().any(|p| p == "login") || self.max_age == Some(0)
    }

    fn has_prompt(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }
}

/// A request that cannot be answered by redirecting: unknown client or redirect URI.
/// The browser gets an error page.
#[derive(Debug)]
pub struct PageError(pub String);

/// An error to send back to the client's redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug)]
pub struct RedirectError {
    /// `error` code.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

fn rerr(error: &'static str, description: impl Into<String>) -> RedirectError {
    RedirectError { error, description: description.into() }
}

/// What the browser must do next.
#[derive(Debug)]
pub enum Next {
    /// Show the login page.
    Login,
    /// Show who is logged in and ask whether to continue.
    SelectAccount,
    /// Ask the user to consent to the requested scopes of a third-party application.
    Consent,
    /// Redirect to the client with a code (or with this error).
    Respond(std::result::Result<String, RedirectError>),
    /// Show this error page; the request can no longer be answered.
    Invalid(String),
}

/// Why [`Services::validate_authorize`] failed.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Show an error page; never redirect.
    Page(PageError),
    /// Redirect this error to the (verified) redirect URI.
    Redirect(RedirectError, Box<AuthRequest>),
    /// The server failed.
    Server(crate::service::Error),
}

impl From<crate::service::Error> for AuthorizeError {
    fn from(e: crate::service::Error) -> Self {
        Self::Server(e)
    }
}

fn page(msg: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page(PageError(msg.into()))
}

fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl OAuth<'_> {
    /// Validates an authorization request. The client and redirect URI are checked first:
    /// until both are known good, errors are shown as a page and never redirected.
    pub async fn validate_authorize(&self, p: AuthorizeParams) -> std::result::Result<AuthRequest, AuthorizeError> {
        let client_id = p.client_id.ok_or_else(|| page("The request has no client_id."))?;
        let app = self
            .applications()
            .cached(&client_id)
            .await?
            .ok_or_else(|| page(format!("No application has the client ID “{client_id}”.")))?;
        if app.kind == AppType::M2m {
            return Err(page("This application is a machine-to-machine client and cannot log users in."));
        }
        let redirect_uri = p.redirect_uri.ok_or_else(|| page("The request has no redirect_uri."))?;
        if !redirect_uri_matches(app.kind, &app.redirect_uris, &redirect_uri) {
            return Err(page(format!(
                "The redirect URI “{redirect_uri}” is not registered for this application. \
                 Its developer must add it to the application's redirect URIs."
            )));
        }
        let mut req = AuthRequest {
            client_id,
            redirect_uri,
            scopes: Vec::new(),
            state: p.state,
            nonce: p.nonce,
            code_challenge: None,
            form_post: false,
            prompt: Vec::new(),
            max_age: None,
            login_hint: p.login_hint,
            hint_sub: None,
            ui_locales: p.ui_locales,
            signup_first: p.x_page.as_deref() == Some("signup"),
            iat: micros(now()),
            account_chosen_by: None,
            consented_by: None,
            promote: None,
        };
        let fail = |e: RedirectError, req: &AuthRequest| Err(AuthorizeError::Redirect(e, Box::new(req.clone())));
        match p.response_mode.as_deref() {
            None | Some("query") => {}
            Some("form_post") => req.form_post = true,
            Some(other) => {
                return fail(
                    rerr("invalid_request", format!("response_mode {} is not supported", quoted(other))),
                    &req,
                );
            }
        }
        match p.response_type.as_deref() {
            Some("code") => {}
            None => return fail(rerr("invalid_request", "response_type is required"), &req),
            Some(other) => {
                return fail(
                    rerr(
                        "unsupported_response_type",
                        format!("response_type {} is not supported; use code", quoted(other)),
                    ),
                    &req,
                );
            }
        }
        if p.request.is_some() {
            return fail(rerr("request_not_supported", "request objects are not supported"), &req);
        }
        if p.request_uri.is_some() {
            return fail(rerr("request_uri_not_supported", "request_uri is not supported"), &req);
        }
        if !app.grant_types.iter().any(|g| g == "authorization_code") {
            return fail(rerr("unauthorized_client", "this client may not use the authorization code flow"), &req);
        }
        // Scopes.
        let first_party = app.kind != AppType::ThirdPartyApp;
        let mut scopes: Vec<String> = Vec::new();
        for s in p.scope.as_deref().unwrap_or("").split_ascii_whitespace() {
            let known = USER_SCOPES.contains(&s) || (first_party && (s == FULL_ACCESS || s == FULL_USERINFO));
            if !known {
                return fail(rerr("invalid_scope", format!("the scope {} is not supported", quoted(s))), &req);
            }
            if s == "offline_access" && !app.grant_types.iter().any(|g| g == "refresh_token") {
                continue;
            }
            if !scopes.iter().any(|x| x == s) {
                scopes.push(s.to_owned());
            }
        }
        if !scopes.iter().any(|s| s == "openid") {
            return fail(rerr("invalid_scope", "the scope must include openid"), &req);
        }
        req.scopes = scopes;
        // PKCE.
        match (p.code_challenge, p.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) if is_pkce_value(&c) && c.len() == 43 => req.code_challenge = Some(c),
            (Some(_), Some("S256")) => {
                return fail(rerr("invalid_request", "code_challenge must be 43 base64url characters"), &req);
            }
            (Some(_), None | Some("plain")) => {
                return fail(rerr("invalid_request", "code_challenge_method must be S256; plain is refused"), &req);
            }
            (Some(_), Some(m)) => {
                return fail(
                    rerr("invalid_request", format!("code_challenge_method {} is not supported", quoted(m))),
                    &req,
                );
            }
            (None, Some(_)) => {
                return fail(rerr("invalid_request", "code_challenge_method without code_challenge"), &req);
            }
            (None, None) if !app.kind.has_secret() => {
                return fail(rerr("invalid_request", "public clients must use PKCE (code_challenge with S256)"), &req);
            }
            (None, None) => {}
        }
        // Prompt and max_age.
        let prompt: Vec<String> =
            p.prompt.as_deref().unwrap_or("").split_ascii_whitespace().map(str::to_owned).collect();
        for v in &prompt {
            if !["none", "login", "consent", "select_account"].contains(&v.as_str()) {
                return fail(rerr("invalid_request", format!("prompt {} is not supported", quoted(v))), &req);
            }
        }
        if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
            return fail(rerr("invalid_request", "prompt=none cannot be combined with other values"), &req);
        }
        req.prompt = prompt;
        if let Some(m) = p.max_age {
            match m.parse::<i64>() {
                Ok(v) if v >= 0 => req.max_age = Some(v),
                _ => return fail(rerr("invalid_request", "max_age must be a non-negative integer"), &req),
            }
        }
        if let Some(hint) = p.id_token_hint {
            match self.id_token_hint_subject(&hint).await {
                Some(sub) => req.hint_sub = Some(sub),
                None => {
                    return fail(rerr("invalid_request", "id_token_hint is not an ID token this server issued"), &req);
                }
            }
        }
        if let Some(hint) = req.login_hint.as_deref().and_then(crate::service::oauth::promotion::promotion_hint) {
            // Authgear's promotion of an anonymous user: the signup page adds to that user.
            req.login_hint = None;
            if req.has_prompt("none") {
                return fail(
                    rerr("invalid_request", "a promotion shows the signup page; prompt=none cannot ask for it"),
                    &req,
                );
            }
            let target = match hint {
                PromotionHint::Code(code) => self.redeem_promotion_code(&app, &code).await.map_err(page)?,
                PromotionHint::Jwt(jwt) => match self.promotion_target(&app, &jwt).await {
                    Ok(user) => user,
                    Err(OAuthError::Server(e)) => return Err(e.into()),
                    // The authorization endpoint's codes (RFC 6749 §4.1.2.1) have no
                    // invalid_grant: a JWT or challenge that does not pass is invalid_request.
                    Err(OAuthError::UnauthorizedClient(why)) => {
                        return fail(rerr("unauthorized_client", why), &req);
                    }
                    Err(e) => {
                        let why = format!("the anonymous user cannot be promoted: {}", e.description());
                        return fail(rerr("invalid_request", why), &req);
                    }
                },
            };
            req.promote = Some(target);
            req.signup_first = true;
            // The browser may be signed in as the anonymous user (a web app's cookie
            // session): the promotion always shows its page.
            if !req.has_prompt("login") {
                req.prompt.push("login".into());
            }
        }
        Ok(req)
    }

    /// Decides the next step of a validated request for the browser's session.
    pub async fn authorize_next(&self, req: &AuthRequest, sess: Option<&IdpSession>) -> Result<Next> {
        let none = req.has_prompt("none");
        let t = micros(now());
        let user = match sess {
            Some(s) => {
                let user = match &s.user {
                    Some(u) => Some((**u).clone()),
                    None => self.users().get(s.user_id).await?,
                };
                user.filter(|u| !u.is_disabled_at(now()) && !u.is_deactivated)
            }
            None => None,
        };
        let (Some(s), Some(user)) = (sess, user) else {
            return Ok(if none {
                Next::Respond(Err(rerr("login_required", "the user is not logged in")))
            } else {
                Next::Login
            });
        };
        // A login during this request satisfies prompt=login, max_age and the hint.
        let fresh = s.auth_time >= req.iat;
        let not_hinted = req.hint_sub.as_ref().is_some_and(|sub| *sub != s.user_id.to_string());
        if not_hinted && fresh {
            // Someone else logged in during the request: the client asked for one user.
            let why = "the user who logged in is not the one id_token_hint names";
            return Ok(Next::Respond(Err(rerr("login_required", why))));
        }
        let stale = !fresh
            && (req.forces_login()
                || req.max_age.is_some_and(|m| t - s.auth_time > m.saturating_mul(1_000_000))
                || not_hinted);
        if stale {
            let why = if not_hinted {
                "the logged-in user is not the one id_token_hint names"
            } else {
                "the user must log in again"
            };
            return Ok(if none { Next::Respond(Err(rerr("login_required", why))) } else { Next::Login });
        }
        // The request may be an hour old: the client must still exist and still have
        // the redirect URI it was validated against.
        let Some(app) = self
            .applications()
            .cached(&req.client_id)
            .await?
            .filter(|a| redirect_uri_matches(a.kind, &a.redirect_uris, &req.redirect_uri))
        else {
            return Ok(Next::Invalid(
                "The application changed while you were signing in. Go back to it and start again.".into(),
            ));
        };
        if req.has_prompt("select_account") && req.account_chosen_by != Some(s.user_id) && !fresh {
            return Ok(Next::SelectAccount);
        }
        if app.kind == AppType::ThirdPartyApp
            && req.consented_by != Some(user.id)
            && (req.has_prompt("consent") || !self.has_consent(user.id, &req.client_id, &req.scopes).await?)
        {
            return Ok(if none {
                Next::Respond(Err(rerr("consent_required", "the user has not consented to this application")))
            } else {
                Next::Consent
            });
        }
        Ok(Next::Respond(Ok(self.issue_code(req, s).await?)))
    }

    /// Stores a one-time code for this request and session; returns the code.
    async fn issue_code(&self, req: &AuthRequest, s: &IdpSession) -> Result<String> {
        let code = b64(random_bytes::<32>());
        let t = micros(now());
        let row = authorization_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            code_hash: Set(sha256(code.as_bytes()).to_vec()),
            client_id: Set(req.client_id.clone()),
            user_id: Set(s.user_id.uuid()),
            idp_session_id: Set(s.id.uuid()),
            redirect_uri: Set(req.redirect_uri.clone()),
            scopes: Set(json!(req.scopes)),
            nonce: Set(req.nonce.clone()),
            code_challenge: Set(req.code_challenge.clone()),
            auth_time: Set(s.auth_time),
            amr: Set(json!(s.amr)),
            created_at: Set(t),
            expires_at: Set(t + CODE_LIFETIME_US),
            used_at: Set(None),
            issued_session_id: Set(None),
            issued_jti: Set(None),
        };
        static TEXT: BuiltOnce = BuiltOnce::new();
        let writer = self.db.writer().await?;
        writer.execute_raw(TEXT.insert(writer.get_database_backend(), row)).await?;
        Ok(code)
    }

    /// Whether the user already consented to every one of `scopes` for this client.
    pub async fn has_consent(&self, user_id: UserId, client_id: &str, scopes: &[String]) -> Result<bool> {
        let row = authorization::Entity::find()
            .filter(Expr::col(authorization::Column::UserId).eq(user_id))
            .filter(Expr::col(authorization::Column::ClientId).eq(client_id))
            .one(&self.db.reader())
            .await?;
        let granted: Vec<String> = row.map(|r| strings(&r.scopes)).unwrap_or_default();
        Ok(scopes.iter().all(|s| granted.contains(s)))
    }

    /// Records the user's consent to `scopes` for a client (adding to earlier consent).
    pub async fn grant_consent(
        &self,
        user_id: UserId,
        client_id: &str,
        scopes: &[String],
        actor: &Actor,
    ) -> Result<()> {
        let t = micros(now());
        self.write(async |tx| {
            let txn = tx.conn();
            let existing = authorization::Entity::find()
                .filter(Expr::col(authorization::Column::UserId).eq(user_id))
                .filter(Expr::col(authorization::Column::ClientId).eq(client_id))
                .one(txn)
                .await?;
            let mut all: Vec<String> = existing.map(|r| strings(&r.scopes)).unwrap_or_default();
            for s in scopes {
                if !all.contains(s) {
                    all.push(s.clone());
                }
            }
            authorization::Entity::insert(authorization::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user_id.uuid()),
                client_id: Set(client_id.to_owned()),
                scopes: Set(json!(all)),
                created_at: Set(t),
                updated_at: Set(t),
            })
            .on_conflict(
                OnConflict::columns([authorization::Column::UserId, authorization::Column::ClientId])
                    .update_columns([authorization::Column::Scopes, authorization::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
            let audit = Audit { actor: actor.clone(), activity: "user.authorization.granted".into() };
            tx.record(&audit, Some(user_id.uuid()), json!({"client_id": client_id, "scopes": all})).await?;
            Ok(())
        })
        .await
    }
}
