//! Claims about a user in tokens and at the userinfo endpoint: standard claims by scope
//! and Authgear's `https://authgear.com/claims/user/*` claims.

use crate::config::{ClaimSource, TokenKind};
use crate::crypto::jwt::SigningKey;
use crate::crypto::{b64, sha256};
use crate::domain::ids::TypedId;
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::users::User;
use crate::service::events::user_model::{api_identities, api_user, group_keys};
use crate::service::oauth::authorize::{FULL_ACCESS, FULL_USERINFO};
use crate::service::store::time::{now, time_of};
use crate::service::{Actor, Error, Result};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use uuid::Uuid;

const PROFILE: [&str; 13] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
];

/// Every claim this server can put in an ID token or a userinfo response (discovery's
/// `claims_supported`).
pub fn supported_claims() -> Vec<&'static str> {
    let mut all = vec!["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "at_hash"];
    all.extend_from_slice(&PROFILE);
    all.extend_from_slice(&[
        "updated_at",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "address",
    ]);
    all.extend_from_slice(&AUTHGEAR_CLAIMS);
    all
}

/// Authgear's user claims.
const AUTHGEAR_CLAIMS: [&str; 4] = [
    "https://authgear.com/claims/user/roles",
    "https://authgear.com/claims/user/is_anonymous",
    "https://authgear.com/claims/user/is_verified",
    "https://authgear.com/claims/user/can_reauthenticate",
];

/// Whom an ID token is for: the user, the application, the session (`sid`), when the
/// user authenticated (microseconds) and the authorization request's `nonce`.
pub(in crate::service) struct IdTokenFor<'a> {
    /// The user.
    pub user: &'a User,
    /// The application (`aud`).
    pub app: &'a Application,
    /// The session (`sid`).
    pub sid: Uuid,
    /// When the user authenticated, in microseconds.
    pub auth_time: i64,
    /// The authorization request's `nonce`.
    pub nonce: Option<&'a str>,
}

/// Why a bearer token was refused at the userinfo endpoint (RFC 6750 §3.1).
#[derive(Debug)]
pub enum BearerError {
    /// `invalid_token`.
    InvalidToken(String),
    /// `insufficient_scope`.
    InsufficientScope(String),
    /// The server failed.
    Server(Error),
}

impl From<Error> for BearerError {
    fn from(e: Error) -> Self {
        Self::Server(e)
    }
}

impl From<sea_orm::DbErr> for BearerError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Server(e.into())
    }
}

/// Standard claims the scopes grant.
pub fn scope_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let full = has(FULL_ACCESS) || has(FULL_USERINFO);
    let attrs = user.standard_attributes.as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    let mut copy = |k: &str| {
        if let Some(v) = attrs.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_owned(), v.clone());
        }
    };
    if has("profile") || full {
        for k in PROFILE {
            copy(k);
        }
    }
    if has("email") || full {
        copy("email");
        copy("email_verified");
    }
    if has("phone") || full {
        copy("phone_number");
        copy("phone_number_verified");
    }
    if has("address") || full {
        copy("address");
    }
    if has("email") || full {
        out.entry("email_verified").or_insert_with(|| Value::Bool(false));
        if !out.contains_key("email") {
            out.remove("email_verified");
        }
    }
    if has("phone") || full {
        out.entry("phone_number_verified").or_insert_with(|| Value::Bool(false));
        if !out.contains_key("phone_number") {
            out.remove("phone_number_verified");
        }
    }
    if has("profile") || full {
        out.insert("updated_at".into(), json!(user.updated_at.unix_timestamp()));
    }
    if full {
        out.insert("custom_attributes".into(), user.custom_attributes.clone());
    }
    out
}

/// Authgear's user claims for a user whose effective role keys are known.
pub(in crate::service) fn authgear_claims_with(user: &User, roles: Vec<String>) -> Map<String, Value> {
    let verified = ["email_verified", "phone_number_verified"]
        .iter()
        .any(|k| user.standard_attributes.get(*k).and_then(Value::as_bool) == Some(true));
    let values = [json!(roles), json!(user.is_anonymous), json!(verified), json!(!user.is_anonymous)];
    AUTHGEAR_CLAIMS.iter().map(|k| (*k).to_owned()).zip(values).collect()
}

impl OAuth<'_> {
    /// The active signing key of `alg` (an application's choice), else the RS256 one.
    pub(in crate::service) fn signing_key(&self, alg: &str) -> Result<Arc<SigningKey>> {
        self.keys
            .active(alg)
            .or_else(|| self.keys.active("RS256"))
            .ok_or_else(|| Error::internal("no active signing key"))
    }

    /// Authgear's user claims: effective role keys, anonymity, verification.
    pub(in crate::service) async fn authgear_claims(&self, user: &User) -> Result<Map<String, Value>> {
        Ok(authgear_claims_with(user, self.lookups().effective_role_keys(user.id).await?))
    }

    /// Adds the configured custom claims, then runs the `oidc.jwt.pre_create` or
    /// `oidc.id_token.pre_create` hooks, which may add claims (never remove or change one).
    async fn finish_claims(
        &self,
        user: &User,
        app: &Application,
        claims: &mut Map<String, Value>,
        kind: TokenKind,
    ) -> Result<()> {
        let mapped: Vec<_> = self.config.custom_claims.iter().filter(|c| c.tokens.contains(&kind)).collect();
        if !mapped.is_empty() {
            let conn = &self.db.reader();
            let mut groups = None;
            for c in mapped {
                let value = match c.source() {
                    Some(ClaimSource::Standard(n)) => user.standard_attributes.get(&n).cloned(),
                    Some(ClaimSource::Custom(n)) => user.custom_attributes.get(&n).cloned(),
                    Some(ClaimSource::Roles) => match claims.get("https://authgear.com/claims/user/roles") {
                        Some(v) => Some(v.clone()),
                        None => Some(json!(self.lookups().effective_role_keys(user.id).await?)),
                    },
                    Some(ClaimSource::Groups) => {
                        if groups.is_none() {
                            groups = Some(group_keys(conn, user.id.uuid()).await?);
                        }
                        groups.as_ref().map(|g| json!(g))
                    }
                    None => None,
                };
                if let Some(v) = value.filter(|v| !v.is_null()) {
                    claims.insert(c.claim.clone(), v);
                }
            }
        }
        let event = match kind {
            TokenKind::AccessToken => "oidc.jwt.pre_create",
            TokenKind::IdToken => "oidc.id_token.pre_create",
        };
        if !self.will_deliver(event) {
            return Ok(());
        }
        let conn = &self.db.reader();
        let key = if kind == TokenKind::AccessToken { "jwt" } else { "id_token" };
        let payload = json!({
            "user": api_user(conn, user.id.uuid()).await?,
            "identities": api_identities(conn, user.id.uuid(), &["login_id", "oauth"]).await?,
            key: {"payload": Value::Object(claims.clone())},
        });
        let actor = Actor { client_id: Some(app.client_id.clone()), ..Actor::default() };
        let outcome = self.run_blocking(event, Some(user.id.uuid()), payload, &actor).await?;
        if let Some(p) = outcome.token_payload {
            *claims = p;
        }
        Ok(())
    }

    /// Signs an access token (RFC 9068) for a user.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::service) async fn sign_access_token(
        &self,
        user: &User,
        app: &Application,
        session_id: Uuid,
        auth_time: i64,
        amr: &[String],
        scopes: &[String],
        authgear: &Map<String, Value>,
        jti: &str,
    ) -> Result<String> {
        let key = self.signing_key(&app.access_token_alg)?;
        let iat = now().unix_timestamp();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.config.public_url()));
        claims.insert("sub".into(), json!(user.id.to_string()));
        claims.insert("aud".into(), json!(app.client_id));
        claims.insert("client_id".into(), json!(app.client_id));
        claims.insert("scope".into(), json!(scopes.join(" ")));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat + app.access_token_lifetime));
        claims.insert("jti".into(), json!(jti));
        claims.insert("sid".into(), json!(session_id.to_string()));
        claims.insert("auth_time".into(), json!(time_of(auth_time).unix_timestamp()));
        if !amr.is_empty() {
            claims.insert("amr".into(), json!(amr));
        }
        claims.extend(authgear.clone());
        self.finish_claims(user, app, &mut claims, TokenKind::AccessToken).await?;
        Ok(key.sign("at+jwt", &Value::Object(claims))?)
    }

    /// Signs an ID token: `sub`, the session and its authentication time, `amr`, the
    /// `at_hash` of `access_token`, standard claims by scope and Authgear's user claims.
    pub(in crate::service) async fn sign_id_token(
        &self,
        to: &IdTokenFor<'_>,
        amr: &[String],
        access_token: &str,
        scopes: &[String],
        authgear: Map<String, Value>,
    ) -> Result<String> {
        let mut claims = Map::new();
        let iat = now().unix_timestamp();
        claims.insert("iss".into(), json!(self.config.public_url()));
        claims.insert("sub".into(), json!(to.user.id.to_string()));
        claims.insert("aud".into(), json!([to.app.client_id]));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat + to.app.access_token_lifetime));
        claims.insert("auth_time".into(), json!(time_of(to.auth_time).unix_timestamp()));
        if let Some(n) = to.nonce {
            claims.insert("nonce".into(), json!(n));
        }
        claims.insert("amr".into(), json!(amr));
        claims.insert("sid".into(), json!(to.sid.to_string()));
        // OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token.
        claims.insert("at_hash".into(), json!(b64(&sha256(access_token.as_bytes())[..16])));
        claims.extend(scope_claims(to.user, scopes));
        claims.extend(authgear);
        self.finish_claims(to.user, to.app, &mut claims, TokenKind::IdToken).await?;
        let key = self.signing_key(&to.app.id_token_alg)?;
        Ok(key.sign("JWT", &Value::Object(claims))?)
    }

    /// The `sub` of an ID token this server issued, expired or not.
    pub async fn id_token_hint_subject(&self, token: &str) -> Option<String> {
        self.signing_keys().learn_kid(token).await;
        let claims: Value = self.keys.verify_id_token(token, &self.config.public_url()).ok()?;
        claims.get("sub").and_then(Value::as_str).map(str::to_owned)
    }

    /// The verified claims of an ID token this server issued, expired or not.
    pub async fn id_token_claims(&self, token: &str) -> Option<Value> {
        self.signing_keys().learn_kid(token).await;
        self.keys.verify_id_token(token, &self.config.public_url()).ok()
    }

    /// The user of an access token this server issued to a user, with the token's scopes:
    /// its signature and expiry hold, it was not revoked, its session is live, its
    /// application exists, and its user is enabled.
    pub async fn bearer_user(&self, token: &str) -> std::result::Result<(User, Vec<String>), BearerError> {
        self.signing_keys().learn_kid(token).await;
        let claims: Value = self
            .keys
            .verify(token, &self.config.public_url(), None)
            .map_err(|e| BearerError::InvalidToken(e.to_string()))?;
        let sid = claims.get("sid").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let sub = claims.get("sub").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let (Some(sid), Some(sub)) = (sid, sub) else {
            return Err(BearerError::InvalidToken("not a user's access token".into()));
        };
        let scopes: Vec<String> = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect();
        if let Some(jti) = claims.get("jti").and_then(Value::as_str)
            && self.is_revoked(jti).await?
        {
            return Err(BearerError::InvalidToken("the token was revoked".into()));
        }
        if !self.session_live(sid.into()).await? {
            return Err(BearerError::InvalidToken("the session of this token has ended".into()));
        }
        if self.applications().client_deleted(claims.get("client_id").and_then(Value::as_str)).await? {
            return Err(BearerError::InvalidToken("the application of this token was deleted".into()));
        }
        match self.users().get(sub.into()).await? {
            Some(u) if !u.is_disabled_at(now()) && !u.is_deactivated => Ok((u, scopes)),
            _ => Err(BearerError::InvalidToken("the user is disabled or deleted".into())),
        }
    }

    /// The userinfo response for a browser's IdP session (a first-party web app that keeps
    /// a cookie session, as Authgear's web SDK does with `session_type: cookie`): `sub`,
    /// every standard claim and Authgear's user claims. `None` when the user is disabled or
    /// gone.
    pub async fn session_userinfo(&self, user_id: crate::domain::ids::UserId) -> Result<Option<Value>> {
        let Some(user) = self.users().get(user_id).await?.filter(|u| !u.is_disabled_at(now()) && !u.is_deactivated)
        else {
            return Ok(None);
        };
        let scopes: Vec<String> = ["openid", "profile", "email", "phone", "address"].map(str::to_owned).to_vec();
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.id.to_string()));
        out.extend(scope_claims(&user, &scopes));
        out.extend(self.authgear_claims(&user).await?);
        Ok(Some(Value::Object(out)))
    }

    /// The userinfo response for an access token: `sub`, claims by scope and Authgear's
    /// user claims. The token's session must still be live and its user enabled.
    pub async fn userinfo(&self, token: &str) -> std::result::Result<Value, BearerError> {
        let (user, scopes) = self.bearer_user(token).await?;
        if !scopes.iter().any(|s| s == "openid") {
            return Err(BearerError::InsufficientScope("the token was not granted the openid scope".into()));
        }
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.id.to_string()));
        out.extend(scope_claims(&user, &scopes));
        out.extend(self.authgear_claims(&user).await?);
        Ok(Value::Object(out))
    }
}
