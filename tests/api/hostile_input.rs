//! Hostile bytes through every endpoint and every parameter of it, and through Admin API
//! arguments: NUL (U+0000, which PostgreSQL cannot store) is refused at the edge with a
//! clear 4xx on both databases; nothing else (lone surrogates, `%FF`, CR/LF, quotes, very
//! long values) may give a 5xx either.
//!
//! This file holds what the tests share with each other and with the fuzz test: a `World`
//! to send requests into and every endpoint with its parameters. `parameters_and_headers`
//! sends hostile form and query parameters, Basic credentials and cookies;
//! `admin_api` sends hostile Admin API arguments and variables.

mod admin_api;
mod parameters_and_headers;

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::rp::{Browser, hidden, register};

pub const CB: &str = "http://127.0.0.1:9/cb";
pub const API: &str = "https://api.example.com/hostile";
pub const EMAIL: &str = "hostile@example.com";
pub const PW: &str = "correct horse battery";

/// A running app with a client of every kind, a user, a browser signed in as that user
/// and an anonymous one, each with its CSRF token, and a pending authorization request.
pub struct World {
    pub app: TestApp,
    pub anon: Browser,
    pub anon_csrf: String,
    pub signed_in: Browser,
    pub signed_in_csrf: String,
    pub flow: String,
    pub spa: String,
    pub web: (String, String),
    pub m2m: (String, String),
    pub access_token: String,
    pub user_id: String,
}

pub async fn world() -> World {
    let app = spawn_app().await;
    let user_id = app.create_user(EMAIL, Some(PW)).await;
    let (spa, _) = register(&app, "SPA", CB).await;
    let (web_id, web_secret) = register(&app, "TRADITIONAL_WEBAPP", CB).await;
    let d = app
        .ok(
            "mutation($u: String!) { createApplication(input: {name: \"Worker\", type: M2M}) { application { clientID } clientSecret } createResource(input: {resourceURI: $u}) { resource { id } } createScope(input: {resourceURI: $u, scope: \"read\"}) { scope { id } } }",
            json!({"u": API}),
        )
        .await;
    let m2m_id = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let m2m_secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"read\"]}) { scopes { scope } } }",
        json!({"u": API, "c": m2m_id}),
    )
    .await;
    let (status, t) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("resource", API),
            ("client_id", &m2m_id),
            ("client_secret", &m2m_secret),
        ])
        .await;
    assert_eq!(status, 200, "{t}");
    let access_token = t["access_token"].as_str().unwrap().to_owned();

    let anon = Browser::new(&app);
    let authorize = format!(
        "/oauth2/authorize?client_id={spa}&redirect_uri={}&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
    );
    // Without a session the authorization request answers with the login page.
    let (_, page) = anon.open(&authorize).await.page();
    let flow = hidden(&page, "flow");
    assert!(!flow.is_empty(), "a pending request: {page}");
    let anon_csrf = hidden(&page, "csrf");

    let signed_in = Browser::new(&app);
    let (_, page) = signed_in.open("/login").await.page();
    let (status, settings) = signed_in.login(&page, EMAIL, PW).await.page();
    assert_eq!(status, 200, "{settings}");
    let signed_in_csrf = hidden(&settings, "csrf");
    World {
        app,
        anon,
        anon_csrf,
        signed_in,
        signed_in_csrf,
        flow,
        spa,
        web: (web_id, web_secret.expect("a secret")),
        m2m: (m2m_id, m2m_secret),
        access_token,
        user_id,
    }
}

/// How an endpoint answers a refused request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Answer {
    /// OAuth JSON: `{"error": "invalid_request", ...}`.
    Json,
    /// An HTML page.
    Page,
}

/// Which browser sends the request (for cookies).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    Anon,
    SignedIn,
}

/// One endpoint with a valid-looking set of parameters (values percent-encoded).
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub answer: Answer,
    pub who: Who,
    pub params: Vec<(&'static str, String)>,
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every route that reads parameters, each with the parameters it reads.
pub fn endpoints(w: &World) -> Vec<Endpoint> {
    let authorize = |flow_extra: bool| {
        let mut p = vec![
            ("client_id", enc(&w.spa)),
            ("redirect_uri", enc(CB)),
            ("response_type", "code".to_owned()),
            ("response_mode", "query".to_owned()),
            ("scope", enc("openid email")),
            ("state", "st".to_owned()),
            ("nonce", "n".to_owned()),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
            ("code_challenge_method", "S256".to_owned()),
            ("prompt", "login".to_owned()),
            ("max_age", "60".to_owned()),
            ("login_hint", enc(EMAIL)),
            ("ui_locales", "en".to_owned()),
            ("x_page", "login".to_owned()),
        ];
        if flow_extra {
            p.extend([("id_token_hint", "x".to_owned()), ("request", "x".to_owned()), ("request_uri", "x".to_owned())]);
        }
        p
    };
    let (web_id, web_secret) = (&w.web.0, &w.web.1);
    let (m2m_id, m2m_secret) = (&w.m2m.0, &w.m2m.1);
    let anon_csrf = enc(&w.anon_csrf);
    let signed_csrf = enc(&w.signed_in_csrf);
    let flow = enc(&w.flow);
    let e = |method, path, answer, who, params| Endpoint { method, path, answer, who, params };
    use Answer::{Json, Page};
    use Who::{Anon, SignedIn};
    vec![
        e("GET", "/oauth2/authorize", Page, Anon, authorize(false)),
        e("POST", "/oauth2/authorize", Page, Anon, authorize(true)),
        e("GET", "/oauth2/authorize/resume", Page, Anon, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/oauth2/token",
            Json,
            Anon,
            vec![
                ("grant_type", "client_credentials".to_owned()),
                ("resource", enc(API)),
                ("scope", "read".to_owned()),
                ("client_id", enc(m2m_id)),
                ("client_secret", enc(m2m_secret)),
            ],
        ),
        e(
            "POST",
            "/oauth2/token",
            Json,
            Anon,
            vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", "not-a-code".to_owned()),
                ("redirect_uri", enc(CB)),
                ("code_verifier", "v".repeat(43)),
                ("client_id", enc(web_id)),
                ("client_secret", enc(web_secret)),
            ],
        ),
        e(
            "POST",
            "/oauth2/token",
            Json,
            Anon,
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", "not-a-token".to_owned()),
                ("scope", "openid".to_owned()),
                ("client_id", enc(&w.spa)),
            ],
        ),
        e(
            "POST",
            "/oauth2/introspect",
            Json,
            Anon,
            vec![
                ("token", enc(&w.access_token)),
                ("token_type_hint", "access_token".to_owned()),
                ("client_id", enc(web_id)),
                ("client_secret", enc(web_secret)),
            ],
        ),
        e(
            "POST",
            "/oauth2/revoke",
            Json,
            Anon,
            vec![
                ("token", "not-a-token".to_owned()),
                ("token_type_hint", "refresh_token".to_owned()),
                ("client_id", enc(&w.spa)),
            ],
        ),
        e("POST", "/oauth2/userinfo", Json, Anon, vec![("access_token", enc(&w.access_token))]),
        e(
            "GET",
            "/oauth2/end_session",
            Page,
            Anon,
            vec![
                ("client_id", enc(&w.spa)),
                ("post_logout_redirect_uri", enc("http://127.0.0.1:9/bye")),
                ("state", "st".to_owned()),
                ("id_token_hint", "x.y.z".to_owned()),
            ],
        ),
        e(
            "POST",
            "/oauth2/end_session",
            Page,
            Anon,
            vec![
                ("client_id", enc(&w.spa)),
                ("post_logout_redirect_uri", enc("http://127.0.0.1:9/bye")),
                ("state", "st".to_owned()),
            ],
        ),
        e("GET", "/login", Page, Anon, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/login",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("login_id", enc(EMAIL)),
                ("password", "wrong".to_owned()),
            ],
        ),
        e("GET", "/signup", Page, Anon, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/signup",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("login_id", enc("new@example.com")),
                ("password", "x".to_owned()),
            ],
        ),
        e("GET", "/select_account", Page, SignedIn, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/select_account",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("flow", flow.clone()), ("action", "switch".to_owned())],
        ),
        e("GET", "/consent", Page, SignedIn, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/consent",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("flow", flow.clone()), ("action", "deny".to_owned())],
        ),
        e("POST", "/forgot_password", Page, Anon, vec![("csrf", anon_csrf.clone()), ("email", enc(EMAIL))]),
        e("GET", "/reset_password", Page, Anon, vec![("code", "not-a-code".to_owned())]),
        e(
            "POST",
            "/reset_password",
            Page,
            Anon,
            vec![("csrf", anon_csrf.clone()), ("code", "not-a-code".to_owned()), ("password", "x".to_owned())],
        ),
        e("GET", "/settings", Page, SignedIn, vec![("done", "profile".to_owned())]),
        e(
            "POST",
            "/settings/profile",
            Page,
            SignedIn,
            vec![
                ("csrf", signed_csrf.clone()),
                ("given_name", "Ann".to_owned()),
                ("family_name", "Lee".to_owned()),
                ("nickname", "al".to_owned()),
                ("name", "Ann".to_owned()),
            ],
        ),
        e(
            "POST",
            "/settings/password",
            Page,
            SignedIn,
            vec![
                ("csrf", signed_csrf.clone()),
                ("current_password", "wrong".to_owned()),
                ("new_password", "x".to_owned()),
            ],
        ),
        e(
            "POST",
            "/settings/sessions/revoke",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("session_id", uuid::Uuid::now_v7().to_string())],
        ),
        e(
            "POST",
            "/settings/delete",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("confirm", "yes".to_owned()), ("password", "wrong".to_owned())],
        ),
        e(
            "POST",
            "/login/totp",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("pending", "x".to_owned()),
                ("code", "123456".to_owned()),
            ],
        ),
        e(
            "POST",
            "/login/recovery_code",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("pending", "x".to_owned()),
                ("code", "ABCDE-FGHJK".to_owned()),
            ],
        ),
        e(
            "POST",
            "/login/code",
            Page,
            Anon,
            vec![("csrf", anon_csrf.clone()), ("flow", flow.clone()), ("login_id", enc(EMAIL))],
        ),
        e(
            "POST",
            "/login/code/resend",
            Page,
            Anon,
            vec![("csrf", anon_csrf.clone()), ("flow", flow.clone()), ("pending", "x".to_owned())],
        ),
        e(
            "POST",
            "/login/code/verify",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("pending", "x".to_owned()),
                ("code", "123456".to_owned()),
            ],
        ),
        e(
            "POST",
            "/login/mfa/send",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("pending", "x".to_owned()),
                ("authenticator", uuid::Uuid::now_v7().to_string()),
            ],
        ),
        e("GET", "/login/link", Page, Anon, vec![("token", "x".repeat(43))]),
        e("POST", "/login/link", Page, Anon, vec![("csrf", anon_csrf.clone()), ("token", "x".repeat(43))]),
        e("GET", "/login/link/wait", Page, Anon, vec![("flow", flow.clone()), ("pending", "x".to_owned())]),
        e(
            "POST",
            "/settings/verify",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("channel", "email".to_owned())],
        ),
        e(
            "POST",
            "/settings/verify/confirm",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("pending", "x".to_owned()), ("code", "123456".to_owned())],
        ),
        e(
            "POST",
            "/settings/mfa/oob",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("channel", "email".to_owned()), ("target", enc("x@example.com"))],
        ),
        e(
            "POST",
            "/settings/mfa/oob/remove",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("authenticator_id", uuid::Uuid::now_v7().to_string())],
        ),
        e("GET", "/settings/totp", Page, SignedIn, vec![]),
        e(
            "POST",
            "/settings/totp",
            Page,
            SignedIn,
            vec![
                ("csrf", signed_csrf.clone()),
                ("pending", "x".to_owned()),
                ("display_name", "Phone".to_owned()),
                ("code", "123456".to_owned()),
            ],
        ),
        e(
            "POST",
            "/settings/totp/remove",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("authenticator_id", uuid::Uuid::now_v7().to_string())],
        ),
        e("POST", "/settings/recovery_codes", Page, SignedIn, vec![("csrf", signed_csrf.clone())]),
        e(
            "POST",
            "/settings/reauthenticate",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("next", "/settings".to_owned()), ("secret", "wrong".to_owned())],
        ),
        e(
            "POST",
            "/login/change_password",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("pending", "x".to_owned()),
                ("new_password", "a new good password".to_owned()),
            ],
        ),
        e(
            "POST",
            "/settings/devices/revoke",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("device_id", uuid::Uuid::now_v7().to_string())],
        ),
        e("POST", "/settings/devices/revoke_all", Page, SignedIn, vec![("csrf", signed_csrf.clone())]),
        e(
            "POST",
            "/login/mfa/enrol",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("pending", "x".to_owned()),
                ("display_name", "Phone".to_owned()),
                ("code", "123456".to_owned()),
            ],
        ),
        // Last: it ends the anonymous browser's session, if a login above made one.
        e("POST", "/logout", Page, Anon, vec![("csrf", anon_csrf), ("request", "x".to_owned())]),
    ]
}
