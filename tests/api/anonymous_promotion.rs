//! Promotion of an anonymous user, as Authgear's SDKs start it: an authorization request
//! with `login_hint=https://authgear.com/login_hint?type=anonymous&jwt=…` (the device key
//! signs `action: promote`), the signup page, and tokens for the same `sub`, no longer
//! anonymous. Web anonymous users (`promotion_code=`) are promoted by a provider account
//! and by a passkey here too.

use serde_json::json;

use authgraph::config::AccountLinking;

use crate::anonymous_web::{assert_promoted, promotion_code, promotion_request, token_signup, web_app};
use crate::device_key::{DeviceKey, challenge};
use crate::helpers::{TestApp, jwt_claims, spawn_with};
use crate::login_helpers::{CB, PW, start};
use crate::rp::{Browser, hidden, param, register, relying_party};
use crate::social_fake::ALICE;
use crate::social_login::{user_with_email, world_with};

const IS_ANONYMOUS: &str = "https://authgear.com/claims/user/is_anonymous";

/// A new anonymous user of `client_id` with `key`; returns the `sub`.
async fn anonymous_user(app: &TestApp, client_id: &str, key: &DeviceKey) -> String {
    let c = challenge(app, "anonymous_request").await;
    let (status, body) = app
        .token_request(&[
            ("grant_type", "urn:authgear:params:oauth:grant-type:anonymous-request"),
            ("client_id", client_id),
            ("jwt", &key.anonymous_jwt(&c)),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    jwt_claims(body["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned()
}

/// The promotion `login_hint` for `key` over a fresh challenge, with `action`.
async fn hint(app: &TestApp, key: &DeviceKey, action: &str) -> String {
    let jwt = key.anonymous_jwt_for(&challenge(app, "anonymous_request").await, action);
    format!("https://authgear.com/login_hint?type=anonymous&jwt={jwt}")
}

#[tokio::test]
async fn an_anonymous_user_signs_up_and_keeps_their_sub() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, _) = register(&app, "NATIVE", CB).await;
    let key = DeviceKey::es256();
    let sub = anonymous_user(&app, &client_id, &key).await;

    // The SDK's promotion request opens on the signup page; the account created there is
    // the anonymous user.
    let rp = relying_party(&app, &client_id, None, CB).await;
    let login_hint = hint(&app, &key, "promote").await;
    let f = start(&rp, &["offline_access"], &[("login_hint", &login_hint), ("prompt", "login")]);
    let browser = Browser::new(&app);
    let (status, page) = browser.open(&f.url).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/signup\""), "the signup page: {page}");
    assert!(!page.contains("login_hint"), "the hint is not shown as a login ID: {page}");
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("login_id", "mere@example.com".to_owned()),
        ("password", PW.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cb = browser.submit("/signup", &fields).await.redirect();
    let code = param(&cb, "code").expect("a code");
    let (status, tokens) = app
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("client_id", &client_id),
            ("code_verifier", f.verifier.secret()),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], sub, "the same user");
    assert_eq!(id[IS_ANONYMOUS], false);

    // Everywhere: a login ID and a password, no device key, no longer anonymous.
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let q = "query($id: ID!) { node(id: $id) { ... on User { isAnonymous loginIDs { claims } identities { totalCount } primaryPassword { id } } } }";
    let d = app.ok(q, json!({"id": gid})).await;
    assert_eq!(d["node"]["isAnonymous"], false, "{d}");
    assert_eq!(d["node"]["identities"]["totalCount"], 1, "{d}");
    assert_eq!(d["node"]["loginIDs"][0]["claims"]["email"], "mere@example.com");
    assert!(d["node"]["primaryPassword"]["id"].is_string(), "{d}");
    let audits = app.ok("{ auditLogs(activityTypes: [USER_ANONYMOUS_PROMOTED]) { totalCount } }", json!({})).await;
    assert_eq!(audits["auditLogs"]["totalCount"], 1);
    let users = app.ok("{ users { totalCount } }", json!({})).await;
    assert_eq!(users["users"]["totalCount"], 1, "no second user");

    // The device key no longer signs in: it was the anonymous identity.
    let c = challenge(&app, "anonymous_request").await;
    let (status, body) = app
        .token_request(&[
            ("grant_type", "urn:authgear:params:oauth:grant-type:anonymous-request"),
            ("client_id", &client_id),
            ("jwt", &key.anonymous_jwt(&c)),
        ])
        .await;
    // A key no user holds starts a new anonymous user; it is not the promoted one.
    assert_eq!(status, 200, "{body}");
    assert_ne!(jwt_claims(body["id_token"].as_str().unwrap())["sub"], sub);
}

#[tokio::test]
async fn a_promotion_hint_that_does_not_verify_is_refused_to_the_client() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, _) = register(&app, "NATIVE", CB).await;
    let key = DeviceKey::es256();
    anonymous_user(&app, &client_id, &key).await;
    let rp = relying_party(&app, &client_id, None, CB).await;
    let browser = Browser::new(&app);
    let refused = async |login_hint: &str| {
        let f = start(&rp, &[], &[("login_hint", login_hint)]);
        let cb = browser.open(&f.url).await.redirect();
        (param(&cb, "error").unwrap_or_default(), param(&cb, "error_description").unwrap_or_default())
    };
    // Another action, another key under the same ID, a replayed challenge.
    let (e, d) = refused(&hint(&app, &key, "auth").await).await;
    assert_eq!(e, "invalid_request", "{d}");
    let (e, _) = refused(&hint(&app, &key.impostor(), "promote").await).await;
    assert_eq!(e, "invalid_request");
    let once = hint(&app, &key, "promote").await;
    let f = start(&rp, &[], &[("login_hint", &once)]);
    assert_eq!(browser.open(&f.url).await.page().0, 200);
    let (e, d) = refused(&once).await;
    assert_eq!(e, "invalid_request");
    assert!(d.contains("already used"), "{d}");
    // With anonymous users off, the client may not.
    let off = spawn_with(|_| {}).await;
    let (other, _) = register(&off, "NATIVE", CB).await;
    let rp = relying_party(&off, &other, None, CB).await;
    let f = start(&rp, &[], &[("login_hint", &once)]);
    let cb = Browser::new(&off).open(&f.url).await.redirect();
    assert_eq!(param(&cb, "error").as_deref(), Some("unauthorized_client"));
}

#[tokio::test]
async fn hostile_promotion_hints_are_refused_and_promote_nobody() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, _) = register(&app, "NATIVE", CB).await;
    let key = DeviceKey::es256();
    let sub = anonymous_user(&app, &client_id, &key).await;
    let rp = relying_party(&app, &client_id, None, CB).await;
    let browser = Browser::new(&app);
    // (A URL cannot be much longer than 64 KB.)
    let big = format!("https://authgear.com/login_hint?type=anonymous&jwt={}", "a".repeat(60_000));
    for h in [
        "https://authgear.com/login_hint?type=anonymous&jwt=\0",
        "https://authgear.com/login_hint?type=anonymous",
        &big,
    ] {
        let f = start(&rp, &[], &[("login_hint", h)]);
        let res = browser.client.get(&f.url).send().await.unwrap();
        let status = res.status().as_u16();
        assert!((300..500).contains(&status), "{status} for a hostile hint");
    }
    // The same promotion hint sent 40 times at once opens one promotion.
    let once = hint(&app, &key, "promote").await;
    let f = start(&rp, &[], &[("login_hint", &once)]);
    let opened = futures::future::join_all((0..40).map(|_| browser.client.get(&f.url).send())).await;
    // An opened promotion is a page of this server; a refused one redirects to the client.
    let to_client = |r: &reqwest::Response| {
        r.headers().get("location").and_then(|l| l.to_str().ok()).is_some_and(|l| l.starts_with(CB))
    };
    let pages = opened.into_iter().filter(|r| r.as_ref().is_ok_and(|r| !to_client(r))).count();
    assert_eq!(pages, 1, "a challenge is used once");
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let d = app.ok("query($id: ID!) { node(id: $id) { ... on User { isAnonymous } } }", json!({"id": gid})).await;
    assert_eq!(d["node"]["isAnonymous"], true);
}

/// The promotion page of a web anonymous user of `w.down` (refresh-token session) in
/// `browser`: the user's `sub`, the request and the page.
async fn web_promotion_page(
    app: &TestApp,
    browser: &Browser,
    client_id: &str,
    rp: &crate::rp::Rp,
) -> (String, crate::login_helpers::Flow, String) {
    let first = token_signup(app, client_id).await;
    let sub = jwt_claims(first["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned();
    let code = promotion_code(&app.client, app, first["refresh_token"].as_str()).await;
    let flow = promotion_request(rp, &code);
    let (status, page) = browser.open(&flow.url).await.page();
    assert_eq!(status, 200, "{page}");
    (sub, flow, page)
}

#[tokio::test]
async fn a_web_anonymous_user_is_promoted_by_social_login() {
    let w = world_with(AccountLinking::LoginAndLink, |c| c.anonymous.enabled = true).await;
    user_with_email(&w.up, ALICE, true).await;
    let (client_id, rp) = web_app(&w.down).await;
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let (sub, flow, page) = web_promotion_page(&w.down, &down_b, &client_id, &rp).await;
    assert!(page.contains("action=\"/sso/oauth2/start\""), "the providers are offered: {page}");
    let to_up = down_b
        .submit(
            "/sso/oauth2/start",
            &[("csrf", &hidden(&page, "csrf")), ("flow", &hidden(&page, "flow")), ("alias", "up")],
        )
        .await
        .redirect();
    let (_, up_page) = up_b.open(&to_up).await.page();
    let back = up_b.login(&up_page, ALICE, PW).await.redirect();
    let cb = down_b.open(&back).await.redirect();
    assert!(cb.starts_with(CB), "back at the client: {cb}");
    let node = assert_promoted(&w.down, &client_id, &flow, &cb, &sub).await;
    assert_eq!(node["identities"]["edges"], json!([{"node": {"type": "OAUTH"}}]));
    let users = w.down.ok("{ users { totalCount edges { node { standardAttributes } } } }", json!({})).await;
    assert_eq!(users["users"]["totalCount"], 1, "no second user");
    assert_eq!(users["users"]["edges"][0]["node"]["standardAttributes"]["email"], ALICE);
}

#[tokio::test]
async fn a_promotion_by_a_provider_whose_email_is_another_users_login_id_is_refused() {
    // Even with login_and_link, a promotion never links to another account.
    let w = world_with(AccountLinking::LoginAndLink, |c| c.anonymous.enabled = true).await;
    user_with_email(&w.up, ALICE, true).await;
    w.down.create_user(ALICE, Some(PW)).await;
    let (client_id, rp) = web_app(&w.down).await;
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let (sub, _, page) = web_promotion_page(&w.down, &down_b, &client_id, &rp).await;
    let to_up = down_b
        .submit(
            "/sso/oauth2/start",
            &[("csrf", &hidden(&page, "csrf")), ("flow", &hidden(&page, "flow")), ("alias", "up")],
        )
        .await
        .redirect();
    let (_, up_page) = up_b.open(&to_up).await.page();
    let back = up_b.login(&up_page, ALICE, PW).await.redirect();
    let (status, page) = down_b.open(&back).await.page();
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("belongs to another account"), "{page}");
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let q = "query($id: ID!) { node(id: $id) { ... on User { isAnonymous oauthConnections { id } } } }";
    let d = w.down.ok(q, json!({"id": gid})).await;
    assert_eq!(d["node"]["isAnonymous"], true, "{d}");
    assert_eq!(d["node"]["oauthConnections"], json!([]));
    assert_eq!(w.down.audit_count_of("USER_ANONYMOUS_PROMOTED").await, 0);
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 0);
}

#[tokio::test]
async fn a_web_anonymous_user_is_promoted_by_a_passkey() {
    let mut app = spawn_with(|c| {
        c.public_url = Some(format!("http://localhost:{}", c.listen.port()));
        c.anonymous.enabled = true;
    })
    .await;
    app.url = app.url.replace("127.0.0.1", "localhost");
    let (client_id, rp) = web_app(&app).await;
    let browser = Browser::new(&app);
    let (sub, flow, page) = web_promotion_page(&app, &browser, &client_id, &rp).await;
    assert!(page.contains("action=\"/signup/passkey\""), "the passkey is offered: {page}");
    let mut device = crate::passkey_device::Device::new(&app.url);
    let credential = device.create(&crate::passkey_device::options_in(&page));
    assert_eq!(uuid::Uuid::from_slice(&device.user_handle).unwrap().to_string(), sub, "the user handle is the user's");
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("state", hidden(&page, "state")),
        ("login_id", "key@example.com".to_owned()),
        ("credential", credential),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cb = browser.submit("/signup/passkey", &fields).await.redirect();
    let node = assert_promoted(&app, &client_id, &flow, &cb, &sub).await;
    let mut types: Vec<&str> =
        node["identities"]["edges"].as_array().unwrap().iter().filter_map(|e| e["node"]["type"].as_str()).collect();
    types.sort();
    assert_eq!(types, ["LOGIN_ID", "PASSKEY"]);
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let q = "query($id: ID!) { node(id: $id) { ... on User { authenticators { edges { node { type } } } } } }";
    let d = app.ok(q, json!({"id": gid})).await;
    assert_eq!(d["node"]["authenticators"]["edges"], json!([{"node": {"type": "PASSKEY"}}]), "{d}");
    // The passkey signs the user in afterwards.
    let b = Browser::new(&app);
    let (_, login) = b.open("/login").await.page();
    let fields = [
        ("csrf", hidden(&login, "csrf")),
        ("flow", String::new()),
        ("state", hidden(&login, "state")),
        ("credential", device.get(&crate::passkey_device::options_in(&login))),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, settings) = b.submit("/login/passkey", &fields).await.page();
    assert_eq!(status, 200, "{settings}");
    assert!(settings.contains("key@example.com"), "{settings}");
}
