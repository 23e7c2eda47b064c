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
    let (s, t) = app.exchange_code(&code, CB, &id, Some(&secret), &[]).await;
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
    let (s, b) = app.exchange_code(&code, CB, &other, Some(other_secret.as_deref().unwrap()), &[]).await;
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
    let (s, _) = app.exchange_code(&code, CB, &id, None, &[]).await;
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

async fn code_for(browser: &Browser, url: &str) -> String {
    param(&browser.open(url).await.redirect(), "code").expect("a code")
}

/// Scope order, ignored `claims`/`display=popup`/`acr_values`, `max_age=0`, a missing
/// `redirect_uri`, PKCE mistakes at the token endpoint, a refresh by another client,
/// userinfo by POST with a Bearer header, insufficient scope, the full-access scope, and
/// the session cookie's flags.
#[tokio::test]
async fn more_basic_op_checks() {
    let app = spawn_app().await;
    let user = app.create_user("sam@example.com", Some(PW)).await;
    app.ok("mutation($u: ID!) { updateUser(input: {userID: $u, standardAttributes: {email: \"sam@example.com\", name: \"Sam\", phone_number: null}}) { user { id } } }", json!({"u": user})).await;
    let (id, secret) = register(&app, "CONFIDENTIAL", CB).await;
    let secret = secret.unwrap();
    let browser = Browser::new(&app);
    let base = format!("/oauth2/authorize?client_id={id}&redirect_uri={CB}&response_type=code");
    // The session cookie's flags.
    let (_, page) = browser.open(&format!("{base}&scope=openid")).await.page();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", crate::rp::hidden(&page, "csrf").as_str()),
            ("flow", &crate::rp::hidden(&page, "flow")),
            ("login_id", "sam@example.com"),
            ("password", PW),
        ])
        .finish();
    let res = browser
        .client
        .post(format!("{}/login", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("ag_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    // The form's POST itself sends the browser back to the client with the code.
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(CB), "{location}");
    assert!(param(&location, "code").is_some());

    // Scope order, and parameters this server does not act on.
    let code = code_for(&browser, &format!("{base}&scope=email%20openid&display=popup&acr_values=urn%3Aa&claims=%7B%22userinfo%22%3A%7B%22name%22%3A%7B%22essential%22%3Atrue%7D%7D%7D")).await;
    let (s, t) = app.exchange_code(&code, CB, &id, Some(&secret), &[]).await;
    assert_eq!(s, 200, "{t}");
    let claims = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(claims["email"], "sam@example.com");
    assert!(claims.get("name").is_none(), "the claims parameter is not supported, so no name");
    // Userinfo by POST with a Bearer header.
    let res = app
        .client
        .post(format!("{}/oauth2/userinfo", app.url))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["email"], "sam@example.com");

    // max_age=0 asks for the password again although the session is fresh enough.
    let (s, page) = browser.open(&format!("{base}&scope=openid&max_age=0")).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("action=\"/login\""));
    // A missing redirect_uri is an error page.
    let (s, page) =
        browser.open(&format!("/oauth2/authorize?client_id={id}&response_type=code&scope=openid")).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("no redirect_uri"), "{page}");

    // PKCE mistakes: no verifier for a challenge; a verifier without a challenge.
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code = code_for(&browser, &format!("{base}&scope=openid&code_challenge={ch}&code_challenge_method=S256")).await;
    let (s, b) = app.exchange_code(&code, CB, &id, Some(&secret), &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")), "{b}");
    let code = code_for(&browser, &format!("{base}&scope=openid")).await;
    let (s, b) = app
        .exchange_code(
            &code,
            CB,
            &id,
            Some(&secret),
            &[("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")],
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "{b}");

    // The full-access scope (first-party): the whole profile and custom attributes.
    let code = code_for(
        &browser,
        &format!("{base}&scope=openid%20offline_access%20https%3A%2F%2Fauthgear.com%2Fscopes%2Ffull-access"),
    )
    .await;
    let (s, t) = app.exchange_code(&code, CB, &id, Some(&secret), &[]).await;
    assert_eq!(s, 200, "{t}");
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
    assert_eq!(info["name"], "Sam");
    assert_eq!(info["email"], "sam@example.com");
    assert!(info["custom_attributes"].is_object(), "{info}");
    // A refresh token is refused to another client.
    let (other, other_secret) = register(&app, "CONFIDENTIAL", CB).await;
    let (s, b) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &other),
            ("client_secret", other_secret.as_deref().unwrap()),
        ])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    // A token without openid (client credentials) gets insufficient_scope at userinfo.
    let d = app
        .ok(
            "mutation { createApplication(input: {name: \"M\", type: M2M}) { application { clientID } clientSecret } }",
            json!({}),
        )
        .await;
    let m2m = &d["createApplication"];
    let (_, cc) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", m2m["application"]["clientID"].as_str().unwrap()),
            ("client_secret", m2m["clientSecret"].as_str().unwrap()),
        ])
        .await;
    if let Some(token) = cc["access_token"].as_str() {
        let res = app.client.get(format!("{}/oauth2/userinfo", app.url)).bearer_auth(token).send().await.unwrap();
        assert!(res.status() == 401 || res.status() == 403, "{}", res.status());
    }
}

/// Authgear's SDKs log out by revoking the refresh token with nothing else; logging in
/// again keeps the refresh tokens of other apps, and a later logout still ends them.
#[tokio::test]
async fn sdk_logout_relogin_and_id_token_hint_after_login() {
    let app = spawn_app().await;
    app.create_user("tess@example.com", Some(PW)).await;
    app.create_user("uma@example.com", Some(PW)).await;
    let (a, a_secret) = register(&app, "CONFIDENTIAL", CB).await;
    let (b, b_secret) = register(&app, "CONFIDENTIAL", CB).await;
    let browser = Browser::new(&app);
    let url = |c: &str, extra: &str| {
        format!(
            "/oauth2/authorize?client_id={c}&redirect_uri={CB}&response_type=code&scope=openid%20offline_access{extra}"
        )
    };
    let exchange = |code: String, c: String, sec: String| {
        let app = &app;
        async move { app.exchange_code(&code, CB, &c, Some(&sec), &[]).await.1 }
    };
    let (_, page) = browser.open(&url(&a, "")).await.page();
    let code = param(&browser.login(&page, "tess@example.com", PW).await.redirect(), "code").unwrap();
    let ta = exchange(code, a.clone(), a_secret.clone().unwrap()).await;
    // Log in again (prompt=login) for app B: A's refresh token lives on.
    let (_, page) = browser.open(&url(&b, "&prompt=login")).await.page();
    let code = param(&browser.login(&page, "tess@example.com", PW).await.redirect(), "code").unwrap();
    let tb = exchange(code, b.clone(), b_secret.clone().unwrap()).await;
    let refresh_a = |rt: String| {
        let app = &app;
        let (a, s) = (a.clone(), a_secret.clone().unwrap());
        async move {
            app.token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &a),
                ("client_secret", &s),
            ])
            .await
        }
    };
    let (s, ra) = refresh_a(ta["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 200, "A's grant survives a new login: {ra}");

    // SDK logout for B: only the refresh token.
    let body = format!("token={}", tb["refresh_token"].as_str().unwrap());
    let res = app
        .client
        .post(format!("{}/oauth2/revoke", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (s, _) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tb["refresh_token"].as_str().unwrap()),
            ("client_id", &b),
            ("client_secret", b_secret.as_deref().unwrap()),
        ])
        .await;
    assert_eq!(s, 400, "B's grant is revoked");
    // An access token cannot be revoked anonymously.
    let body = format!("token={}", tb["access_token"].as_str().unwrap());
    let res = app
        .client
        .post(format!("{}/oauth2/revoke", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // id_token_hint names tess; logging in as uma during the request is login_required.
    let hint = tb["id_token"].as_str().unwrap();
    let other = Browser::new(&app);
    let (_, page) = other.open(&url(&a, &format!("&id_token_hint={hint}&state=h"))).await.page();
    let cb = other.login(&page, "uma@example.com", PW).await.redirect();
    assert_eq!(param(&cb, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&cb, "state").as_deref(), Some("h"));

    // Logout from the browser ends A's grant too (it moved to the new session).
    let back = browser.open(&format!("/oauth2/end_session?id_token_hint={hint}")).await.page();
    assert_eq!(back.0, 200);
    let (s, _) = refresh_a(ra["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 400, "logout ends every grant of the browser session");
}

/// Expiry rules, checked by ageing rows in the database: a code after 5 minutes, a browser
/// session past its idle timeout or lifetime; and the log-only mailer when no SMTP server
/// is configured.
#[tokio::test]
async fn codes_and_sessions_expire_and_mail_without_smtp_is_logged() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    app.create_user("vic@example.com", Some(PW)).await;
    let (id, secret) = register(&app, "CONFIDENTIAL", CB).await;
    let secret = secret.unwrap();
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let browser = Browser::new(&app);
    let base = format!("/oauth2/authorize?client_id={id}&redirect_uri={CB}&response_type=code&scope=openid");
    let (_, page) = browser.open(&base).await.page();
    let code = param(&browser.login(&page, "vic@example.com", PW).await.redirect(), "code").unwrap();
    // Five minutes later (the code's expiry moved into the past):
    db.execute_unprepared("UPDATE authorization_codes SET expires_at = expires_at - 300000001").await.unwrap();
    let (s, b) = app.exchange_code(&code, CB, &id, Some(&secret), &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("expired"));

    // The browser session is idle for longer than the timeout (7 days by default).
    assert!(param(&browser.open(&format!("{base}&prompt=none")).await.redirect(), "code").is_some());
    db.execute_unprepared("UPDATE sessions SET last_accessed_at = last_accessed_at - 604800000001").await.unwrap();
    let cb = browser.open(&format!("{base}&prompt=none")).await.redirect();
    assert_eq!(param(&cb, "error").as_deref(), Some("login_required"), "idle timeout");
    // A new login, then the absolute lifetime runs out although the session is in use.
    let (_, page) = browser.open(&base).await.page();
    browser.login(&page, "vic@example.com", PW).await.redirect();
    db.execute_unprepared("UPDATE sessions SET expires_at = 1 WHERE kind = 'idp'").await.unwrap();
    let cb = browser.open(&format!("{base}&prompt=none")).await.redirect();
    assert_eq!(param(&cb, "error").as_deref(), Some("login_required"), "lifetime");

    // Without SMTP the reset email goes to the log, and is audited as sent.
    let (_, page) = browser.open("/forgot_password").await.page();
    browser
        .submit("/forgot_password", &[("csrf", &crate::rp::hidden(&page, "csrf")), ("email", "vic@example.com")])
        .await
        .page();
    let mut sent = json!(0);
    for _ in 0..100 {
        sent = app.ok("{ auditLogs(activityTypes: [EMAIL_SENT]) { totalCount } }", json!({})).await["auditLogs"]["totalCount"].clone();
        if sent == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sent, 1);
}
