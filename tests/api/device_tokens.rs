//! "Don't ask again on this device": after a second factor with the box ticked, the same
//! browser signs in with the password alone (`amr` `pwd x_device_token`) while other
//! browsers are still asked; revoking in settings, a password reset and a tampered cookie
//! bring the question back. Through the real forms, with CSRF, in an OAuth code flow.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::login_helpers::{PW, spa, start};
use crate::login_mfa::{password_step, tokens};
use crate::rp::{Browser, hidden};
use crate::totp::{code, enrol_page, signed_in, step_now};

/// A browser whose cookie jar the test can read and change.
fn browser_with_jar(app: &TestApp) -> (Browser, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("test-browser/1.0")
        .build()
        .unwrap();
    (Browser { client, base: app.url.clone() }, jar)
}

/// The value of this browser's device-token cookie, if it has one.
fn device_cookie(app: &TestApp, jar: &Jar) -> Option<String> {
    let url = url::Url::parse(&app.url).unwrap();
    let header = jar.cookies(&url)?;
    let header = header.to_str().unwrap().to_owned();
    header.split("; ").find_map(|c| c.strip_prefix("ag_device=").map(str::to_owned)).filter(|v| !v.is_empty())
}

/// A user's second factors: an authenticator app's secret, the step of its last code
/// used, and the unused recovery codes.
struct Factors {
    secret: Vec<u8>,
    last: u64,
    recovery: Vec<String>,
}

/// A user with an authenticator app and recovery codes.
async fn user_with_totp(app: &TestApp, email: &str) -> Factors {
    let (browser, csrf, _) = signed_in(app, email).await;
    let (secret, last, page) = enrol_page(&browser, &csrf, "Phone").await;
    let recovery = page.split("<li><code>").skip(1).map(|p| p.split("</code>").next().unwrap().to_owned()).collect();
    Factors { secret, last, recovery }
}

/// Passes the second factor on `page`: the app's code while one is unused in the window
/// the server accepts, else a recovery code (both offer "Don't ask again").
async fn second_factor(browser: &Browser, page: &str, f: &mut Factors, remember: bool) -> crate::rp::Landing {
    let step = step_now().max(f.last + 1);
    if step <= step_now() + 1 {
        f.last = step;
        return submit_code(browser, page, &code(&f.secret, step), remember, "/login/totp").await;
    }
    let rc = f.recovery.pop().unwrap();
    submit_code(browser, page, &rc, remember, "/login/recovery_code").await
}

/// Submits a code on the second-factor page, with "Don't ask again" ticked or not.
async fn submit_code(browser: &Browser, page: &str, code: &str, remember: bool, action: &str) -> crate::rp::Landing {
    let mut fields = vec![
        ("csrf", hidden(page, "csrf")),
        ("flow", hidden(page, "flow")),
        ("pending", hidden(page, "pending")),
        ("code", code.to_owned()),
    ];
    if remember {
        fields.push(("remember_device", "on".to_owned()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit(action, &fields).await
}

/// Signs in with the password in a new flow (`prompt=login`, so that a live session does
/// not answer instead); returns the callback when no second factor was asked, or the
/// second-factor page.
async fn sign_in(
    browser: &Browser,
    rp: &crate::rp::Rp,
    email: &str,
) -> Result<(String, crate::login_helpers::Flow), String> {
    let f = start(rp, &[], &[("prompt", "login")]);
    let (s, page) = browser.open(&f.url).await.page();
    assert_eq!(s, 200, "{page}");
    match browser.login(&page, email, PW).await {
        crate::rp::Landing::Redirect(cb) => Ok((cb, f)),
        crate::rp::Landing::Page(s, page) => {
            assert_eq!(s, 200, "{page}");
            assert!(page.contains("<h1>Two-factor authentication</h1>"), "the second-factor page: {page}");
            Err(page)
        }
    }
}

/// The second-factor page of a sign-in that asked for it.
fn asked(r: Result<(String, crate::login_helpers::Flow), String>, why: &str) -> String {
    match r {
        Err(page) => page,
        Ok((cb, _)) => panic!("{why}: signed in without a second factor: {cb}"),
    }
}

/// The callback of a sign-in that asked for no second factor.
fn skipped(r: Result<(String, crate::login_helpers::Flow), String>, why: &str) -> (String, crate::login_helpers::Flow) {
    match r {
        Ok(x) => x,
        Err(page) => panic!("{why}: {page}"),
    }
}

/// Signs in with the second factor, ticking "Don't ask again"; returns the device cookie.
async fn remember(
    app: &TestApp,
    rp: &crate::rp::Rp,
    browser: &Browser,
    jar: &Jar,
    email: &str,
    f: &mut Factors,
) -> String {
    let page = asked(sign_in(browser, rp, email).await, "the second factor is asked");
    assert!(page.contains("Don't ask again on this device for 30 days"), "{page}");
    let cb = second_factor(browser, &page, f, true).await.redirect();
    assert!(cb.contains("code="), "{cb}");
    device_cookie(app, jar).expect("a device cookie")
}

#[tokio::test]
async fn a_remembered_browser_skips_the_second_factor_and_others_are_still_asked() {
    let app = spawn_app().await;
    let mut factors = user_with_totp(&app, "rob@example.com").await;
    let (rp, _) = spa(&app).await;
    let (browser, jar) = browser_with_jar(&app);

    // The second factor with the box ticked: the usual amr, and a device cookie of at
    // least 256 bits (43 base64url characters) that no audit row holds.
    let f = start(&rp, &[], &[]);
    let page = password_step(&browser, &f.url, "rob@example.com").await;
    let cb = second_factor(&browser, &page, &mut factors, true).await.redirect();
    assert_eq!(tokens(&rp, &cb, f).await.0["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]));
    let token = device_cookie(&app, &jar).expect("a device cookie");
    assert!(token.len() >= 43, "{token}");
    assert!(token.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{token}");
    assert_eq!(app.audit_count_of("DEVICE_TOKEN_CREATED").await, 1);

    // The same browser signs in with the password alone.
    let (cb, f) = skipped(sign_in(&browser, &rp, "rob@example.com").await, "no second factor asked");
    let (id, access) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "x_device_token"]), "{id}");
    assert_eq!(access["amr"], id["amr"]);

    // Another browser is still asked.
    let other = Browser::new(&app);
    asked(sign_in(&other, &rp, "rob@example.com").await, "the second factor is asked");
    // Without the box ticked, a browser gets no device cookie.
    let (plain, plain_jar) = browser_with_jar(&app);
    let page = asked(sign_in(&plain, &rp, "rob@example.com").await, "asked");
    second_factor(&plain, &page, &mut factors, false).await.redirect();
    assert_eq!(device_cookie(&app, &plain_jar), None);

    // Another user signing in in the remembered browser is asked: the token is not theirs.
    user_with_totp(&app, "ria@example.com").await;
    asked(sign_in(&browser, &rp, "ria@example.com").await, "another user is asked");

    // A tampered cookie is ignored: the second factor is asked again.
    let url = url::Url::parse(&app.url).unwrap();
    let mut bytes = token.clone().into_bytes();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    jar.add_cookie_str(&format!("ag_device={tampered}; Path=/"), &url);
    assert_eq!(device_cookie(&app, &jar).as_deref(), Some(tampered.as_str()));
    asked(sign_in(&browser, &rp, "rob@example.com").await, "a tampered token asks again");
    jar.add_cookie_str(&format!("ag_device={token}; Path=/"), &url);
    skipped(sign_in(&browser, &rp, "rob@example.com").await, "the genuine token still works");

    // The token never appears in the audit log.
    let d = app.ok("{ auditLogs(first: 100) { totalCount edges { node { data } } } }", json!({})).await;
    assert!(d["auditLogs"]["totalCount"].as_i64().unwrap() <= 100);
    assert!(!d.to_string().contains(&token), "the token is in an audit row");
}

#[tokio::test]
async fn forgetting_devices_in_settings_asks_again() {
    let app = spawn_app().await;
    let mut factors = user_with_totp(&app, "sue@example.com").await;
    let (rp, _) = spa(&app).await;
    let (browser, jar) = browser_with_jar(&app);
    remember(&app, &rp, &browser, &jar, "sue@example.com", &mut factors).await;
    let (second, second_jar) = browser_with_jar(&app);
    remember(&app, &rp, &second, &second_jar, "sue@example.com", &mut factors).await;

    // Settings lists both; forgetting one asks that browser again, not the other.
    let (s, settings) = browser.open("/settings").await.page();
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("Remembered devices"), "{settings}");
    assert_eq!(settings.matches("action=\"/settings/devices/revoke\"").count(), 2, "{settings}");
    let first = hidden(&settings, "device_id");
    let csrf = hidden(&settings, "csrf");
    // The newest is listed first: the second browser's.
    let (s, page) = browser.submit("/settings/devices/revoke", &[("csrf", &csrf), ("device_id", &first)]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The device is forgotten"), "{page}");
    assert_eq!(app.audit_count_of("DEVICE_TOKEN_REVOKED").await, 1);
    asked(sign_in(&second, &rp, "sue@example.com").await, "the forgotten browser is asked");
    skipped(sign_in(&browser, &rp, "sue@example.com").await, "the other one is not");
    // The same ID again, or nonsense: refused with a page.
    let (s, _) = browser.submit("/settings/devices/revoke", &[("csrf", &csrf), ("device_id", &first)]).await.page();
    assert_eq!(s, 422);
    let (s, _) = browser.submit("/settings/devices/revoke", &[("csrf", &csrf), ("device_id", "x")]).await.page();
    assert_eq!(s, 400);

    // "Forget all devices" asks every browser again.
    let (_, settings) = browser.open("/settings").await.page();
    let csrf = hidden(&settings, "csrf");
    let (s, page) = browser.submit("/settings/devices/revoke_all", &[("csrf", &csrf)]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("All remembered devices are forgotten") && !page.contains("Remembered devices"), "{page}");
    assert_eq!(device_cookie(&app, &jar), None, "this browser's cookie is deleted");
    asked(sign_in(&browser, &rp, "sue@example.com").await, "asked again");
}

#[tokio::test]
async fn ending_all_sessions_ends_device_tokens() {
    let (app, sink) = crate::account_ui::with_smtp().await;
    let mut factors = user_with_totp(&app, "kai@example.com").await;
    let (rp, _) = spa(&app).await;
    let (browser, jar) = browser_with_jar(&app);
    remember(&app, &rp, &browser, &jar, "kai@example.com", &mut factors).await;

    // A password reset by email link.
    let anon = Browser::new(&app);
    let (_, page) = anon.open("/forgot_password").await.page();
    let csrf = hidden(&page, "csrf");
    anon.submit("/forgot_password", &[("csrf", &csrf), ("email", "kai@example.com")]).await.page();
    let mails = sink.wait_for(1).await;
    let link = crate::account_ui::link_in(&mails[0].data);
    let (_, form) = anon.open(&link).await.page();
    let (s, done) = anon
        .submit(
            "/reset_password",
            &[("csrf", &hidden(&form, "csrf")), ("code", &hidden(&form, "code")), ("password", "a brand new password")],
        )
        .await
        .page();
    assert_eq!(s, 200, "{done}");
    let f = start(&rp, &[], &[("prompt", "login")]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s, page) = browser.login(&page, "kai@example.com", "a brand new password").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "the reset ended the device token: {page}");

    // Remembered again, then the Admin API's revokeAllSessions ends it too.
    let cb = second_factor(&browser, &page, &mut factors, true).await.redirect();
    assert!(cb.contains("code="));
    let f = start(&rp, &[], &[("prompt", "login")]);
    let (_, page) = browser.open(&f.url).await.page();
    browser.login(&page, "kai@example.com", "a brand new password").await.redirect();
    let d = app.ok("{ users(first: 1) { edges { node { id } } } }", json!({})).await;
    let user = d["users"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
    app.ok("mutation($u: ID!) { revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;
    let f = start(&rp, &[], &[("prompt", "login")]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s, page) = browser.login(&page, "kai@example.com", "a brand new password").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "revokeAllSessions ended the device token: {page}");
}

#[tokio::test]
async fn an_email_code_as_second_factor_can_remember_the_device_too() {
    let (app, mail) = crate::login_codes::app_with(|_| {}).await;
    let user = app.create_user("eve@example.com", Some(PW)).await;
    app.ok(
        "mutation($u: ID!, $d: AuthenticatorDefinition!) { createAuthenticator(input: {userID: $u, definition: $d}) { authenticator { id } } }",
        json!({"u": user, "d": {"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "eve.2fa@example.com"}}}),
    )
    .await;
    let (rp, _) = spa(&app).await;
    let (browser, jar) = browser_with_jar(&app);
    let second = asked(sign_in(&browser, &rp, "eve@example.com").await, "the second factor is asked");
    let authenticator = hidden(&second, "authenticator");
    let post = crate::login_codes::post;
    let (s, page) = post(&browser, "/login/mfa/send", &second, &[("authenticator", &authenticator)]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Don't ask again on this device"), "{page}");
    let mails = mail.wait_for(1).await;
    let code = crate::sms::code_in(&crate::login_codes::body(&mails[0]), 6);
    let cb =
        post(&browser, "/login/code/verify", &page, &[("code", &code), ("remember_device", "on")]).await.redirect();
    assert!(cb.contains("code="), "{cb}");
    assert!(device_cookie(&app, &jar).is_some());
    let (cb, f) = skipped(sign_in(&browser, &rp, "eve@example.com").await, "remembered");
    assert_eq!(tokens(&rp, &cb, f).await.0["amr"], json!(["pwd", "x_device_token"]));
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_expired_ones_are_ignored_then_cleaned_up() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let mut factors = user_with_totp(&app, "ida@example.com").await;
    let (rp, _) = spa(&app).await;
    let (browser, jar) = browser_with_jar(&app);
    let token = remember(&app, &rp, &browser, &jar, "ida@example.com", &mut factors).await;

    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let rows = |sql: &'static str| {
        let db = &db;
        async move { db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap() }
    };
    let stored = rows("SELECT token_hash, user_agent FROM device_tokens").await;
    assert_eq!(stored.len(), 1);
    let hash: Vec<u8> = stored[0].try_get("", "token_hash").unwrap();
    assert_eq!(hash, aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref());
    let ua: Option<String> = stored[0].try_get("", "user_agent").unwrap();
    assert_eq!(ua.as_deref(), Some("test-browser/1.0"));

    // A live token survives the clean-up; an expired one is ignored, then deleted.
    app.services.maintenance().cleanup().await.unwrap();
    assert_eq!(rows("SELECT id FROM device_tokens").await.len(), 1);
    db.execute_unprepared("UPDATE device_tokens SET expires_at = 1").await.unwrap();
    asked(sign_in(&browser, &rp, "ida@example.com").await, "an expired token asks again");
    app.services.maintenance().cleanup().await.unwrap();
    assert_eq!(rows("SELECT id FROM device_tokens").await.len(), 0);
}

#[tokio::test]
async fn with_device_tokens_off_the_box_is_not_offered_and_no_cookie_is_set() {
    let app = crate::helpers::spawn_with(|c| c.mfa.device_token_enabled = false).await;
    let mut factors = user_with_totp(&app, "ola@example.com").await;
    let (rp, _) = spa(&app).await;
    let (browser, jar) = browser_with_jar(&app);
    let page = asked(sign_in(&browser, &rp, "ola@example.com").await, "asked");
    assert!(!page.contains("remember_device"), "{page}");
    second_factor(&browser, &page, &mut factors, true).await.redirect();
    assert_eq!(device_cookie(&app, &jar), None);
    assert_eq!(app.audit_count_of("DEVICE_TOKEN_CREATED").await, 0);
}
