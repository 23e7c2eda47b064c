//! What the Admin API shows of a session: a name from the user agent or the app's
//! `x_device_info`, the application's name, `acr`, `updatedAt`, and the country of the
//! last IP address from a MaxMind DB file (one this test writes).

use serde_json::{Value, json};

use crate::device_key::{DeviceKey, challenge};
use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::{CB, PW};
use crate::rp::{Browser, register};

const CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A MaxMind DB (format 2.0, an IPv4 tree with 24-bit records) that maps one /8 network
/// to a country, as GeoLite2-Country records it: `{country: {iso_code, names: {en}}}`.
fn country_database(first_octet: u8, code: &str, name: &str) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        assert!(s.len() < 29);
        out.push(0x40 | s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
    fn map(out: &mut Vec<u8>, n: u8) {
        out.push(0xE0 | n);
    }
    fn uint16(out: &mut Vec<u8>, v: u16) {
        out.push(0xA0 | 2);
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn uint32(out: &mut Vec<u8>, v: u32) {
        out.push(0xC0 | 4);
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn uint64(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&[8, 9 - 7]);
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn array(out: &mut Vec<u8>, n: u8) {
        out.extend_from_slice(&[n, 11 - 7]);
    }
    const NODES: u32 = 8;
    let mut out = Vec::new();
    // The search tree: one node per bit of the first octet; the other branch has no data.
    for depth in 0..NODES {
        let bit = (first_octet >> (7 - depth)) & 1;
        let on_path = if depth < NODES - 1 { depth + 1 } else { NODES + 16 };
        let records = if bit == 0 { [on_path, NODES] } else { [NODES, on_path] };
        for r in records {
            out.extend_from_slice(&r.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    // The data section: one record.
    map(&mut out, 1);
    string(&mut out, "country");
    map(&mut out, 2);
    string(&mut out, "iso_code");
    string(&mut out, code);
    string(&mut out, "names");
    map(&mut out, 1);
    string(&mut out, "en");
    string(&mut out, name);
    // The metadata.
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    map(&mut out, 9);
    string(&mut out, "node_count");
    uint32(&mut out, NODES);
    string(&mut out, "record_size");
    uint16(&mut out, 24);
    string(&mut out, "ip_version");
    uint16(&mut out, 4);
    string(&mut out, "database_type");
    string(&mut out, "Test-Country");
    string(&mut out, "languages");
    array(&mut out, 1);
    string(&mut out, "en");
    string(&mut out, "binary_format_major_version");
    uint16(&mut out, 2);
    string(&mut out, "binary_format_minor_version");
    uint16(&mut out, 0);
    string(&mut out, "build_epoch");
    uint64(&mut out, 1_700_000_000);
    string(&mut out, "description");
    map(&mut out, 1);
    string(&mut out, "en");
    string(&mut out, "test");
    out
}

/// The user's sessions as the Admin API shows them, oldest first.
async fn sessions(app: &TestApp, user: &str) -> Vec<Value> {
    let q = "query($id: ID!) { node(id: $id) { ... on User { sessions { edges { node { type displayName applicationName acr updatedAt lastAccessedAt lastAccessedByIPCountryCode lastAccessedByIPEnglishCountryName } } } } } }";
    let d = app.ok(q, json!({"id": user})).await;
    d["node"]["sessions"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

/// Signs `email` in at the Auth UI with Chrome's user agent.
async fn chrome_sign_in(app: &TestApp, email: &str) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(CHROME)
        .build()
        .unwrap();
    let browser = Browser { client, base: app.url.clone() };
    let (_, page) = browser.open("/login").await.page();
    let (status, page) = browser.login(&page, email, PW).await.page();
    assert!(status == 200 || status == 303, "{page}");
    let (status, _) = browser.open("/settings").await.page();
    assert_eq!(status, 200, "signed in");
}

#[tokio::test]
async fn sessions_show_names_application_and_country() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("country.mmdb");
    std::fs::write(&path, country_database(127, "NZ", "New Zealand")).unwrap();
    let app = spawn_with(|c| {
        c.geoip_database_file = Some(path.clone());
        c.anonymous.enabled = true;
    })
    .await;
    let user = app.create_user("kiri@example.com", Some(PW)).await;
    chrome_sign_in(&app, "kiri@example.com").await;
    let (client_id, _) = register(&app, "NATIVE", CB).await;
    app.ok(
        "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { accessToken } }",
        json!({"u": user, "c": client_id}),
    )
    .await;

    let list = sessions(&app, &user).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let (browser, grant) = (&list[0], &list[1]);
    assert_eq!(browser["type"], "IDP");
    assert_eq!(browser["displayName"], "Chrome 120.0.0.0, Mac OSX 10.15.7");
    assert_eq!(browser["applicationName"], Value::Null);
    assert_eq!(browser["acr"], Value::Null, "a password alone is not multi-factor");
    assert_eq!(browser["updatedAt"], browser["lastAccessedAt"]);
    assert_eq!(browser["lastAccessedByIPCountryCode"], "NZ");
    assert_eq!(browser["lastAccessedByIPEnglishCountryName"], "New Zealand");
    assert_eq!(grant["type"], "OFFLINE_GRANT");
    assert_eq!(grant["applicationName"], "App");

    // An app's grant is named after the device its SDK describes.
    let c = challenge(&app, "anonymous_request").await;
    let info = authgraph::crypto::b64(
        json!({"android": {"Build": {"MANUFACTURER": "samsung", "MODEL": "SM-S918B"}}}).to_string(),
    );
    let (status, body) = app
        .token_request(&[
            ("grant_type", "urn:authgear:params:oauth:grant-type:anonymous-request"),
            ("client_id", &client_id),
            ("jwt", &DeviceKey::es256().anonymous_jwt(&c)),
            ("x_device_info", &info),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    let sub = crate::helpers::jwt_claims(body["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned();
    let anon = sessions(&app, &authgraph::crypto::b64(format!("User:{sub}"))).await;
    assert_eq!(anon[0]["displayName"], "Samsung SM-S918B");
}

#[tokio::test]
async fn without_a_geoip_database_countries_are_null_and_a_bad_file_stops_the_start() {
    let app = spawn_with(|_| {}).await;
    let user = app.create_user("ana@example.com", Some(PW)).await;
    chrome_sign_in(&app, "ana@example.com").await;
    let list = sessions(&app, &user).await;
    assert_eq!(list[0]["lastAccessedByIPCountryCode"], Value::Null);
    assert_eq!(list[0]["lastAccessedByIPEnglishCountryName"], Value::Null);

    // A file that is not a MaxMind DB is refused at start with its path named.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mmdb");
    std::fs::write(&path, b"not a database").unwrap();
    let mut config = authgraph::config::Config { geoip_database_file: Some(path), ..Default::default() };
    config.database_url =
        authgraph::config::Secret::new(format!("sqlite://{}", dir.path().join("db.sqlite").display()));
    config.master_key_file = dir.path().join("master.key");
    let err = authgraph::service::Services::start(config).await.err().expect("the start fails");
    assert!(err.to_string().contains("bad.mmdb"), "{err}");
}
