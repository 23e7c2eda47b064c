//! A fake of the upstream providers for the social login tests: GitHub's OAuth and REST
//! API, Facebook's Graph API, and an OpenID Connect provider (also standing in for Apple)
//! whose ID tokens go wrong on demand (nonce, issuer, audience, expiry, algorithm), or
//! that answers `access_denied`.

use std::sync::{Arc, Mutex};

use authgraph::config::OAuthProviderConfig;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub(crate) const ALICE: &str = "alice@example.com";

pub(crate) fn provider(v: Value) -> OAuthProviderConfig {
    serde_json::from_value(v).expect("provider config")
}

/// How the fake provider answers.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Good,
    WrongNonce,
    OtherIssuer,
    OtherAudience,
    Expired,
    /// HMAC with the key ID of the provider's EC key (algorithm confusion).
    Hs256,
    /// Signed with the provider's key under a key ID its key set does not hold.
    UnknownKid,
    Deny,
}

pub(crate) struct Fake {
    pub(crate) base: String,
    pub(crate) mode: Mode,
    pub(crate) nonce: String,
    pub(crate) email: String,
    pub(crate) verified: bool,
    pub(crate) key: EncodingKey,
    pub(crate) jwk: Jwk,
    pub(crate) token_calls: usize,
    /// Requests for the discovery document and for the key set.
    pub(crate) discovery_calls: usize,
    pub(crate) jwks_calls: usize,
    /// The `client_secret` of the last code exchange at the OIDC token endpoint.
    pub(crate) client_secret: String,
    /// The `response_mode` of the last authorization request.
    pub(crate) response_mode: Option<String>,
}

pub(crate) type Shared = Arc<Mutex<Fake>>;

async fn authorize(State(s): State<Shared>, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    let mut f = s.lock().unwrap();
    f.nonce = q.get("nonce").cloned().unwrap_or_default();
    f.response_mode = q.get("response_mode").cloned();
    assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"), "PKCE is used");
    let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
    if f.mode == Mode::Deny {
        back.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &q["state"]);
    } else {
        back.query_pairs_mut().append_pair("code", "fake-code").append_pair("state", &q["state"]);
    }
    Redirect::to(back.as_str()).into_response()
}

async fn github_token(State(s): State<Shared>, body: String) -> Response {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(form.get("code").map(String::as_str), Some("fake-code"));
    assert!(form.get("code_verifier").is_some_and(|v| v.len() >= 43));
    s.lock().unwrap().token_calls += 1;
    axum::Json(json!({"access_token": "gh-token", "token_type": "bearer"})).into_response()
}

/// GitHub's API wants the token and a `User-Agent`.
fn github_refuses(h: &HeaderMap) -> Option<Response> {
    let bearer = h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer gh-token");
    (!bearer || h.get("user-agent").is_none())
        .then(|| (StatusCode::FORBIDDEN, "token and User-Agent required").into_response())
}

async fn github_user(h: HeaderMap) -> Response {
    if let Some(r) = github_refuses(&h) {
        return r;
    }
    axum::Json(json!({"id": 4242, "login": "octocat", "name": "Octo Cat"})).into_response()
}

async fn github_emails(State(s): State<Shared>, h: HeaderMap) -> Response {
    if let Some(r) = github_refuses(&h) {
        return r;
    }
    let f = s.lock().unwrap();
    axum::Json(json!([
        {"email": "old@example.com", "primary": false, "verified": true},
        {"email": f.email, "primary": true, "verified": f.verified},
    ]))
    .into_response()
}

/// The Graph API's `me`: the token and its `appsecret_proof` (HMAC-SHA256 under the app
/// secret `fb-secret`, hex).
async fn facebook_me(State(s): State<Shared>, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    let token = q.get("access_token").cloned().unwrap_or_default();
    let proof = data_encoding::HEXLOWER.encode(&authgraph::crypto::hmac_sha256(b"fb-secret", token.as_bytes()));
    if token != "gh-token" || q.get("appsecret_proof") != Some(&proof) {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "bad proof"}}))).into_response();
    }
    let email = s.lock().unwrap().email.clone();
    axum::Json(json!({"id": "10001", "name": "Face Book", "email": email})).into_response()
}

async fn discovery(State(s): State<Shared>) -> Response {
    let b = {
        let mut f = s.lock().unwrap();
        f.discovery_calls += 1;
        f.base.clone()
    };
    axum::Json(json!({
        "issuer": format!("{b}/oidc"),
        "authorization_endpoint": format!("{b}/oidc/authorize"),
        "token_endpoint": format!("{b}/oidc/token"),
        "jwks_uri": format!("{b}/oidc/jwks"),
    }))
    .into_response()
}

async fn jwks(State(s): State<Shared>) -> Response {
    let jwk = {
        let mut f = s.lock().unwrap();
        f.jwks_calls += 1;
        f.jwk.clone()
    };
    axum::Json(JwkSet { keys: vec![jwk] }).into_response()
}

async fn oidc_token(State(s): State<Shared>, body: String) -> Response {
    let mut f = s.lock().unwrap();
    f.token_calls += 1;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    f.client_secret = form.get("client_secret").cloned().unwrap_or_default();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let iss = if f.mode == Mode::OtherIssuer { "https://evil.example".to_owned() } else { format!("{}/oidc", f.base) };
    let aud = if f.mode == Mode::OtherAudience { "another-client" } else { "down-client" };
    let nonce = if f.mode == Mode::WrongNonce { "not-the-nonce".to_owned() } else { f.nonce.clone() };
    let claims = json!({
        "iss": iss, "aud": aud, "sub": "fake-sub", "iat": now, "exp": now + 300, "nonce": nonce,
        "email": f.email, "email_verified": f.verified,
    });
    let mut claims = claims;
    if f.mode == Mode::Expired {
        claims["exp"] = json!(now - 3600);
        claims["iat"] = json!(now - 7200);
    }
    let alg = if f.mode == Mode::Hs256 { Algorithm::HS256 } else { Algorithm::ES256 };
    let mut header = Header::new(alg);
    header.kid = if f.mode == Mode::UnknownKid { Some("not-published".into()) } else { f.jwk.common.key_id.clone() };
    let id_token = if f.mode == Mode::Hs256 {
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"the public key, as a secret").unwrap())
            .unwrap()
    } else {
        jsonwebtoken::encode(&header, &claims, &f.key).unwrap()
    };
    axum::Json(json!({"access_token": "oidc-token", "token_type": "Bearer", "id_token": id_token})).into_response()
}

/// A new ES256 signing key and its public JWK under `kid`.
fn signing_key(kid: &str) -> (EncodingKey, Jwk) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = pair.to_pkcs8v1().unwrap();
    let key = EncodingKey::from_ec_der(der.as_ref());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.into());
    (key, jwk)
}

/// The provider rotates its key: a new key under `kid` signs and is the only one
/// published.
pub(crate) fn rotate(s: &Shared, kid: &str) {
    let (key, jwk) = signing_key(kid);
    let mut f = s.lock().unwrap();
    f.key = key;
    f.jwk = jwk;
}

/// Starts the fake provider; returns its base URL and its shared state.
pub(crate) async fn fake() -> (String, Shared) {
    let (key, jwk) = signing_key("fake-key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Mutex::new(Fake {
        base: base.clone(),
        mode: Mode::Good,
        nonce: String::new(),
        email: ALICE.into(),
        verified: true,
        key,
        jwk,
        token_calls: 0,
        discovery_calls: 0,
        jwks_calls: 0,
        client_secret: String::new(),
        response_mode: None,
    }));
    let app = Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(github_token))
        .route("/api/user", get(github_user))
        .route("/api/user/emails", get(github_emails))
        .route("/fb/dialog", get(authorize))
        .route("/fb/oauth/access_token", post(github_token))
        .route("/fb/me", get(facebook_me))
        .route("/oidc/.well-known/openid-configuration", get(discovery))
        .route("/oidc/authorize", get(authorize))
        .route("/oidc/token", post(oidc_token))
        .route("/oidc/jwks", get(jwks))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, shared)
}

/// The team's `.p8` key of the Apple tests (PKCS#8 PEM) and its public JWK.
pub(crate) fn apple_key() -> (String, Jwk) {
    use base64::Engine;
    static KEY: std::sync::OnceLock<(String, Jwk)> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let der = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap().to_pkcs8v1().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        let jwk = Jwk::from_encoding_key(&EncodingKey::from_ec_der(der.as_ref()), Algorithm::ES256).unwrap();
        (pem, jwk)
    })
    .clone()
}

/// The fake GitHub (`gh`), the fake OpenID Connect provider (`fake`) and Apple pointed at
/// it (`apple`).
pub(crate) fn fake_providers(base: &str) -> Vec<OAuthProviderConfig> {
    vec![
        provider(json!({
            "alias": "gh", "type": "github", "client_id": "gh-client", "client_secret": "gh-secret",
            "authorization_endpoint": format!("{base}/login/oauth/authorize"),
            "token_endpoint": format!("{base}/login/oauth/access_token"),
            "api_base_url": format!("{base}/api"),
        })),
        provider(json!({
            "alias": "fb", "type": "facebook", "client_id": "fb-client", "client_secret": "fb-secret",
            "authorization_endpoint": format!("{base}/fb/dialog"),
            "token_endpoint": format!("{base}/fb/oauth/access_token"),
            "api_base_url": format!("{base}/fb"),
        })),
        provider(json!({
            "alias": "fake", "type": "oidc", "client_id": "down-client", "client_secret": "s",
            "issuer": format!("{base}/oidc"),
        })),
        provider(json!({
            "alias": "apple", "type": "apple", "client_id": "down-client", "client_secret": apple_key().0,
            "team_id": "TEAM123", "key_id": "KEY123", "issuer": format!("{base}/oidc"),
        })),
    ]
}
