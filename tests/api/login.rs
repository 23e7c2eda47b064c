//! End-user login through the real Auth UI forms, with the `openidconnect` crate as the
//! relying party. Test names follow the OpenID Foundation's Basic OP plan where one applies.

use openidconnect::core::{CoreAuthenticationFlow, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RefreshToken, Scope, TokenResponse,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, jwt_claims, spawn_app, spawn_with};
use crate::rp::{Browser, Rp, hidden, http_client, param, register, relying_party};

const PW: &str = "correct horse battery";
const CB: &str = "http://127.0.0.1:9/cb";

struct Flow {
    url: String,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

fn start(rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Flow {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new((*s).to_owned()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, state, nonce) = req.url();
    Flow { url: url.to_string(), state, nonce, verifier }
}

async fn spa(app: &TestApp) -> (Rp, String) {
    let (id, _) = register(app, "SPA", CB).await;
    (relying_party(app, &id, None, CB).await, id)
}

/// oidcc-server, oidcc-userinfo-get/post, oidcc-scope-*, oidcc-ensure-request-with-valid-pkce-succeeds.
#[tokio::test]
async fn code_flow_with_pkce_for_a_public_client() {
    let app = spawn_app().await;
    let user = app.create_user("alice@example.com", Some(PW)).await;
    app.ok("mutation($u: ID!) { createRole(input: {key: \"editor\"}) { role { id } } addUserToRoles(input: {userID: $u, roleKeys: [\"editor\"]}) { user { id } } updateUser(input: {userID: $u, standardAttributes: {email: \"alice@example.com\", given_name: \"Alice\"}}) { user { id } } }", json!({"u": user})).await;
    let (rp, client_id) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["email", "offline_access"], &[("x_sdk", "ios"), ("ui_locales", "en")]);
    let cb = browser.authorize_with_login(&f.url, "alice@example.com", PW).await;
    assert!(cb.starts_with(CB));
    assert_eq!(param(&cb, "state").as_deref(), Some(f.state.secret().as_str()));
    assert_eq!(param(&cb, "iss").as_deref(), Some(app.url.as_str()), "RFC 9207 iss");
    let http = http_client(reqwest::Client::new());
    let token = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = token.id_token().expect("an ID token");
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &f.nonce).expect("the ID token verifies against the JWKS");
    let expected = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    assert!(claims.auth_time().is_some());
    let raw = jwt_claims(&id_token.to_string());
    assert_eq!(raw["amr"], json!(["pwd"]));
    assert!(raw["sid"].is_string());
    assert_eq!(raw["email"], "alice@example.com");
    assert!(raw.get("given_name").is_none(), "no profile claims without the profile scope");
    assert_eq!(raw["https://authgear.com/claims/user/roles"], json!(["editor"]));
    assert_eq!(raw["https://authgear.com/claims/user/can_reauthenticate"], true);
    let access = jwt_claims(token.access_token().secret());
    assert_eq!(access["aud"], client_id.as_str());
    assert_eq!(access["https://authgear.com/claims/user/roles"], json!(["editor"]));
    assert!(token.refresh_token().is_some(), "offline_access gives a refresh token");

    let info: CoreUserInfoClaims = rp
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert!(info.given_name().is_none());
    // POST with the token in the body, and the error for a bad token.
    let body = format!("access_token={}", token.access_token().secret());
    let res = app
        .client
        .post(format!("{}/oauth2/userinfo", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["https://authgear.com/claims/user/is_anonymous"], false);
    let res = app.client.get(format!("{}/oauth2/userinfo", app.url)).bearer_auth("nope").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    let res = app.client.get(format!("{}/oauth2/userinfo", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"authgraph\"");

    // lastLoginAt and the audit trail.
    let d = app.ok("query($u: ID!) { node(id: $u) { ... on User { lastLoginAt } } auditLogs(activityTypes: [USER_AUTHENTICATED]) { totalCount } }", json!({"u": user})).await;
    assert!(d["node"]["lastLoginAt"].is_string());
    assert_eq!(d["auditLogs"]["totalCount"], 1);

    // oidcc-refresh-token: rotation through the library.
    let refreshed =
        rp.exchange_refresh_token(token.refresh_token().unwrap()).request_async(&http).await.expect("refresh");
    assert_ne!(refreshed.refresh_token().unwrap().secret(), token.refresh_token().unwrap().secret());
}

/// A confidential client authenticates at the token endpoint; PKCE is optional for it.
#[tokio::test]
async fn code_flow_for_a_confidential_client() {
    let app = spawn_app().await;
    app.create_user("bob@example.com", Some(PW)).await;
    let (id, secret) = register(&app, "TRADITIONAL_WEBAPP", CB).await;
    let secret = secret.expect("a secret");
    let rp = relying_party(&app, &id, Some(&secret), CB).await;
    let browser = Browser::new(&app);
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .url();
    let cb = browser.authorize_with_login(url.as_str(), "bob@example.com", PW).await;
    let code = param(&cb, "code").unwrap();
    // Without the secret the code is refused, and stays unused.
    let (status, body) = app.exchange_code(&code, CB, &id, None, &[]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let http = http_client(reqwest::Client::new());
    let token = rp.exchange_code(AuthorizationCode::new(code)).request_async(&http).await.unwrap();
    let claims = token.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).unwrap();
    assert!(claims.preferred_username().is_none() || claims.updated_at().is_some());
    assert!(token.refresh_token().is_none(), "no offline_access, no refresh token");
}

/// oidcc-ensure-registered-redirect-uri, unknown client: an error page, never a redirect.
#[tokio::test]
async fn wrong_redirect_uri_or_client_shows_a_page() {
    let app = spawn_app().await;
    let (_, client_id) = spa(&app).await;
    let browser = Browser::new(&app);
    let base = format!("{}/oauth2/authorize?response_type=code&scope=openid", app.url);
    let (status, page) =
        browser.open(&format!("{base}&client_id={client_id}&redirect_uri=https://evil.example.com/cb")).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("not registered"), "{page}");
    let (status, page) = browser.open(&format!("{base}&client_id=nope&redirect_uri={CB}")).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("No application"), "{page}");
    let (status, _) = browser.open(&format!("{base}&client_id={client_id}&redirect_uri={CB}&client_id=x")).await.page();
    assert_eq!(status, 400, "a repeated parameter");
}

/// Errors after the redirect URI is known go back to the client with state and iss.
#[tokio::test]
async fn request_errors_are_redirected_to_the_client() {
    let app = spawn_app().await;
    let (_, id) = spa(&app).await;
    let (conf, _) = register(&app, "CONFIDENTIAL", CB).await;
    let browser = Browser::new(&app);
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cases = [
        (
            format!("client_id={id}&response_type=token&scope=openid&code_challenge={ch}&code_challenge_method=S256"),
            "unsupported_response_type",
        ),
        (
            format!("client_id={id}&response_type=code&scope=email&code_challenge={ch}&code_challenge_method=S256"),
            "invalid_scope",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid%20admin&code_challenge={ch}&code_challenge_method=S256"
            ),
            "invalid_scope",
        ),
        (format!("client_id={id}&response_type=code&scope=openid"), "invalid_request"),
        (
            format!("client_id={id}&response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=S256&prompt=none"
            ),
            "login_required",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=S256&max_age=x"
            ),
            "invalid_request",
        ),
        (
            format!(
                "client_id={conf}&response_type=code&scope=openid%20https://authgear.com/scopes/full-access&prompt=none"
            ),
            "login_required",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&request=eyJ&code_challenge={ch}&code_challenge_method=S256"
            ),
            "request_not_supported",
        ),
        (format!("client_id={id}&scope=openid&code_challenge={ch}&code_challenge_method=S256"), "invalid_request"),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&request=eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.&code_challenge={ch}&code_challenge_method=S256"
            ),
            "request_not_supported",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&request_uri=https%3A%2F%2Fx.example.com%2Fr&code_challenge={ch}&code_challenge_method=S256"
            ),
            "request_uri_not_supported",
        ),
    ];
    for (q, want) in cases {
        let cb = browser.open(&format!("/oauth2/authorize?{q}&redirect_uri={CB}&state=s1")).await.redirect();
        assert_eq!(param(&cb, "error").as_deref(), Some(want), "{q} -> {cb}");
        assert_eq!(param(&cb, "state").as_deref(), Some("s1"));
        assert_eq!(param(&cb, "iss").as_deref(), Some(app.url.as_str()));
    }
}

/// oidcc-prompt-none-not-logged-in, oidcc-prompt-none-logged-in, oidcc-prompt-login,
/// oidcc-max-age-1, oidcc-id-token-hint, oidcc-login-hint, SSO across two applications.
#[tokio::test]
async fn prompts_max_age_hints_and_single_sign_on() {
    let app = spawn_app().await;
    app.create_user("carol@example.com", Some(PW)).await;
    app.create_user("dave@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let (rp2, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let http = http_client(reqwest::Client::new());

    let f = start(&rp, &[], &[("prompt", "none")]);
    let cb = browser.open(&f.url).await.redirect();
    assert_eq!(param(&cb, "error").as_deref(), Some("login_required"));

    // login_hint prefills the login ID.
    let f = start(&rp, &[], &[("login_hint", "carol@example.com")]);
    let (_, page) = browser.open(&f.url).await.page();
    assert_eq!(hidden(&page, "login_id"), "carol@example.com");
    let cb = browser.login(&page, "carol@example.com", PW).await.redirect();
    let first = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = first.id_token().unwrap().to_string();
    let auth_time = jwt_claims(&id_token)["auth_time"].as_i64().unwrap();

    // Logged in: prompt=none gives a code at once; so does another app (SSO).
    let f = start(&rp, &[], &[("prompt", "none")]);
    let cb = browser.open(&f.url).await.redirect();
    assert!(param(&cb, "code").is_some(), "{cb}");
    let f = start(&rp2, &[], &[]);
    let cb = browser.open(&f.url).await.redirect();
    let t2 = rp2
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let c2 = t2.id_token().unwrap().claims(&rp2.id_token_verifier(), &f.nonce).unwrap();
    assert_eq!(c2.auth_time().unwrap().timestamp(), auth_time, "SSO keeps the original auth_time");

    // id_token_hint for the logged-in user works; for another user it is login_required.
    let f = start(&rp, &[], &[("prompt", "none"), ("id_token_hint", &id_token)]);
    assert!(param(&browser.open(&f.url).await.redirect(), "code").is_some());
    let other = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let cb = other.authorize_with_login(&f.url, "dave@example.com", PW).await;
    let dave = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let f = start(&rp, &[], &[("prompt", "none"), ("id_token_hint", &dave.id_token().unwrap().to_string())]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("login_required"));

    // prompt=login shows the login page although a session exists; then a fresh auth_time.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let f = start(&rp, &[], &[("prompt", "login")]);
    let cb = browser.authorize_with_login(&f.url, "carol@example.com", PW).await;
    let t = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let fresh = jwt_claims(&t.id_token().unwrap().to_string())["auth_time"].as_i64().unwrap();
    assert!(fresh > auth_time);

    // max_age=1 after two seconds asks to log in again; prompt=none then says login_required.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let f = start(&rp, &[], &[("max_age", "1"), ("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("login_required"));
    let f = start(&rp, &[], &[("max_age", "1")]);
    let cb = browser.authorize_with_login(&f.url, "carol@example.com", PW).await;
    assert!(param(&cb, "code").is_some());

    // select_account shows who is logged in.
    let f = start(&rp, &[], &[("prompt", "select_account")]);
    let (status, page) = browser.open(&f.url).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("carol@example.com"), "{page}");
    let cb = browser
        .submit(
            "/select_account",
            &[("csrf", &hidden(&page, "csrf")), ("flow", &hidden(&page, "flow")), ("action", "continue")],
        )
        .await
        .redirect();
    assert!(param(&cb, "code").is_some());
}

/// oidcc-codereuse, oidcc-codereuse-30seconds, wrong PKCE verifier, wrong redirect_uri.
#[tokio::test]
async fn code_reuse_wrong_verifier_and_wrong_redirect_uri() {
    let app = spawn_app().await;
    app.create_user("erin@example.com", Some(PW)).await;
    let (rp, id) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["offline_access"], &[]);
    let cb = browser.authorize_with_login(&f.url, "erin@example.com", PW).await;
    let code = param(&cb, "code").unwrap();
    let verifier = f.verifier.secret().clone();
    let base = [("grant_type", "authorization_code"), ("client_id", id.as_str()), ("code", code.as_str())];
    let (s, b) = app
        .token_request(&[&base[..], &[("redirect_uri", CB), ("code_verifier", "x".repeat(43).as_str())]].concat())
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "wrong verifier");
    let (s, b) = app
        .token_request(
            &[&base[..], &[("redirect_uri", "http://127.0.0.1:9/other"), ("code_verifier", &verifier)]].concat(),
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "wrong redirect_uri");
    let (s, first) =
        app.token_request(&[&base[..], &[("redirect_uri", CB), ("code_verifier", &verifier)]].concat()).await;
    assert_eq!(s, 200, "{first}");
    let (s, b) = app.token_request(&[&base[..], &[("redirect_uri", CB), ("code_verifier", &verifier)]].concat()).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "second use");
    // The second use revoked what the first one issued.
    let (s, _) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(s, 400);
    let res = app
        .client
        .get(format!("{}/oauth2/userinfo", app.url))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The refresh token of a used-up code is gone; a refresh with a wrong client too.
    let (s, b) = app.exchange_code("nope", CB, &id, None, &[("code_verifier", &verifier)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
}

/// response_mode=form_post answers with an auto-submitting form.
#[tokio::test]
async fn form_post_response_mode() {
    let app = spawn_app().await;
    app.create_user("frank@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[("response_mode", "form_post")]);
    let (_, page) = browser.open(&f.url).await.page();
    let (status, page) = browser.login(&page, "frank@example.com", PW).await.page();
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("action=\"{}\"", CB.replace('/', "&#x2f;")))
            || page.contains(&format!("action=\"{CB}\"")),
        "{page}"
    );
    assert!(!hidden(&page, "code").is_empty());
    assert_eq!(hidden(&page, "state"), *f.state.secret());
    assert_eq!(hidden(&page, "iss"), app.url);
}

/// Failed logins say the same thing for an unknown login ID and a wrong password; a
/// disabled user is told why and gets no session; forms need their CSRF token.
#[tokio::test]
async fn failed_and_disabled_logins() {
    let app = spawn_app().await;
    let user = app.create_user("gina@example.com", Some(PW)).await;
    let (rp, id) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["offline_access"], &[]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s1, wrong_pw) = browser.login(&page, "gina@example.com", "wrong password").await.page();
    let (s2, unknown) = browser.login(&page, "nobody@example.com", PW).await.page();
    assert_eq!((s1, s2), (401, 401));
    let msg = "The login ID or the password is incorrect.";
    assert!(wrong_pw.contains(msg) && unknown.contains(msg));
    let d = app.ok("{ a: auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSWORD_FAILED]) { totalCount } b: auditLogs(activityTypes: [AUTHENTICATION_IDENTITY_LOGIN_ID_FAILED]) { totalCount } }", json!({})).await;
    assert_eq!((d["a"]["totalCount"].as_i64(), d["b"]["totalCount"].as_i64()), (Some(1), Some(1)));
    let (s, _) = browser
        .submit("/login", &[("flow", &hidden(&page, "flow")), ("login_id", "gina@example.com"), ("password", PW)])
        .await
        .page();
    assert_eq!(s, 403, "no CSRF token");

    // A refresh token from before the account was disabled stops working.
    let cb = browser.login(&page, "gina@example.com", PW).await.redirect();
    let code = param(&cb, "code").unwrap();
    let (_, t) = app.exchange_code(&code, CB, &id, None, &[("code_verifier", f.verifier.secret())]).await;
    app.ok("mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true, reason: \"Unpaid invoices\"}) { user { id } } }", json!({"u": user})).await;
    let (s, b) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let fresh = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, page) = fresh.open(&f.url).await.page();
    let (s, body) = fresh.login(&page, "gina@example.com", PW).await.page();
    assert_eq!(s, 403);
    assert!(body.contains("Unpaid invoices"), "{body}");
    let f = start(&rp, &[], &[("prompt", "none")]);
    assert_eq!(param(&fresh.open(&f.url).await.redirect(), "error").as_deref(), Some("login_required"));
}

/// oidcc-rp-initiated-logout: end_session with id_token_hint ends the session and its
/// refresh tokens and returns to the registered post-logout URI with state; without a
/// hint the user is asked to confirm.
#[tokio::test]
async fn logout_ends_the_session_and_its_refresh_tokens() {
    let app = spawn_app().await;
    app.create_user("hank@example.com", Some(PW)).await;
    let (rp, id) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["offline_access"], &[]);
    let cb = browser.authorize_with_login(&f.url, "hank@example.com", PW).await;
    let code = param(&cb, "code").unwrap();
    let (_, t) = app.exchange_code(&code, CB, &id, None, &[("code_verifier", f.verifier.secret())]).await;
    let id_token = t["id_token"].as_str().unwrap();

    let (s, page) = browser
        .open(&format!(
            "/oauth2/end_session?id_token_hint={id_token}&post_logout_redirect_uri=https://evil.example.com/"
        ))
        .await
        .page();
    assert_eq!(s, 400, "unregistered post-logout URI: {page}");
    let back = browser
        .open(&format!(
            "/oauth2/end_session?id_token_hint={id_token}&post_logout_redirect_uri=http://127.0.0.1:9/bye&state=xyz"
        ))
        .await
        .redirect();
    assert_eq!(back, "http://127.0.0.1:9/bye?state=xyz");
    let (s, _) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(s, 400, "the refresh token ended with the session");
    let f = start(&rp, &[], &[("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("login_required"));
    let d = app.ok("{ auditLogs(activityTypes: [USER_SIGNED_OUT]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 1);

    // Without a hint: a confirmation page, then the session ends.
    let f = start(&rp, &[], &[]);
    browser.authorize_with_login(&f.url, "hank@example.com", PW).await;
    let (s, page) = browser.open("/oauth2/end_session").await.page();
    assert_eq!(s, 200);
    assert!(page.contains("Sign out?"), "{page}");
    let (s, page) = browser
        .submit("/logout", &[("csrf", &hidden(&page, "csrf")), ("request", &hidden(&page, "request"))])
        .await
        .page();
    assert_eq!(s, 200);
    assert!(page.contains("signed out"), "{page}");
    let f = start(&rp, &[], &[("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("login_required"));
}

/// Third-party applications ask for consent once; first-party ones never do.
#[tokio::test]
async fn consent_for_third_party_applications() {
    let app = spawn_app().await;
    let user = app.create_user("ivy@example.com", Some(PW)).await;
    let (id, secret) = register(&app, "THIRD_PARTY_APP", CB).await;
    let rp = relying_party(&app, &id, secret.as_deref(), CB).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["email"], &[]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s, consent) = browser.login(&page, "ivy@example.com", PW).await.page();
    assert_eq!(s, 200);
    assert!(consent.contains("See your email address"), "{consent}");
    let denied = browser
        .submit(
            "/consent",
            &[("csrf", &hidden(&consent, "csrf")), ("flow", &hidden(&consent, "flow")), ("action", "deny")],
        )
        .await
        .redirect();
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    let f = start(&rp, &["email"], &[("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("consent_required"));
    let f = start(&rp, &["email"], &[]);
    let (_, consent) = browser.open(&f.url).await.page();
    let cb = browser
        .submit(
            "/consent",
            &[("csrf", &hidden(&consent, "csrf")), ("flow", &hidden(&consent, "flow")), ("action", "allow")],
        )
        .await
        .redirect();
    assert!(param(&cb, "code").is_some());
    let f = start(&rp, &["email"], &[("prompt", "none")]);
    assert!(param(&browser.open(&f.url).await.redirect(), "code").is_some(), "consent is remembered");
    let f = start(&rp, &["email"], &[("prompt", "consent")]);
    let (s, page) = browser.open(&f.url).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("wants to access your account"), "prompt=consent asks again: {page}");
    let f = start(&rp, &["openid", "https://authgear.com/scopes/full-access"], &[]);
    assert_eq!(
        param(&browser.open(&f.url).await.redirect(), "error").as_deref(),
        Some("invalid_scope"),
        "full-access is first-party only"
    );
    // The Admin API lists the consent and can withdraw it.
    let d = app.ok("query($u: ID!) { node(id: $u) { ... on User { authorizations { edges { node { id clientID scopes } } } } } }", json!({"u": user})).await;
    let consent = &d["node"]["authorizations"]["edges"][0]["node"];
    assert_eq!(consent["clientID"], id.as_str());
    assert_eq!(consent["scopes"], json!(["openid", "email"]));
    let d = app
        .ok("query($a: ID!) { node(id: $a) { ... on Authorization { clientID } } }", json!({"a": consent["id"]}))
        .await;
    assert_eq!(d["node"]["clientID"], id.as_str());
    app.ok("mutation($a: ID!) { deleteAuthorization(input: {authorizationID: $a}) { user { authorizations { totalCount } } } }", json!({"a": consent["id"]})).await;
    let f = start(&rp, &["email"], &[("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("consent_required"));
    app.err(
        "mutation($a: ID!) { deleteAuthorization(input: {authorizationID: $a}) { user { id } } }",
        json!({"a": consent["id"]}),
        "NOT_FOUND",
        None,
    )
    .await;
}

/// Signup creates the account and logs in; the policy is explained up front.
#[tokio::test]
async fn signup_then_code() {
    let app = spawn_with(|c| c.password_policy.digit_required = true).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, login) = browser.open(&f.url).await.page();
    let flow = hidden(&login, "flow");
    let (s, page) = browser
        .open(&format!("/signup?flow={}", url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()))
        .await
        .page();
    assert_eq!(s, 200);
    assert!(page.contains("Contains a digit."), "{page}");
    let csrf = hidden(&page, "csrf");
    let (s, again) = browser
        .submit(
            "/signup",
            &[("csrf", &csrf), ("flow", &flow), ("login_id", "new@example.com"), ("password", "no digits here")],
        )
        .await
        .page();
    assert_eq!(s, 422);
    assert!(again.contains("digit"), "{again}");
    let cb = browser
        .submit(
            "/signup",
            &[("csrf", &csrf), ("flow", &flow), ("login_id", "new@example.com"), ("password", "4 digits 1234")],
        )
        .await
        .redirect();
    assert!(param(&cb, "code").is_some());
    let (s, dup) = browser
        .submit(
            "/signup",
            &[("csrf", &csrf), ("flow", &flow), ("login_id", "NEW@example.com"), ("password", "4 digits 1234")],
        )
        .await
        .page();
    assert_eq!(s, 422);
    assert!(dup.contains("already exists"), "{dup}");
}

/// Admin revocation of a session ends its refresh family.
#[tokio::test]
async fn admin_revocation_ends_a_refresh_family() {
    let app = spawn_app().await;
    let user = app.create_user("jack@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let http = http_client(reqwest::Client::new());
    let f = start(&rp, &["offline_access"], &[]);
    let cb = browser.authorize_with_login(&f.url, "jack@example.com", PW).await;
    let t = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let d = app.ok("query($u: ID!) { node(id: $u) { ... on User { sessions { edges { node { id type clientID amr userAgent } } } } } }", json!({"u": user})).await;
    let sessions = d["node"]["sessions"]["edges"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "the browser session and the refresh grant: {d}");
    let grant = sessions.iter().find(|s| !s["node"]["clientID"].is_null()).unwrap();
    assert_eq!(grant["node"]["amr"], json!(["pwd"]));
    let idp = sessions.iter().find(|s| s["node"]["clientID"].is_null()).unwrap();
    assert_eq!(idp["node"]["userAgent"], "test-browser/1.0");
    app.ok(
        "mutation($s: ID!) { revokeSession(input: {sessionID: $s}) { user { id } } }",
        json!({"s": grant["node"]["id"]}),
    )
    .await;
    let err = rp
        .exchange_refresh_token(&RefreshToken::new(t.refresh_token().unwrap().secret().clone()))
        .request_async(&http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
}

/// A sealed request cannot carry one user's consent or account choice to another browser:
/// the victim still sees the consent page.
#[tokio::test]
async fn consent_cannot_be_carried_to_another_user() {
    let app = spawn_app().await;
    app.create_user("mallory@example.com", Some(PW)).await;
    app.create_user("victim@example.com", Some(PW)).await;
    let (id, secret) = register(&app, "THIRD_PARTY_APP", CB).await;
    let rp = relying_party(&app, &id, secret.as_deref(), CB).await;
    let attacker = Browser::new(&app);
    let f = start(&rp, &["email"], &[]);
    let (_, consent) = attacker.open(&f.url).await.page();
    attacker.login(&consent, "mallory@example.com", PW).await.page();
    let f = start(&rp, &["email"], &[("prompt", "select_account")]);
    let res = attacker.client.get(&f.url).send().await.unwrap();
    let select = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(select.starts_with("/select_account?flow="), "{select}");
    let flow = param(&format!("http://x{select}"), "flow").unwrap();
    let (_, page) = attacker
        .open(&format!("/consent?flow={}", url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()))
        .await
        .page();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", hidden(&page, "csrf").as_str()), ("flow", &hidden(&page, "flow")), ("action", "allow")])
        .finish();
    let res = attacker
        .client
        .post(format!("{}/consent", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let carried = res.headers()["location"].to_str().unwrap().to_owned();
    let carried_flow = param(&format!("http://x{carried}"), "flow").unwrap();

    let victim = Browser::new(&app);
    let (_, login) = victim.open("/login").await.page();
    victim.login(&login, "victim@example.com", PW).await.page();
    let resume = format!(
        "/oauth2/authorize/resume?flow={}",
        url::form_urlencoded::byte_serialize(carried_flow.as_bytes()).collect::<String>()
    );
    // The victim logged in after the request was made, so no account choice is asked;
    // the attacker's consent does not count for the victim.
    let (s, page) = victim.open(&resume).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("wants to access your account"), "the victim is asked for consent: {page}");
    assert!(page.contains("victim@example.com"));
}

/// Failed logins are limited per login ID and per IP address (counted in the database);
/// a blocked attempt is refused before any password hash is computed.
#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let app = spawn_with(|c| {
        c.rate_limits.login_failures_per_account_per_minute = 3;
        c.rate_limits.login_failures_per_ip_per_minute = 5;
    })
    .await;
    app.create_user("pat@example.com", Some(PW)).await;
    app.create_user("quinn@example.com", Some(PW)).await;
    // Counters use one-minute windows: start well inside one.
    while time::OffsetDateTime::now_utc().second() > 55 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/login").await.page();
    for _ in 0..3 {
        assert_eq!(browser.login(&page, "pat@example.com", "wrong password").await.page().0, 401);
    }
    let (s, body) = browser.login(&page, "pat@example.com", PW).await.page();
    assert_eq!(s, 429, "even the right password waits: {body}");
    assert!(body.contains("Too many failed attempts"));
    // Another account from the same address still works, until the address's limit.
    for _ in 0..2 {
        assert_eq!(browser.login(&page, "quinn@example.com", "wrong password").await.page().0, 401);
    }
    assert_eq!(browser.login(&page, "quinn@example.com", PW).await.page().0, 429, "the IP limit");
    let d = app.ok("{ auditLogs(activityTypes: [RATE_LIMIT_BLOCKED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 2);
}

/// RFC 8252 §7.3: a native app's loopback IP redirect URI matches any port; nothing else
/// about it varies, and other app types and `localhost` still match exactly.
#[tokio::test]
async fn native_loopback_redirect_uris_match_any_port() {
    let app = spawn_app().await;
    app.create_user("nina@example.com", Some(PW)).await;
    let (native, _) = register(&app, "NATIVE", "http://127.0.0.1/cb").await;
    let browser = Browser::new(&app);
    let verifier = "v".repeat(43);
    let challenge = authgraph::crypto::b64(authgraph::crypto::sha256(verifier.as_bytes()));
    let url = |client: &str, redirect: &str| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("scope", "openid"),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        format!("{}/oauth2/authorize?{q}", app.url)
    };
    let used = "http://127.0.0.1:21234/cb";
    let cb = browser.authorize_with_login(&url(&native, used), "nina@example.com", PW).await;
    assert!(cb.starts_with(&format!("{used}?")), "{cb}");
    let code = param(&cb, "code").unwrap();
    // The token request must name the URI used at authorize, port included.
    let (s, b) = app.exchange_code(&code, "http://127.0.0.1/cb", &native, None, &[("code_verifier", &verifier)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "{b}");
    let cb = browser.open(&url(&native, "http://127.0.0.1:20000/cb")).await.redirect();
    assert!(cb.starts_with("http://127.0.0.1:20000/cb?"), "{cb}");
    let code = param(&cb, "code").unwrap();
    let (s, b) =
        app.exchange_code(&code, "http://127.0.0.1:20001/cb", &native, None, &[("code_verifier", &verifier)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "another port at the token endpoint");
    let cb = browser.open(&url(&native, used)).await.redirect();
    let (s, b) =
        app.exchange_code(&param(&cb, "code").unwrap(), used, &native, None, &[("code_verifier", &verifier)]).await;
    assert_eq!(s, 200, "{b}");

    // IPv6 loopback too.
    let (v6, _) = register(&app, "NATIVE", "http://[::1]:8080/cb").await;
    let cb = browser.open(&url(&v6, "http://[::1]:7000/cb")).await.redirect();
    assert!(cb.starts_with("http://[::1]:7000/cb?"), "{cb}");

    // Everything but the port is exact; localhost and other app types match exactly.
    let (localhost, _) = register(&app, "NATIVE", "http://localhost/cb").await;
    let (spa_id, _) = register(&app, "SPA", "http://127.0.0.1/cb").await;
    for (client, redirect) in [
        (&native, "http://127.0.0.1:21234/cb/"),
        (&native, "http://127.0.0.1:21234/cb?x=1"),
        (&native, "http://127.0.0.2:21234/cb"),
        (&native, "https://127.0.0.1:21234/cb"),
        (&native, "http://127.0.0.1:21234/a/../cb"),
        (&localhost, "http://localhost:21234/cb"),
        (&spa_id, "http://127.0.0.1:21234/cb"),
    ] {
        let (s, page) = browser.open(&url(client, redirect)).await.page();
        assert_eq!(s, 400, "{redirect}");
        assert!(page.contains("not registered"), "{redirect}: {page}");
    }
}
