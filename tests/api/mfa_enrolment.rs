//! `mfa.mode = required` for a user without a second factor: during a grace period (the
//! user's own, or the global `mfa.grace_period`) the sign-in completes and leads to a page
//! that asks to set one up; outside any, the sign-in goes through enrolling an
//! authenticator app (QR code, first code, recovery codes) and only then starts a session.

use authgraph::config::MfaMode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::{PW, spa, start};
use crate::login_mfa::tokens;
use crate::rp::{Browser, hidden};
use crate::totp::{code, step_now};

/// The `href` of the link whose text is `text`, unescaped.
fn link(page: &str, text: &str) -> String {
    let end = page.find(&format!("\">{text}</a>")).unwrap_or_else(|| panic!("no link {text} in {page}"));
    let start = page[..end].rfind("href=\"").unwrap() + 6;
    page[start..end].replace("&#x2f;", "/").replace("&amp;", "&").replace("&#x3d;", "=")
}

/// The secret in the `otpauth://` URI of an enrolment page.
fn secret_in(page: &str) -> Vec<u8> {
    let page = page.replace("&#x2f;", "/").replace("&amp;", "&");
    let start = page.find("otpauth://").unwrap();
    let end = page[start..].find(['"', '<']).unwrap() + start;
    let url = url::Url::parse(&page[start..end]).unwrap();
    let b32 = url.query_pairs().find(|(k, _)| k == "secret").unwrap().1.into_owned();
    data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap()
}

/// A code that is wrong at every step the server accepts now.
fn wrong_code(secret: &[u8]) -> String {
    let s = step_now();
    let near: Vec<String> = (s.saturating_sub(2)..=s + 2).map(|t| code(secret, t)).collect();
    (0..10).map(|d| format!("{d}{d}{d}{d}{d}{d}")).find(|c| !near.contains(c)).unwrap()
}

async fn enrol_at_sign_in(browser: &Browser, page: &str, code: &str) -> crate::rp::Landing {
    let fields = [
        ("csrf", hidden(page, "csrf")),
        ("flow", hidden(page, "flow")),
        ("pending", hidden(page, "pending")),
        ("display_name", "Phone".to_owned()),
        ("code", code.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit("/login/mfa/enrol", &fields).await
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

async fn set_grace(app: &TestApp, user: &str, end: time::OffsetDateTime) {
    let set = "mutation($u: ID!, $t: DateTime!) { setMFAGracePeriod(input: {userID: $u, endAt: $t}) { user { id } } }";
    app.ok(set, json!({"u": user, "t": rfc3339(end)})).await;
}

/// Opens a new authorization request and submits the password; returns the flow and the page.
async fn password(browser: &Browser, rp: &crate::rp::Rp, email: &str) -> (crate::login_helpers::Flow, u16, String) {
    let f = start(rp, &[], &[]);
    let (s, page) = browser.open(&f.url).await.page();
    assert_eq!(s, 200, "{page}");
    let (s, page) = browser.login(&page, email, PW).await.page();
    (f, s, page)
}

/// Asserts the sign-in went to the enrolment page and completes it; returns the amr.
async fn forced_enrolment(app: &TestApp, rp: &crate::rp::Rp, email: &str) -> serde_json::Value {
    let browser = Browser::new(app);
    let (f, s, page) = password(&browser, rp, email).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/mfa/enrol\"") && page.contains("<svg"), "the enrolment page: {page}");
    // No session before enrolment.
    let (_, settings) = browser.open("/settings").await.page();
    assert!(settings.contains("action=\"/login\""), "not signed in yet: {settings}");
    let secret = secret_in(&page);
    let (s, done) = enrol_at_sign_in(&browser, &page, &code(&secret, step_now())).await.page();
    assert_eq!(s, 200, "{done}");
    assert_eq!(done.matches("<li><code>").count(), 16, "the recovery codes, once: {done}");
    let cb = browser.open(&link(&done, "Continue")).await.redirect();
    tokens(rp, &cb, f).await.0["amr"].clone()
}

#[tokio::test]
async fn without_a_grace_period_the_sign_in_enrols_an_authenticator_app() {
    let app = spawn_with(|c| c.mfa.mode = MfaMode::Required).await;
    app.create_user("ann@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let (f, s, page) = password(&browser, &rp, "ann@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("requires two-factor authentication") && page.contains("<svg"), "{page}");
    let secret = secret_in(&page);

    // A wrong first code: the same enrolment again, 400, nothing stored.
    let (s, again) = enrol_at_sign_in(&browser, &page, &wrong_code(&secret)).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("The code is not correct"), "{again}");
    assert_eq!(secret_in(&again), secret, "the same secret");
    assert_eq!(hidden(&again, "pending"), hidden(&page, "pending"));
    assert_eq!(app.audit_count_of("AUTHENTICATOR_CREATED").await, 0);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, 0, "no session before enrolment");

    // A tampered state goes back to the login page.
    let mut tampered = hidden(&page, "pending").into_bytes();
    let i = tampered.len() / 3;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("pending", tampered),
        ("display_name", "Phone".to_owned()),
        ("code", code(&secret, step_now())),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, back) = browser.submit("/login/mfa/enrol", &fields).await.page();
    assert_eq!(s, 400, "{back}");
    assert!(back.contains("action=\"/login\"") && back.contains("Sign in again"), "{back}");
    // Another flow's state is refused too.
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", String::new()),
        ("pending", hidden(&page, "pending")),
        ("display_name", "Phone".to_owned()),
        ("code", code(&secret, step_now())),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, back) = browser.submit("/login/mfa/enrol", &fields).await.page();
    assert_eq!(s, 400, "{back}");

    // The right code: the app is added, the recovery codes are shown once, and the sign-in completes.
    let (s, done) = enrol_at_sign_in(&browser, &again, &code(&secret, step_now())).await.page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Your recovery codes"), "{done}");
    assert_eq!(done.matches("<li><code>").count(), 16, "{done}");
    assert_eq!(app.audit_count_of("AUTHENTICATOR_CREATED").await, 1);
    assert_eq!(app.audit_count_of("RECOVERY_CODES_GENERATED").await, 1);
    let cb = browser.open(&link(&done, "Continue")).await.redirect();
    let (id, access) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]), "{id}");
    assert_eq!(access["amr"], id["amr"]);

    // The next sign-in asks for the new app's code.
    let other = Browser::new(&app);
    let (_, s, page) = password(&other, &rp, "ann@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "{page}");
}

#[tokio::test]
async fn during_the_users_grace_period_the_sign_in_leads_to_enrolment_and_after_it_forces_it() {
    let app = spawn_with(|c| c.mfa.mode = MfaMode::Required).await;
    let user = app.create_user("ben@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    set_grace(&app, &user, time::OffsetDateTime::now_utc() + time::Duration::hours(1)).await;
    let browser = Browser::new(&app);
    let (f, s, page) = password(&browser, &rp, "ben@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Set up two-factor authentication now"), "{page}");
    assert_eq!(link(&page, "Set up two-factor authentication"), "/settings/totp");
    // Signed in already: the enrolment page opens; "Later" continues to the app.
    let (s, totp) = browser.open("/settings/totp").await.page();
    assert_eq!(s, 200, "{totp}");
    let cb = browser.open(&link(&page, "Later")).await.redirect();
    assert_eq!(tokens(&rp, &cb, f).await.0["amr"], json!(["pwd"]));

    // The grace period over: the sign-in goes through enrolment.
    set_grace(&app, &user, time::OffsetDateTime::now_utc() + time::Duration::seconds(2)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(forced_enrolment(&app, &rp, "ben@example.com").await, json!(["pwd", "otp", "mfa", "x_secondary_totp"]));
}

#[tokio::test]
async fn the_global_grace_period_works_the_same_and_ends_at_its_end_at() {
    let app = spawn_with(|c| {
        c.mfa.mode = MfaMode::Required;
        c.mfa.grace_period.enabled = true;
        c.mfa.grace_period.end_at = Some(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    })
    .await;
    app.create_user("cy@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let (f, s, page) = password(&browser, &rp, "cy@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Set up two-factor authentication now"), "{page}");
    let cb = browser.open(&link(&page, "Later")).await.redirect();
    assert_eq!(tokens(&rp, &cb, f).await.0["amr"], json!(["pwd"]));

    // A global grace period that ended (or is not enabled) forces enrolment.
    let ended = spawn_with(|c| {
        c.mfa.mode = MfaMode::Required;
        c.mfa.grace_period.enabled = true;
        c.mfa.grace_period.end_at = Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(1));
    })
    .await;
    ended.create_user("cy@example.com", Some(PW)).await;
    let (rp, _) = spa(&ended).await;
    assert_eq!(forced_enrolment(&ended, &rp, "cy@example.com").await, json!(["pwd", "otp", "mfa", "x_secondary_totp"]));
}
