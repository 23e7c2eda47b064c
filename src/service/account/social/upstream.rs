//! The back-channel calls to an upstream provider: discovery, the authorization URL, the
//! code exchange, the ID token checked against the provider's JWKS, and the non-OIDC
//! APIs of GitHub and Facebook. Every call goes through the services' HTTP client (5 s
//! timeouts, no redirects).

use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::{OAuthProviderConfig, ProviderType};
use crate::crypto::{b64, hmac_sha256, sha256};

use super::SsoError;
use super::provider_cache::ProviderCache;

/// The longest answer read from a provider.
const MAX_BODY: usize = 1024 * 1024;

/// Where a provider's endpoints are.
#[derive(Debug, Clone)]
pub(super) struct Endpoints {
    pub(super) authorization: String,
    pub(super) token: String,
    pub(super) userinfo: Option<String>,
    pub(super) jwks: Option<String>,
    pub(super) issuer: Option<String>,
}

/// Who the provider says the user is.
#[derive(Debug, Clone)]
pub(in crate::service) struct UpstreamUser {
    pub(super) subject: String,
    pub(super) email: Option<String>,
    pub(super) email_verified: bool,
    pub(super) profile: Value,
}

fn provider_failed(p: &OAuthProviderConfig, what: &str) -> SsoError {
    SsoError::Provider(format!("{} {what}", p.kind.display_name()))
}

/// GETs or POSTs and reads a JSON answer (at most [`MAX_BODY`]), or says what failed
/// without the URL (which may hold a token).
async fn json_of<T: DeserializeOwned>(
    p: &OAuthProviderConfig,
    req: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, SsoError> {
    let res = req.header(reqwest::header::ACCEPT, "application/json").send().await.map_err(|e| {
        tracing::warn!(provider = %p.alias, error = %e.without_url(), "{what} failed");
        provider_failed(p, &format!("could not be reached ({what})"))
    })?;
    let status = res.status();
    let body = res.bytes().await.map_err(|_| provider_failed(p, &format!("did not answer ({what})")))?;
    if body.len() > MAX_BODY {
        return Err(provider_failed(p, &format!("sent too long an answer ({what})")));
    }
    if !status.is_success() {
        let err: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let code = err.get("error").and_then(Value::as_str).unwrap_or("");
        tracing::warn!(provider = %p.alias, %status, code, "{what} refused");
        let code =
            if code.is_empty() { String::new() } else { format!(": {}", code.chars().take(64).collect::<String>()) };
        return Err(provider_failed(p, &format!("refused the {what} (HTTP {}{code})", status.as_u16())));
    }
    serde_json::from_slice(&body).map_err(|_| provider_failed(p, &format!("sent an unreadable answer ({what})")))
}

/// The endpoints of `p`: discovery for OpenID Connect providers, the fixed (or
/// overridden) URLs of GitHub and Facebook.
/// Discovery answers are remembered for an hour ([`ProviderCache`]).
pub(super) async fn endpoints(
    http: &reqwest::Client,
    cache: &ProviderCache,
    p: &OAuthProviderConfig,
) -> Result<Endpoints, SsoError> {
    match p.kind {
        ProviderType::Github => {
            let api = p.api_base_url.clone().unwrap_or_else(|| "https://api.github.com".into());
            Ok(Endpoints {
                authorization: p
                    .authorization_endpoint
                    .clone()
                    .unwrap_or_else(|| "https://github.com/login/oauth/authorize".into()),
                token: p.token_endpoint.clone().unwrap_or_else(|| "https://github.com/login/oauth/access_token".into()),
                userinfo: Some(api.trim_end_matches('/').to_owned()),
                jwks: None,
                issuer: None,
            })
        }
        ProviderType::Facebook => {
            let api = p.api_base_url.clone().unwrap_or_else(|| "https://graph.facebook.com/v19.0".into());
            Ok(Endpoints {
                authorization: p
                    .authorization_endpoint
                    .clone()
                    .unwrap_or_else(|| "https://www.facebook.com/v19.0/dialog/oauth".into()),
                token: p
                    .token_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("{}/oauth/access_token", api.trim_end_matches('/'))),
                userinfo: Some(api.trim_end_matches('/').to_owned()),
                jwks: None,
                issuer: None,
            })
        }
        _ => {
            if let Some(e) = cache.endpoints(&p.alias) {
                return Ok(e);
            }
            let issuer = p.oidc_issuer().ok_or_else(|| provider_failed(p, "has no issuer"))?;
            let url = format!("{issuer}/.well-known/openid-configuration");
            let d: Value = json_of(p, http.get(url), "discovery").await?;
            let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(authorization), Some(token), Some(jwks)) =
                (s("authorization_endpoint"), s("token_endpoint"), s("jwks_uri"))
            else {
                return Err(provider_failed(p, "sent incomplete discovery metadata"));
            };
            // The metadata must be the issuer's own (Microsoft's multi-tenant metadata names
            // a `{tenantid}` template instead).
            if p.kind != ProviderType::Azureadv2 && s("issuer").as_deref() != Some(issuer.as_str()) {
                return Err(provider_failed(p, "sent discovery metadata for another issuer"));
            }
            let e = Endpoints {
                authorization,
                token,
                userinfo: s("userinfo_endpoint"),
                jwks: Some(jwks),
                issuer: s("issuer"),
            };
            cache.put_endpoints(&p.alias, e.clone());
            Ok(e)
        }
    }
}

/// The PKCE S256 challenge of `verifier`.
pub(super) fn pkce_challenge(verifier: &str) -> String {
    b64(sha256(verifier.as_bytes()))
}

/// The URL that sends the browser to the provider.
pub(super) fn authorization_url(
    p: &OAuthProviderConfig,
    e: &Endpoints,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    verifier: &str,
) -> Result<String, SsoError> {
    let mut url =
        url::Url::parse(&e.authorization).map_err(|_| provider_failed(p, "has an invalid authorization URL"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &p.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &p.scopes().join(if p.kind == ProviderType::Facebook { "," } else { " " }))
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce_challenge(verifier))
            .append_pair("code_challenge_method", "S256");
        if p.kind.is_oidc() {
            q.append_pair("nonce", nonce);
        }
        if p.kind == ProviderType::Apple {
            q.append_pair("response_mode", "form_post");
        }
    }
    Ok(url.into())
}

/// Apple's client secret: an ES256 JWT signed with the team's key, valid for 5 minutes.
fn apple_client_secret(p: &OAuthProviderConfig, aud: &str) -> Result<String, SsoError> {
    let pem = p.secret().map(|s| s.expose().to_owned()).unwrap_or_default();
    let key = EncodingKey::from_ec_pem(pem.as_bytes())
        .map_err(|_| SsoError::Provider("Apple: client_secret is not the PEM of an EC private key".into()))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = p.key_id.clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": p.team_id, "iat": now, "exp": now + 300, "aud": aud, "sub": p.client_id});
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|_| SsoError::Provider("Apple: the client secret could not be signed".into()))
}

/// Exchanges the authorization code; returns the token response.
pub(super) async fn exchange_code(
    http: &reqwest::Client,
    p: &OAuthProviderConfig,
    e: &Endpoints,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Value, SsoError> {
    let secret = match p.kind {
        ProviderType::Apple => apple_client_secret(p, e.issuer.as_deref().unwrap_or("https://appleid.apple.com"))?,
        _ => p.secret().map(|s| s.expose().to_owned()).unwrap_or_default(),
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", p.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("code_verifier", verifier),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let req = http.post(&e.token).header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
    json_of(p, req, "code exchange").await
}

/// The algorithm a JWK is for: its own `alg`, else the one its key type implies (the
/// header's for RSA, which serves several). Symmetric keys are never accepted.
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk, header_alg: Algorithm) -> Option<Algorithm> {
    if let Some(a) = jwk.common.key_algorithm {
        let a: Algorithm = a.to_string().parse().ok()?;
        return (!matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)).then_some(a);
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            header_alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        )
        .then_some(header_alg),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// Checks an ID token: signed by a key of the provider's JWKS with that key's algorithm,
/// from the provider's issuer, for this client, not expired, with this nonce. The key set
/// comes from the cache, fetched again when it lacks the token's key.
pub(super) async fn verify_id_token(
    http: &reqwest::Client,
    cache: &ProviderCache,
    p: &OAuthProviderConfig,
    e: &Endpoints,
    id_token: &str,
    nonce: &str,
) -> Result<Value, SsoError> {
    let rejected = |why: &str| SsoError::Rejected(format!("the ID token from {} {why}", p.kind.display_name()));
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| rejected("is malformed"))?;
    let jwks_uri = e.jwks.as_deref().ok_or_else(|| rejected("cannot be checked: no JWKS"))?;
    let pick = |set: &JwkSet| -> Option<Jwk> {
        match &header.kid {
            Some(kid) => set.find(kid),
            None if set.keys.len() == 1 => set.keys.first(),
            None => None,
        }
        .cloned()
    };
    let cached = cache.key_set(jwks_uri);
    let found = cached.as_deref().and_then(pick);
    let jwk = match found {
        Some(jwk) => jwk,
        None if cached.is_none() || cache.may_refetch(jwks_uri) => {
            let set: Arc<JwkSet> = Arc::new(json_of(p, http.get(jwks_uri), "key set").await?);
            cache.put_key_set(jwks_uri, Arc::clone(&set), cached.is_some());
            pick(&set).ok_or_else(|| rejected("is signed with a key the provider does not publish"))?
        }
        None => return Err(rejected("is signed with a key the provider does not publish")),
    };
    let jwk = &jwk;
    let alg = algorithm_of(jwk, header.alg).ok_or_else(|| rejected("uses an algorithm its key is not for"))?;
    if alg != header.alg {
        return Err(rejected("uses an algorithm its key is not for"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| rejected("is signed with an unusable key"))?;
    let mut v = Validation::new(alg);
    v.set_audience(&[p.client_id.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.validate_exp = true;
    v.leeway = 60;
    // The issuer is compared below: Microsoft's multi-tenant issuer names the user's tenant.
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &v).map_err(|err| {
        use jsonwebtoken::errors::ErrorKind;
        match err.kind() {
            ErrorKind::ExpiredSignature => rejected("has expired"),
            ErrorKind::InvalidAudience => rejected("is for another client (audience)"),
            ErrorKind::InvalidSignature => rejected("has an invalid signature"),
            _ => rejected("is invalid"),
        }
    })?;
    let claims = data.claims;
    let expected = e.issuer.clone().or_else(|| p.oidc_issuer()).unwrap_or_default();
    let expected = match claims.get("tid").and_then(Value::as_str) {
        Some(tid) if p.kind == ProviderType::Azureadv2 => expected.replace("{tenantid}", tid),
        _ => expected,
    };
    if claims.get("iss").and_then(Value::as_str) != Some(expected.as_str()) {
        return Err(rejected("comes from another issuer"));
    }
    if let Some(Value::Array(auds)) = claims.get("aud")
        && auds.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(p.client_id.as_str())
    {
        return Err(rejected("is for another client (azp)"));
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(rejected("carries the wrong nonce"));
    }
    Ok(claims)
}

/// `true`, `"true"`: Apple sends the flag as a string.
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// The user of an OpenID Connect sign-in: the ID token's claims, completed from the
/// userinfo endpoint when they hold no email (LinkedIn, providers that put the email only
/// there). Microsoft's subject is `oid` (stable across the tenant's apps).
pub(super) async fn oidc_user(
    http: &reqwest::Client,
    p: &OAuthProviderConfig,
    e: &Endpoints,
    mut claims: Value,
    access_token: Option<&str>,
) -> Result<UpstreamUser, SsoError> {
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    if claims.get("email").is_none()
        && let (Some(info), Some(token)) = (&e.userinfo, access_token)
    {
        let more: Value = json_of(p, http.get(info).bearer_auth(token), "userinfo").await?;
        if more.get("sub").and_then(Value::as_str) != Some(sub.as_str()) {
            return Err(SsoError::Rejected(format!("{}'s userinfo is about another user", p.kind.display_name())));
        }
        if let (Value::Object(c), Value::Object(m)) = (&mut claims, more) {
            for (k, v) in m {
                c.entry(k).or_insert(v);
            }
        }
    }
    for k in ["iat", "exp", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "sid", "jti"] {
        if let Value::Object(c) = &mut claims {
            c.remove(k);
        }
    }
    let subject = match p.kind {
        ProviderType::Azureadv2 => claims.get("oid").and_then(Value::as_str).map(str::to_owned).unwrap_or(sub),
        _ => sub,
    };
    if subject.is_empty() {
        return Err(SsoError::Rejected(format!("the ID token from {} names no subject", p.kind.display_name())));
    }
    Ok(UpstreamUser {
        subject,
        email: claims.get("email").and_then(Value::as_str).map(str::to_owned),
        email_verified: flag(claims.get("email_verified")),
        profile: claims,
    })
}

/// GitHub's user: `GET /user` and `GET /user/emails` (the primary address, verified or
/// not as GitHub says), with the `User-Agent` GitHub requires.
pub(super) async fn github_user(
    http: &reqwest::Client,
    p: &OAuthProviderConfig,
    e: &Endpoints,
    token: &str,
) -> Result<UpstreamUser, SsoError> {
    let api = e.userinfo.as_deref().unwrap_or("https://api.github.com");
    let get = |path: &str| {
        http.get(format!("{api}{path}"))
            .bearer_auth(token)
            .header(reqwest::header::USER_AGENT, "authgraph")
            .header("X-GitHub-Api-Version", "2022-11-28")
    };
    let mut user: Value = json_of(p, get("/user"), "user API").await?;
    let emails: Vec<Value> = json_of(p, get("/user/emails"), "emails API").await?;
    let subject = match user.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return Err(SsoError::Rejected("GitHub's user has no id".into())),
    };
    let primary = emails.iter().find(|m| flag(m.get("primary")));
    let email = primary.and_then(|m| m.get("email")).and_then(Value::as_str).map(str::to_owned);
    let email_verified = primary.is_some_and(|m| flag(m.get("verified")));
    if let Value::Object(u) = &mut user {
        u.insert("email".into(), email.clone().map_or(Value::Null, Value::String));
        u.insert("email_verified".into(), Value::Bool(email_verified));
    }
    Ok(UpstreamUser { subject, email, email_verified, profile: user })
}

/// Facebook's user: the Graph API's `me` with `appsecret_proof` (HMAC-SHA256 of the
/// access token under the app secret). Facebook does not say whether the address was
/// confirmed, so its email is never taken as verified.
pub(super) async fn facebook_user(
    http: &reqwest::Client,
    p: &OAuthProviderConfig,
    e: &Endpoints,
    token: &str,
) -> Result<UpstreamUser, SsoError> {
    let api = e.userinfo.as_deref().unwrap_or("https://graph.facebook.com/v19.0");
    let secret = p.secret().map(|s| s.expose().to_owned()).unwrap_or_default();
    let proof = data_encoding::HEXLOWER.encode(&hmac_sha256(secret.as_bytes(), token.as_bytes()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("fields", "id,name,first_name,last_name,email,picture")
        .append_pair("access_token", token)
        .append_pair("appsecret_proof", &proof)
        .finish();
    let req = http.get(format!("{api}/me?{query}"));
    let me: Value = json_of(p, req, "Graph API").await?;
    let subject = me.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    if subject.is_empty() {
        return Err(SsoError::Rejected("Facebook's user has no id".into()));
    }
    Ok(UpstreamUser {
        subject,
        email: me.get("email").and_then(Value::as_str).map(str::to_owned),
        email_verified: false,
        profile: me,
    })
}
