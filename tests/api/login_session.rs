//! The login session across requests: prompts, max_age, hints and single sign-on;
//! RP-initiated logout; and an admin revoking a session's refresh family.
//! Test names follow the OpenID Foundation's Basic OP plan where one applies.

use openidconnect::{AuthorizationCode, OAuth2TokenResponse, RefreshToken, TokenResponse};
use serde_json::json;

use crate::helpers::{jwt_claims, spawn_app};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, hidden, http_client, param};

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

/// An application may have its ID tokens signed with ES256 (OpenID Connect's
/// `id_token_signed_response_alg`): discovery lists it, an RP that accepts ES256 verifies
/// the token against the JWKS, one that accepts only RS256 refuses it, and the token still
/// works as an `id_token_hint`.
#[tokio::test]
async fn an_application_may_sign_id_tokens_with_es256() {
    use openidconnect::core::CoreJwsSigningAlgorithm;
    let app = spawn_app().await;
    app.create_user("erin@example.com", Some(PW)).await;
    let (_, id) = spa(&app).await;
    let d = app
        .ok(
            "mutation($c: String!) { updateApplication(input: {clientID: $c, idTokenSigningAlgorithm: ES256}) { application { idTokenSigningAlgorithm accessTokenSigningAlgorithm } } }",
            json!({"c": id}),
        )
        .await;
    assert_eq!(d["updateApplication"]["application"]["idTokenSigningAlgorithm"], "ES256");
    assert_eq!(d["updateApplication"]["application"]["accessTokenSigningAlgorithm"], "RS256");
    let discovery: serde_json::Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", app.url)).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["RS256", "ES256", "EdDSA"]));

    let rp = crate::rp::relying_party(&app, &id, None, CB).await;
    let browser = Browser::new(&app);
    let http = http_client(reqwest::Client::new());
    let f = start(&rp, &[], &[]);
    let (_, page) = browser.open(&f.url).await.page();
    let cb = browser.login(&page, "erin@example.com", PW).await.redirect();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let header = crate::helpers::jwt_header(&id_token.to_string());
    assert_eq!(header["alg"], "ES256");
    assert!(id_token.claims(&rp.id_token_verifier(), &f.nonce).is_err(), "an RS256-only RP refuses it");
    let es256 = rp.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&es256, &f.nonce).unwrap();
    assert_eq!(claims.audiences()[0].as_str(), id);

    let f = start(&rp, &[], &[("prompt", "none"), ("id_token_hint", &id_token.to_string())]);
    assert!(param(&browser.open(&f.url).await.redirect(), "code").is_some());
}

/// A code whose browser session ended before the exchange (the user logged out), or whose
/// user was disabled since, gets no tokens; the logged-out one is not used up by trying.
#[tokio::test]
async fn a_code_after_logout_or_of_a_disabled_user_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("kim@example.com", Some(PW)).await;
    let (rp, id) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["offline_access"], &[]);
    let cb = browser.authorize_with_login(&f.url, "kim@example.com", PW).await;
    let code = param(&cb, "code").unwrap();
    let (s, page) = browser.open("/oauth2/end_session").await.page();
    assert_eq!(s, 200);
    let (s, _) = browser
        .submit("/logout", &[("csrf", &hidden(&page, "csrf")), ("request", &hidden(&page, "request"))])
        .await
        .page();
    assert_eq!(s, 200);
    let verifier = [("code_verifier", f.verifier.secret().as_str())];
    let (s, body) = app.exchange_code(&code, CB, &id, None, &verifier).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "the user logged out", "{body}");
    let (s, body) = app.exchange_code(&code, CB, &id, None, &verifier).await;
    assert_eq!(body["error_description"], "the user logged out", "not used up: {s} {body}");

    let f = start(&rp, &[], &[]);
    let cb = browser.authorize_with_login(&f.url, "kim@example.com", PW).await;
    let code = param(&cb, "code").unwrap();
    app.ok(
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    let (s, body) = app.exchange_code(&code, CB, &id, None, &[("code_verifier", f.verifier.secret())]).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error_description"], "the user is disabled or deleted", "{body}");
}
