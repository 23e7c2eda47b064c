//! More checks of the OpenID Foundation's Basic OP plan that apply to a code-flow OP:
//! POST authorization requests, requests without nonce, client_secret_post, all scopes,
//! max_age that needs no re-login, empty and unknown parameters, ui_locales, CORS.

use serde_json::{Value, json};

use crate::helpers::{jwt_claims, spawn_app};
use crate::rp::{Browser, param, register};

const PW: &str = "correct horse battery";
const CB: &str = "http://127.0.0.1:9/cb";

/// oidcc-ensure-post-request-succeeds, oidcc-server-client-secret-post,
/// oidcc-ensure-request-without-nonce-succeeds-for-code-flow, oidcc-scope-all.
#[tokio::test]
async fn post_request_without_nonce_secret_post_and_all_scopes() {
    let app = spawn_app().await;
    let user = app.create_user("mia@example.com", Some(PW)).await;
    app.ok("mutation($u: ID!) { updateUser(input: {userID: $u, standardAttributes: {email: \"mia@example.com\", name: \"Mia Wong\", address: {locality: \"Hong Kong\"}}}) { user { id } } }", json!({"u": user})).await;
    let (id, secret) = register(&app, "CONFIDENTIAL", CB).await;
    let secret = secret.unwrap();
    let browser = Browser::new(&app);
    let form = [
        ("client_id", id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid profile email address phone"),
        ("state", "st"),
        ("display", "page"),
        ("claims_locales", "en"),
    ];
    let (s, page) = browser.submit("/oauth2/authorize", &form).await.page();
    assert_eq!(s, 200);
    let cb = browser.login(&page, "mia@example.com", PW).await.redirect();
    assert_eq!(param(&cb, "state").as_deref(), Some("st"));
    let code = param(&cb, "code").unwrap();
    let (s, t) = app
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(s, 200, "{t}");
    let claims = jwt_claims(t["id_token"].as_str().unwrap());
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["aud"], json!([id]));
    assert_eq!(claims["name"], "Mia Wong");
    assert_eq!(claims["address"]["locality"], "Hong Kong");
    assert_eq!(claims["email_verified"], false);
    let header: Value = serde_json::from_slice(
        &authgraph::crypto::b64_decode(t["id_token"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let info: Value = app
        .client
        .get(format!("{}/oauth2/userinfo", app.url))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["name"], "Mia Wong");
    assert_eq!(info["email"], "mia@example.com");
    assert_eq!(info["address"]["locality"], "Hong Kong");
    assert!(info["updated_at"].is_i64());
    // A code given to one client is refused to another.
    let (other, other_secret) = register(&app, "CONFIDENTIAL", CB).await;
    let f = [("client_id", id.as_str()), ("redirect_uri", CB), ("response_type", "code"), ("scope", "openid")];
    let cb = browser.submit("/oauth2/authorize", &f).await.redirect();
    let code = param(&cb, "code").unwrap();
    let (s, b) = app
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("client_id", &other),
            ("client_secret", other_secret.as_deref().unwrap()),
        ])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
}

/// oidcc-max-age-10000, empty parameters, oidcc-ui-locales, unknown parameters.
#[tokio::test]
async fn max_age_long_enough_empty_parameters_and_ui_locales() {
    let app = spawn_app().await;
    app.create_user("noah@example.com", Some(PW)).await;
    let (id, _) = register(&app, "CONFIDENTIAL", CB).await;
    let browser = Browser::new(&app);
    let base = format!("/oauth2/authorize?client_id={id}&redirect_uri={CB}&response_type=code&scope=openid");
    let (s, page) = browser.open(&format!("{base}&ui_locales=zh-HK%20en&nonce=&prompt=&foo=bar")).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("<html lang=\"zh-HK\">"), "{}", &page[..200]);
    assert!(param(&browser.login(&page, "noah@example.com", PW).await.redirect(), "code").is_some());
    let (_, plain) = Browser::new(&app).open("/login").await.page();
    assert!(plain.contains("<html lang=\"en\">"), "the default language");
    let cb = browser.open(&format!("{base}&max_age=10000")).await.redirect();
    assert!(param(&cb, "code").is_some(), "a recent login satisfies max_age=10000");
    let code = param(&cb, "code").unwrap();
    let (s, _) = app
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("client_id", &id),
        ])
        .await;
    assert_eq!(s, 401, "a confidential client must authenticate");
}

/// userinfo answers CORS for an application's allowed origin.
#[tokio::test]
async fn userinfo_cors_for_allowed_origins() {
    let app = spawn_app().await;
    app.ok("mutation { createApplication(input: {name: \"Web\", type: SPA, redirectURIs: [\"http://127.0.0.1:9/cb\"], allowedOrigins: [\"https://app.example.com\"]}) { application { clientID } } }", json!({})).await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/oauth2/userinfo", app.url))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = app
        .client
        .get(format!("{}/oauth2/userinfo", app.url))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

/// Every enabled login ID type signs in; Authgear's `x_page=signup` opens the signup page.
#[tokio::test]
async fn username_and_phone_login_ids_and_x_page_signup() {
    let app = spawn_app().await;
    app.ok("mutation { a: createUser(input: {definition: {loginID: {key: \"username\", value: \"Ruth_K\"}}, password: \"correct horse battery\"}) { user { id } } b: createUser(input: {definition: {loginID: {key: \"phone\", value: \"+85291234567\"}}, password: \"correct horse battery\"}) { user { id } } }", json!({})).await;
    let (id, _) = register(&app, "CONFIDENTIAL", CB).await;
    let base = format!("/oauth2/authorize?client_id={id}&redirect_uri={CB}&response_type=code&scope=openid");
    for login_id in ["ruth_k", "+85291234567"] {
        let browser = Browser::new(&app);
        let (_, page) = browser.open(&base).await.page();
        assert!(page.contains("Email, username or phone number"), "{page}");
        let cb = browser.login(&page, login_id, PW).await.redirect();
        assert!(param(&cb, "code").is_some(), "{login_id}");
    }
    let (s, page) = Browser::new(&app).open(&format!("{base}&x_page=signup&x_sdk=android")).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("Create an account"), "{page}");
}
