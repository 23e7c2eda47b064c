//! Promotion of an anonymous user, as Authgear's SDKs start it: an authorization request
//! with `login_hint=https://authgear.com/login_hint?type=anonymous&jwt=…` (the device key
//! signs `action: promote`), the signup page, and tokens for the same `sub`, no longer
//! anonymous.

use serde_json::json;

use crate::device_key::{DeviceKey, challenge};
use crate::helpers::{TestApp, jwt_claims, spawn_with};
use crate::login_helpers::{CB, PW, start};
use crate::rp::{Browser, hidden, param, register, relying_party};

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
