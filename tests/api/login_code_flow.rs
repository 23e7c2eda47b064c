//! The authorization code flow end to end through the Auth UI, with the `openidconnect`
//! crate as the relying party: public and confidential clients, code reuse and a wrong
//! verifier or redirect URI at the token endpoint, and the form_post response mode.
//! Test names follow the OpenID Foundation's Basic OP plan where one applies.

use openidconnect::core::{CoreAuthenticationFlow, CoreUserInfoClaims};
use openidconnect::{AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, Scope, TokenResponse};
use serde_json::{Value, json};

use crate::helpers::{jwt_claims, spawn_app};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, hidden, http_client, param, register, relying_party};

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
