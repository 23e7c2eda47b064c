//! Passkeys through the real forms, with a software authenticator (`passkey_device.rs`)
//! standing in for the browser: registration in settings, sign-in with a discoverable
//! credential inside an OAuth code flow (`amr` `["x_passkey"]`), replayed and foreign
//! challenges, a wrong origin, a counter going backwards, deletion through settings and
//! the Admin API, and a user with TOTP who is not asked for it after a passkey.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::{PW, spa, start};
use crate::login_mfa::tokens;
use crate::passkey_device::{Device, options_in};
use crate::rp::{Browser, Landing, hidden};
use crate::totp::{enrol, signed_in};

/// An app whose `public_url` is `http://localhost:<port>` (an IP address is not a valid
/// RP ID), reached by the tests at that URL.
pub(crate) async fn spawn_localhost() -> TestApp {
    let mut app = spawn_with(|c| c.public_url = Some(format!("http://localhost:{}", c.listen.port()))).await;
    app.url = app.url.replace("127.0.0.1", "localhost");
    app
}

/// Registers a new passkey in the settings of a signed-in browser; returns the device
/// and the page the form lands on.
pub(crate) async fn register(app: &TestApp, browser: &Browser, name: &str) -> (Device, String) {
    let (s, page) = browser.open("/settings").await.page();
    assert_eq!(s, 200, "{page}");
    let mut device = Device::new(&app.url);
    let credential = device.create(&options_in(&page));
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("state", hidden(&page, "state")),
        ("credential", credential),
        ("display_name", name.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, page) = browser.submit("/settings/passkeys", &fields).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The passkey is added"), "{page}");
    (device, page)
}

/// Posts an assertion made by `sign` for the login page `page`.
pub(crate) async fn sign_in_on(browser: &Browser, page: &str, credential: String) -> Landing {
    let fields = [
        ("csrf", hidden(page, "csrf")),
        ("flow", hidden(page, "flow")),
        ("state", hidden(page, "state")),
        ("credential", credential),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit("/login/passkey", &fields).await
}

pub(crate) async fn login_page(browser: &Browser, url: &str) -> String {
    let (s, page) = browser.open(url).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("data-passkey=\"get\""), "the passkey form: {page}");
    page
}

async fn user_passkeys(app: &TestApp, user: &str) -> Value {
    let q = "query($id: ID!) { node(id: $id) { ... on User { passkeys { id claims } \
             authenticators(authenticatorType: PASSKEY) { edges { node { id kind claims } } } } } }";
    app.ok(q, json!({"id": user})).await["node"].clone()
}

#[tokio::test]
async fn register_in_settings_then_sign_in_through_the_code_flow_with_amr_x_passkey() {
    let app = spawn_localhost().await;
    let (browser, _, user) = signed_in(&app, "pat@example.com").await;
    let (device, page) = register(&app, &browser, "Pat's laptop").await;
    assert!(page.contains("Pat&#x27;s laptop") || page.contains("Pat's laptop"), "{page}");

    // The Admin API: one passkey identity with Authgear's claims, paired with a primary
    // passkey authenticator of the same credential ID.
    let node = user_passkeys(&app, &user).await;
    let claims = &node["passkeys"][0]["claims"];
    assert_eq!(claims["https://authgear.com/claims/passkey/credential_id"], device.id(), "{node}");
    assert_eq!(claims["https://authgear.com/claims/passkey/display_name"], "Pat's laptop", "{node}");
    let auth = &node["authenticators"]["edges"][0]["node"];
    assert_eq!(auth["kind"], "PRIMARY", "{node}");
    assert_eq!(auth["claims"]["https://authgear.com/claims/passkey/credential_id"], device.id(), "{node}");
    assert_eq!(app.audit_count_of("IDENTITY_PASSKEY_ADDED").await, 1);

    // Another browser signs in without typing a login ID, inside a code flow.
    let mut device = device;
    let (rp, _) = spa(&app).await;
    let other = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = login_page(&other, &f.url).await;
    assert!(page.contains("autocomplete=\"username webauthn\""), "{page}");
    assert!(page.contains("<script src=\"/static/passkey.js\"></script>"), "{page}");
    let res = other.client.get(format!("{}/login", app.url)).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    let options = options_in(&page);
    assert_eq!(options["userVerification"], "required", "{options}");
    let credential = device.get(&options);
    let cb = sign_in_on(&other, &page, credential.clone()).await.redirect();
    let (id, access) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["x_passkey"]), "{id}");
    assert_eq!(access["amr"], id["amr"]);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, 2);

    // The same ceremony again (a replay): refused, nothing signed in.
    let third = Browser::new(&app);
    let (_, fresh) = third.open("/login").await.page();
    let replay = [
        ("csrf", hidden(&fresh, "csrf")),
        ("flow", String::new()),
        ("state", hidden(&page, "state")),
        ("credential", credential),
    ];
    let replay: Vec<(&str, &str)> = replay.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, body) = third.submit("/login/passkey", &replay).await.page();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("already used"), "{body}");
    let (_, settings) = third.open("/settings").await.page();
    assert!(settings.contains("action=\"/login\""), "not signed in: {settings}");

    // The script is served from this server.
    let js = reqwest::get(format!("{}/static/passkey.js", app.url)).await.unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(js.text().await.unwrap().contains("navigator.credentials.get"));
}

#[tokio::test]
async fn foreign_challenges_wrong_origins_and_backward_counters_are_refused() {
    let app = spawn_localhost().await;
    let (browser, _, user) = signed_in(&app, "quin@example.com").await;
    let (mut device, _) = register(&app, &browser, "Key").await;
    let failed = || app.audit_count_of("AUTHENTICATION_PRIMARY_PASSKEY_FAILED");

    // Garbage in place of the credential or of the state: a clear 400, nobody signed in.
    let b = Browser::new(&app);
    let page = login_page(&b, "/login").await;
    let good = device.assert_with(&options_in(&page), 0);
    for (state, credential, says) in [
        (hidden(&page, "state"), "{\"id\": 1}".to_owned(), "cannot be read"),
        (hidden(&page, "state"), String::new(), "cannot be read"),
        ("x.y".to_owned(), good.clone(), "expired"),
        (format!("{}x", hidden(&page, "state")), good, "expired"),
    ] {
        let fields =
            [("csrf", hidden(&page, "csrf")), ("flow", String::new()), ("state", state), ("credential", credential)];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, body) = b.submit("/login/passkey", &fields).await.page();
        assert_eq!(s, 400, "{body}");
        assert!(body.contains(says), "{says}: {body}");
    }
    let (_, settings) = b.open("/settings").await.page();
    assert!(settings.contains("action=\"/login\""), "not signed in: {settings}");

    // Signed for one page's challenge, posted with another page's state.
    let b = Browser::new(&app);
    let first = login_page(&b, "/login").await;
    let second = login_page(&b, "/login").await;
    let signed = device.get(&options_in(&first));
    let (s, body) = sign_in_on(&b, &second, signed).await.page();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("could not be verified"), "{body}");
    assert_eq!(failed().await, 1);

    // A page of another origin (a phishing site) asks for the assertion.
    let page = login_page(&b, "/login").await;
    let real = device.origin.clone();
    device.origin = real.replace("localhost", "evil.localhost");
    let signed = device.get(&options_in(&page));
    device.origin = real;
    let (s, body) = sign_in_on(&b, &page, signed).await.page();
    assert_eq!(s, 400, "{body}");
    assert_eq!(failed().await, 2);

    // A good sign-in stores the counter; a lower or equal one afterwards is refused and audited.
    let page = login_page(&b, "/login").await;
    let now = device.counter + 5;
    let (s, body) = sign_in_on(&b, &page, device.assert_with(&options_in(&page), now)).await.page();
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("Your account"), "signed in: {body}");
    let c = Browser::new(&app);
    for old in [now - 1, now] {
        let page = login_page(&c, "/login").await;
        let (s, body) = sign_in_on(&c, &page, device.assert_with(&options_in(&page), old)).await.page();
        assert_eq!(s, 400, "{body}");
        assert!(body.contains("signature counter went backwards"), "{body}");
    }
    assert_eq!(failed().await, 4);
    let q = "{ auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSKEY_FAILED]) { edges { node { data } } } }";
    let d = app.ok(q, json!({})).await;
    assert!(d.to_string().contains("signature counter went backwards"), "{d}");
    let stored = &user_passkeys(&app, &user).await["passkeys"][0]["claims"];
    assert_eq!(stored["https://authgear.com/claims/passkey/credential_id"], device.id());

    // The stored counter moved on: the next higher one signs in.
    let page = login_page(&c, "/login").await;
    let (s, body) = sign_in_on(&c, &page, device.assert_with(&options_in(&page), now + 1)).await.page();
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn passkeys_are_removed_in_settings_and_through_delete_identity() {
    let app = spawn_localhost().await;
    let (browser, _, user) = signed_in(&app, "rae@example.com").await;
    let (mut phone, _) = register(&app, &browser, "Phone").await;
    let (mut laptop, page) = register(&app, &browser, "Laptop").await;
    assert_eq!(user_passkeys(&app, &user).await["authenticators"]["edges"].as_array().unwrap().len(), 2);

    // Settings: the first passkey listed is the phone's.
    let csrf = hidden(&page, "csrf");
    let id = hidden(&page, "identity_id");
    let node = user_passkeys(&app, &user).await;
    assert_eq!(node["passkeys"][0]["claims"]["https://authgear.com/claims/passkey/display_name"], "Phone");
    let (s, page) = browser.submit("/settings/passkeys/remove", &[("csrf", &csrf), ("identity_id", &id)]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The passkey is removed"), "{page}");
    assert_eq!(app.audit_count_of("IDENTITY_PASSKEY_REMOVED").await, 1);
    let node = user_passkeys(&app, &user).await;
    assert_eq!(node["passkeys"].as_array().unwrap().len(), 1, "{node}");
    let edges = node["authenticators"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{node}");
    assert_eq!(edges[0]["node"]["claims"]["https://authgear.com/claims/passkey/credential_id"], laptop.id());
    // The removed passkey no longer signs in.
    let b = Browser::new(&app);
    let page = login_page(&b, "/login").await;
    let (s, body) = sign_in_on(&b, &page, phone.get(&options_in(&page))).await.page();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("not registered here"), "{body}");

    // deleteAuthenticator refuses a passkey's authenticator (it goes with its identity).
    let aid = edges[0]["node"]["id"].as_str().unwrap().to_owned();
    let del = "mutation($i: ID!) { deleteAuthenticator(input: {authenticatorID: $i}) { user { id } } }";
    app.err(del, json!({"i": aid}), "BAD_USER_INPUT", Some("UnsupportedAuthenticatorType")).await;

    // The Admin API's deleteIdentity removes the identity and its authenticator.
    let gid = node["passkeys"][0]["id"].as_str().unwrap().to_owned();
    let delete = "mutation($i: ID!) { deleteIdentity(input: {identityID: $i}) { user { passkeys { id } } } }";
    let d = app.ok(delete, json!({"i": gid})).await;
    assert_eq!(d["deleteIdentity"]["user"]["passkeys"], json!([]));
    let node = user_passkeys(&app, &user).await;
    assert_eq!(node["authenticators"]["edges"], json!([]), "{node}");
    let q = "{ auditLogs(activityTypes: [ADMIN_API_MUTATION_DELETE_IDENTITY_EXECUTED]) { edges { node { data } } } }";
    let d = app.ok(q, json!({})).await;
    assert!(d.to_string().contains(&laptop.id()), "the paired authenticator is in the audit row: {d}");
    let page = login_page(&b, "/login").await;
    let (s, _) = sign_in_on(&b, &page, laptop.get(&options_in(&page))).await.page();
    assert_eq!(s, 400);
}

#[tokio::test]
async fn a_user_with_totp_is_not_asked_for_it_after_a_passkey() {
    let app = spawn_localhost().await;
    let (browser, csrf, _) = signed_in(&app, "sam@example.com").await;
    enrol(&browser, &csrf, "Phone app").await;
    let (mut device, _) = register(&app, &browser, "Key").await;

    // The password alone leads to the second-factor page...
    let (rp, _) = spa(&app).await;
    let pw = Browser::new(&app);
    let (_, login) = pw.open("/login").await.page();
    let (_, page) = pw.login(&login, "sam@example.com", PW).await.page();
    assert!(page.contains("action=\"/login/totp\""), "{page}");
    // ...the passkey signs in directly.
    let b = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = login_page(&b, &f.url).await;
    let cb = sign_in_on(&b, &page, device.get(&options_in(&page))).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["x_passkey"]), "{id}");
}

#[tokio::test]
async fn signup_with_a_passkey_instead_of_a_password() {
    let app = spawn_localhost().await;
    let browser = Browser::new(&app);
    let (s, page) = browser.open("/signup").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/signup/passkey\""), "{page}");
    let mut device = Device::new(&app.url);
    let credential = device.create(&options_in(&page));
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", String::new()),
        ("state", hidden(&page, "state")),
        ("login_id", "uma@example.com".to_owned()),
        ("credential", credential),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, settings) = browser.submit("/signup/passkey", &fields).await.page();
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("Signed in as <strong>uma@example.com</strong>"), "{settings}");
    // The same form again: the ceremony was used.
    let other = Browser::new(&app);
    let (_, fresh) = other.open("/signup").await.page();
    let mut again = fields.clone();
    let csrf = hidden(&fresh, "csrf");
    again[0] = ("csrf", csrf.as_str());
    let (s, body) = other.submit("/signup/passkey", &again).await.page();
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("already used"), "{body}");

    // One user: an email login ID, a passkey whose user handle is the user's ID, no password.
    let d = app.ok("{ users(first: 5) { edges { node { id rawID loginIDs { id } } } } }", json!({})).await;
    let users = d["users"]["edges"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{d}");
    let user = users[0]["node"]["id"].as_str().unwrap().to_owned();
    assert_eq!(users[0]["node"]["rawID"], uuid::Uuid::from_slice(&device.user_handle).unwrap().to_string());
    let node = user_passkeys(&app, &user).await;
    assert_eq!(node["passkeys"][0]["claims"]["https://authgear.com/claims/passkey/credential_id"], device.id());
    let q = "query($id: ID!) { node(id: $id) { ... on User { authenticators { edges { node { type } } } } } }";
    let d = app.ok(q, json!({"id": user})).await;
    assert_eq!(d["node"]["authenticators"]["edges"], json!([{"node": {"type": "PASSKEY"}}]), "{d}");

    // It signs in with the passkey.
    let b = Browser::new(&app);
    let page = login_page(&b, "/login").await;
    let (s, body) = sign_in_on(&b, &page, device.get(&options_in(&page))).await.page();
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("Signed in as <strong>uma@example.com</strong>"), "{body}");
}

/// Two sign-ins at once with assertions of the same counter value (a cloned passkey used
/// in two places): exactly one passes.
#[tokio::test]
async fn two_assertions_with_one_counter_at_once_sign_in_once() {
    let app = spawn_localhost().await;
    let (browser, _, _) = signed_in(&app, "val@example.com").await;
    let (device, _) = register(&app, &browser, "Key").await;
    for round in 1..=3u32 {
        let (a, b) = (Browser::new(&app), Browser::new(&app));
        let (pa, pb) = (login_page(&a, "/login").await, login_page(&b, "/login").await);
        let counter = round * 10;
        let (ra, rb) = tokio::join!(
            sign_in_on(&a, &pa, device.assert_with(&options_in(&pa), counter)),
            sign_in_on(&b, &pb, device.assert_with(&options_in(&pb), counter)),
        );
        let mut statuses = [ra.page().0, rb.page().0];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "round {round}");
    }
}
