//! TOTP second factors: enrolment through the settings forms (the codes computed here
//! with an independent RFC 6238 implementation), the Admin API view, removal, and the
//! once-per-step rule of verification.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::rp::{Browser, hidden};

const PW: &str = "correct horse battery";
const NAME_CLAIM: &str = "https://authgear.com/claims/totp/display_name";

/// RFC 6238 with HMAC-SHA1, 6 digits, 30-second steps: the code of time step `step`.
pub(crate) fn code(secret: &[u8], step: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let bin = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:06}", bin % 1_000_000)
}

#[test]
fn independent_code_matches_rfc_6238() {
    // Appendix B, SHA-1: 94287082 at T=59 (step 1), 07081804 at T=1111111109.
    assert_eq!(code(b"12345678901234567890", 1), "287082");
    assert_eq!(code(b"12345678901234567890", 1_111_111_109 / 30), "081804");
}

pub(crate) fn step_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 30
}

/// The `otpauth://` URI shown on the enrolment page.
fn uri_in(page: &str) -> String {
    let page = page.replace("&#x2f;", "/");
    let start = page.find("otpauth://").unwrap_or_else(|| panic!("no otpauth URI in {page}"));
    let end = page[start..].find(['"', '<']).unwrap() + start;
    page[start..end].replace("&amp;", "&")
}

/// The secret in an `otpauth://` URI, decoded from base32.
fn secret_of(uri: &str) -> Vec<u8> {
    let url = url::Url::parse(uri).unwrap();
    let b32 = url.query_pairs().find(|(k, _)| k == "secret").unwrap().1.into_owned();
    data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap()
}

pub(crate) async fn signed_in(app: &TestApp, email: &str) -> (Browser, String, String) {
    let user = app.create_user(email, Some(PW)).await;
    let browser = Browser::new(app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, email, PW).await.page();
    assert_eq!(s, 200, "{page}");
    (browser, hidden(&page, "csrf"), user)
}

pub(crate) async fn raw_id(app: &TestApp, user: &str) -> uuid::Uuid {
    let d = app.ok("query($id: ID!) { node(id: $id) { ... on User { rawID } } }", json!({"id": user})).await;
    d["node"]["rawID"].as_str().unwrap().parse().unwrap()
}

/// Enrols an authenticator app named `name` through the forms; returns its secret and
/// the step of the code that confirmed it.
pub(crate) async fn enrol(browser: &Browser, csrf: &str, name: &str) -> (Vec<u8>, u64) {
    let (secret, step, _) = enrol_page(browser, csrf, name).await;
    (secret, step)
}

/// [`enrol`], also returning the page the confirmation lands on.
pub(crate) async fn enrol_page(browser: &Browser, csrf: &str, name: &str) -> (Vec<u8>, u64, String) {
    let (s, page) = browser.open("/settings/totp").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("<svg") && page.contains("</svg>"), "an inline QR code: {page}");
    let uri = uri_in(&page);
    assert!(uri.starts_with("otpauth://totp/authgraph:"), "{uri}");
    assert!(uri.contains("&algorithm=SHA1&digits=6&period=30"), "{uri}");
    let secret = secret_of(&uri);
    assert_eq!(secret.len(), 20);
    assert!(page.contains(&data_encoding::BASE32_NOPAD.encode(&secret)), "the secret for manual entry");
    let pending = hidden(&page, "pending");
    let step = step_now();
    let (s, page) = browser
        .submit(
            "/settings/totp",
            &[("csrf", csrf), ("pending", &pending), ("display_name", name), ("code", &code(&secret, step))],
        )
        .await
        .page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The authenticator app is added."), "{page}");
    (secret, step, page)
}

#[tokio::test]
async fn enrol_list_refuse_and_remove_through_the_settings_forms() {
    let app = spawn_app().await;
    let (browser, csrf, user) = signed_in(&app, "tia@example.com").await;
    let (_, page) = browser.open("/settings").await.page();
    assert!(page.contains("Two-factor authentication") && page.contains("No authenticator app is set up"), "{page}");
    assert!(page.contains("href=\"/settings/totp\""));

    // A wrong code: the same QR code again, with a message, status 400; nothing stored.
    let (_, page) = browser.open("/settings/totp").await.page();
    let uri = uri_in(&page);
    let secret = secret_of(&uri);
    let pending = hidden(&page, "pending");
    let wrong = if code(&secret, step_now()) == "000000" { "111111" } else { "000000" };
    let (s, again) = browser
        .submit("/settings/totp", &[("csrf", &csrf), ("pending", &pending), ("display_name", "Phone"), ("code", wrong)])
        .await
        .page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("The code is not correct"), "{again}");
    assert_eq!(uri_in(&again), uri, "the same secret is shown again");
    assert_eq!(hidden(&again, "display_name"), "Phone");
    // A missing name is refused too.
    let (s, again) = browser
        .submit(
            "/settings/totp",
            &[("csrf", &csrf), ("pending", &pending), ("display_name", "  "), ("code", &code(&secret, step_now()))],
        )
        .await
        .page();
    assert_eq!(s, 400);
    assert!(again.contains("Enter a name"), "{again}");
    // A tampered pending value: refused, and a new enrolment is offered.
    let mut tampered = pending.clone().into_bytes();
    let i = tampered.len() / 3;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (s, again) = browser
        .submit(
            "/settings/totp",
            &[("csrf", &csrf), ("pending", &tampered), ("display_name", "Phone"), ("code", &code(&secret, step_now()))],
        )
        .await
        .page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("expired or is not valid"), "{again}");
    assert_ne!(uri_in(&again), uri, "a new secret");
    // Another user's pending enrolment is refused for this one.
    let (other, other_csrf, _) = signed_in(&app, "ola@example.com").await;
    let (s, again) = other
        .submit(
            "/settings/totp",
            &[
                ("csrf", &other_csrf),
                ("pending", &pending),
                ("display_name", "Phone"),
                ("code", &code(&secret, step_now())),
            ],
        )
        .await
        .page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("expired or is not valid"), "{again}");
    // Without the CSRF token the form is refused.
    let (s, _) = browser
        .submit(
            "/settings/totp",
            &[("pending", &pending), ("display_name", "Phone"), ("code", &code(&secret, step_now()))],
        )
        .await
        .page();
    assert_eq!(s, 403);
    let d = app
        .ok(
            "query($u: ID!) { node(id: $u) { ... on User { secondaryTOTPAuthenticators { id } } } }",
            json!({"u": user}),
        )
        .await;
    assert_eq!(d["node"]["secondaryTOTPAuthenticators"], json!([]), "nothing stored before a right code");

    // The right code: stored, listed in settings and in the Admin API. Two are allowed.
    let (secret1, _) = enrol(&browser, &csrf, "  Work phone <1>  ").await;
    enrol(&browser, &csrf, "Tablet").await;
    let (_, page) = browser.open("/settings").await.page();
    assert!(page.contains("Work phone &lt;1&gt;") && page.contains("Tablet"), "{page}");
    let d = app
        .ok(
            "query($u: ID!) { node(id: $u) { ... on User { secondaryTOTPAuthenticators { id type kind isDefault claims } } } }",
            json!({"u": user}),
        )
        .await;
    let list = d["node"]["secondaryTOTPAuthenticators"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0]["type"].as_str(), list[0]["kind"].as_str()), (Some("TOTP"), Some("SECONDARY")));
    assert_eq!(list[0]["claims"][NAME_CLAIM], "Work phone <1>", "trimmed");
    assert_eq!((list[0]["isDefault"].as_bool(), list[1]["isDefault"].as_bool()), (Some(true), Some(false)));
    assert_eq!(list[1]["claims"][NAME_CLAIM], "Tablet");

    // The stored secret is encrypted: neither the raw bytes nor the base32 text.
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT totp_secret FROM authenticators WHERE kind = 'totp'",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let b32 = data_encoding::BASE32_NOPAD.encode(&secret1);
    for r in rows {
        let stored: Vec<u8> = r.try_get("", "totp_secret").unwrap();
        assert!(stored.len() > 20);
        assert!(!stored.windows(secret1.len()).any(|w| w == secret1.as_slice()), "not the plain secret");
        assert!(!stored.windows(b32.len()).any(|w| w == b32.as_bytes()), "not the base32 secret");
    }

    // Remove one: gone from the settings and the Admin API; the other becomes the default.
    let (_, page) = browser.open("/settings").await.page();
    let item = page.split("<li>").find(|li| li.contains("Work phone")).unwrap();
    let id = hidden(item, "authenticator_id");
    let (s, page) = browser.submit("/settings/totp/remove", &[("csrf", &csrf), ("authenticator_id", &id)]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The authenticator app is removed.") && !page.contains("Work phone"), "{page}");
    let (s, page) = browser.submit("/settings/totp/remove", &[("csrf", &csrf), ("authenticator_id", &id)]).await.page();
    assert_eq!(s, 422, "already removed: {page}");
    let d = app
        .ok(
            "query($u: ID!) { node(id: $u) { ... on User { secondaryTOTPAuthenticators { isDefault claims } } } }",
            json!({"u": user}),
        )
        .await;
    assert_eq!(
        d["node"]["secondaryTOTPAuthenticators"],
        json!([{"isDefault": true, "claims": {"https://authgear.com/claims/authenticator/type": "totp", NAME_CLAIM: "Tablet"}}])
    );

    // Another user cannot remove this user's authenticator.
    let (other, other_csrf, _) = signed_in(&app, "uma@example.com").await;
    let (_, page) = browser.open("/settings").await.page();
    let tablet = hidden(page.split("<li>").find(|li| li.contains("Tablet")).unwrap(), "authenticator_id");
    let (s, _) =
        other.submit("/settings/totp/remove", &[("csrf", &other_csrf), ("authenticator_id", &tablet)]).await.page();
    assert_eq!(s, 422);
    assert!(browser.open("/settings").await.page().1.contains("Tablet"));

    let d = app
        .ok("{ a: auditLogs(activityTypes: [AUTHENTICATOR_CREATED]) { totalCount } b: auditLogs(activityTypes: [AUTHENTICATOR_DELETED]) { totalCount } }", json!({}))
        .await;
    assert_eq!((d["a"]["totalCount"].as_i64(), d["b"]["totalCount"].as_i64()), (Some(2), Some(1)));
}

#[tokio::test]
async fn a_time_step_is_accepted_once_even_concurrently() {
    let app = spawn_app().await;
    let (browser, csrf, user) = signed_in(&app, "vic@example.com").await;
    let (secret, step) = enrol(&browser, &csrf, "Phone").await;
    let user_id = authgraph::domain::ids::UserId::from(raw_id(&app, &user).await);
    let account = app.services.account();

    // The code that confirmed the enrolment is used.
    let e = account.verify_totp(user_id, &code(&secret, step)).await.unwrap_err();
    assert!(e.describe().contains("already been used"), "{}", e.describe());
    // A wrong code.
    let next = code(&secret, step + 1);
    let wrong = if next == "123456" || code(&secret, step) == "123456" { "654321" } else { "123456" };
    assert!(account.verify_totp(user_id, wrong).await.is_err());

    // The next step's code, eight times at once: exactly one succeeds.
    let tries = futures::future::join_all((0..8).map(|_| account.verify_totp(user_id, &next))).await;
    let ok: Vec<_> = tries.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    assert_eq!(ok.len(), 1, "{tries:?}");
    let matched = ok[0];
    let listed = account.totp_authenticators(user_id).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![matched], "returns the one that matched");
    // Once used, the same code and the older step's code are refused.
    assert!(account.verify_totp(user_id, &next).await.is_err());
    assert!(account.verify_totp(user_id, &code(&secret, step)).await.is_err());
}
