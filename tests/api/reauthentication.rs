//! Reauthentication: sensitive settings need a recent sign-in
//! (`session.reauthentication_max_age_seconds`); an older session confirms it's the user
//! (password, or an authenticator app's code) first, which renews the session. Wrong
//! confirmations count in the failed-login limits.

use serde_json::json;

use crate::helpers::{TestApp, spawn_with};
use crate::rp::{Browser, hidden};
use crate::totp::{code, enrol, signed_in, step_now};

const PW: &str = "correct horse battery";
const CONFIRM: &str = "Confirm it&#x27;s you";
/// The window of these tests, in seconds; sessions get "old" by sleeping past it.
const WINDOW: i64 = 2;

async fn app_with_window() -> TestApp {
    spawn_with(|c| c.session.reauthentication_max_age_seconds = WINDOW).await
}

async fn wait_past_window() {
    tokio::time::sleep(std::time::Duration::from_millis(u64::try_from(WINDOW).unwrap() * 1_000 + 200)).await;
}

fn is_confirm_page(page: &str) -> bool {
    (page.contains(CONFIRM) || page.contains("Confirm it's you"))
        && page.contains("action=\"/settings/reauthenticate\"")
}

async fn confirm(browser: &Browser, page: &str, secret: &str) -> (u16, String) {
    let fields = [("csrf", hidden(page, "csrf")), ("next", hidden(page, "next")), ("secret", secret.to_owned())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit("/settings/reauthenticate", &fields).await.page()
}

#[tokio::test]
async fn an_old_session_confirms_before_removing_an_app_or_changing_the_password() {
    let app = app_with_window().await;
    let (browser, csrf, _) = signed_in(&app, "ria@example.com").await;
    let (secret, step) = enrol(&browser, &csrf, "Phone").await;
    wait_past_window().await;

    // Removing the app: the confirmation page first; the app stays.
    let (_, page) = browser.open("/settings").await.page();
    let id = hidden(page.split("<li>").find(|li| li.contains("Phone")).unwrap(), "authenticator_id");
    let remove = [("csrf", csrf.as_str()), ("authenticator_id", id.as_str())];
    let (s, page) = browser.submit("/settings/totp/remove", &remove).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(is_confirm_page(&page) && page.contains("authenticator app"), "{page}");
    assert!(browser.open("/settings").await.page().1.contains("Phone"), "not removed yet");

    // A wrong password: 400 with a message, audited as a failed password.
    let (s, again) = confirm(&browser, &page, "not my password").await;
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("The password is incorrect.") && is_confirm_page(&again), "{again}");
    assert_eq!(app.audit_count_of("AUTHENTICATION_PRIMARY_PASSWORD_FAILED").await, 1);

    // The right password: back to settings with the action ready, and it goes through.
    let (s, settings) = confirm(&browser, &again, PW).await;
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("You confirmed it"), "{settings}");
    assert_eq!(app.audit_count_of("USER_REAUTHENTICATED").await, 1);
    let (s, page) = browser.submit("/settings/totp/remove", &remove).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The authenticator app is removed."), "{page}");

    // Later, changing the password asks again; an authenticator's code confirms too.
    let (secret2, step2) = enrol(&browser, &csrf, "Tablet").await;
    let _ = (secret, step);
    wait_past_window().await;
    let change = [("csrf", csrf.as_str()), ("current_password", PW), ("new_password", "a new good password")];
    let (s, page) = browser.submit("/settings/password", &change).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(is_confirm_page(&page) && page.contains("code from your authenticator app"), "{page}");
    let next = code(&secret2, step_now().max(step2 + 1));
    let (s, settings) = confirm(&browser, &page, &next).await;
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("You confirmed it"), "{settings}");
    let (s, done) = browser.submit("/settings/password", &change).await.page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Your password is changed"), "{done}");
    assert_eq!(app.audit_count_of("USER_REAUTHENTICATED").await, 2);
}

#[tokio::test]
async fn an_old_session_confirms_before_adding_an_app_new_recovery_codes_or_deletion() {
    let app = app_with_window().await;
    let (browser, csrf, _) = signed_in(&app, "sol@example.com").await;
    wait_past_window().await;
    let (s, page) = browser.open("/settings/totp").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(is_confirm_page(&page) && !page.contains("otpauth://"), "{page}");
    // Confirmed, the browser goes back to the enrolment page.
    let (s, page) = confirm(&browser, &page, PW).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("otpauth://") || page.contains("otpauth:&#x2f;&#x2f;"), "{page}");

    wait_past_window().await;
    let (_, page) = browser.submit("/settings/recovery_codes", &[("csrf", &csrf)]).await.page();
    assert!(is_confirm_page(&page), "{page}");
    let delete = [("csrf", csrf.as_str()), ("confirm", "yes"), ("password", PW)];
    let (_, page) = browser.submit("/settings/delete", &delete).await.page();
    assert!(is_confirm_page(&page), "{page}");
    let d = app.ok("{ auditLogs(activityTypes: [USER_DELETION_SCHEDULED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 0);
}

#[tokio::test]
async fn a_fresh_session_is_not_asked() {
    let app = spawn_with(|_| {}).await;
    let (browser, csrf, _) = signed_in(&app, "fay@example.com").await;
    let change = [("csrf", csrf.as_str()), ("current_password", PW), ("new_password", "a new good password")];
    let (s, done) = browser.submit("/settings/password", &change).await.page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Your password is changed") && !is_confirm_page(&done), "{done}");
    let (s, page) = browser.open("/settings/totp").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(!is_confirm_page(&page), "{page}");
}

#[tokio::test]
async fn wrong_confirmations_count_in_the_failed_login_limit() {
    let app = spawn_with(|c| {
        c.session.reauthentication_max_age_seconds = WINDOW;
        c.rate_limits.login_failures_per_ip_per_minute = 2;
    })
    .await;
    let (browser, csrf, _) = signed_in(&app, "max@example.com").await;
    wait_past_window().await;
    let (_, page) = browser.submit("/settings/recovery_codes", &[("csrf", &csrf)]).await.page();
    assert!(is_confirm_page(&page), "{page}");
    for _ in 0..2 {
        let (s, again) = confirm(&browser, &page, "wrong password").await;
        assert_eq!(s, 400, "{again}");
    }
    let (s, page) = confirm(&browser, &page, PW).await;
    assert_eq!(s, 429, "the limit is reached, even with the right password: {page}");
    // The same limit guards the sign-in form from this network.
    let other = Browser::new(&app);
    let (_, login) = other.open("/login").await.page();
    let (s, page) = other.login(&login, "max@example.com", PW).await.page();
    assert_eq!(s, 429, "{page}");
}
