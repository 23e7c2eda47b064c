//! The password policy in full: the password history (settings, reset link, Admin API),
//! the minimum guessable level, and a password that must change before a sign-in
//! finishes (expired by an administrator, too old, or against the policy), through the
//! real forms with CSRF and a real OAuth code flow.

use serde_json::{Value, json};

use crate::account_ui::{link_in, with_smtp_and};
use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::{PW, spa, start};
use crate::login_mfa::tokens;
use crate::rp::{Browser, hidden};

const SECOND: &str = "a second good password";
const THIRD: &str = "yet another fine password";
const STRONG: &str = "vK9#mQ2$xL7!tz";

/// Signs in on the login page; returns the browser and the settings page.
async fn signed_in(app: &TestApp, email: &str, password: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, email, password).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/settings/password\""), "{page}");
    (browser, page)
}

async fn change(browser: &Browser, page: &str, current: &str, new: &str) -> (u16, String) {
    let csrf = hidden(page, "csrf");
    browser
        .submit("/settings/password", &[("csrf", &csrf), ("current_password", current), ("new_password", new)])
        .await
        .page()
}

async fn reset(app: &TestApp, user: &str, password: &str) -> Value {
    let q = "mutation($u: ID!, $p: String) { resetPassword(input: {userID: $u, password: $p}) { user { id } } }";
    app.gql(q, json!({"u": user, "p": password})).await
}

fn error_reason(res: &Value) -> (String, String, String) {
    let e = &res["errors"][0];
    (
        e["extensions"]["code"].as_str().unwrap_or_default().to_owned(),
        e["extensions"]["reason"].as_str().unwrap_or_default().to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn history_refuses_a_reused_password_in_settings_reset_link_and_admin_api() {
    let (app, sink) = with_smtp_and(|c| c.password_policy.history_size = 3).await;
    let user = app.create_user("hal@example.com", Some(PW)).await;

    // Settings: the current password again is refused, a new one is taken, and then the
    // first one is refused as one of the last three.
    let (browser, page) = signed_in(&app, "hal@example.com", PW).await;
    let (s, again) = change(&browser, &page, PW, PW).await;
    assert_eq!(s, 422, "{again}");
    assert!(again.contains("must not be one of your last 3 passwords"), "{again}");
    let (s, done) = change(&browser, &again, PW, SECOND).await;
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Your password is changed"), "{done}");
    let (s, again) = change(&browser, &done, SECOND, PW).await;
    assert_eq!(s, 422, "{again}");
    assert!(again.contains("must not be one of your last 3 passwords"), "{again}");

    // Admin API: resetPassword with a password from the history is refused with a code.
    let res = reset(&app, &user, PW).await;
    let (code, reason, message) = error_reason(&res);
    assert_eq!((code.as_str(), reason.as_str()), ("BAD_USER_INPUT", "PasswordReused"), "{res}");
    assert!(message.contains("last 3 passwords"), "{message}");
    let res = reset(&app, &user, THIRD).await;
    assert!(res.get("errors").is_none(), "{res}");

    // Reset link: a password from the history is refused on the form; a new one is taken.
    let csrf = hidden(&browser.open("/forgot_password").await.page().1, "csrf");
    browser.submit("/forgot_password", &[("csrf", &csrf), ("email", "hal@example.com")]).await.page();
    let link = link_in(&sink.wait_for(1).await[0].data);
    let (s, form) = browser.open(&link).await.page();
    assert_eq!(s, 200, "{form}");
    let (code, csrf) = (hidden(&form, "code"), hidden(&form, "csrf"));
    for old in [PW, SECOND, THIRD] {
        let (s, page) =
            browser.submit("/reset_password", &[("csrf", &csrf), ("code", &code), ("password", old)]).await.page();
        assert_eq!(s, 422, "{old}: {page}");
        assert!(page.contains("must not be one of your last 3 passwords"), "{page}");
    }
    let (s, done) = browser
        .submit("/reset_password", &[("csrf", &csrf), ("code", &code), ("password", "the fourth password")])
        .await
        .page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Your password is changed"), "{done}");
    // With three kept, the first password is out of the history now.
    let res = reset(&app, &user, PW).await;
    assert!(res.get("errors").is_none(), "{res}");
    assert_eq!(history_rows(&app).await, 3, "only the newest three hashes are kept");
}

/// How many password hashes the history holds, over all users.
async fn history_rows(app: &TestApp) -> i64 {
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    crate::helpers::count_rows(&db, "password_history").await
}

#[tokio::test]
async fn history_days_refuses_a_password_used_recently() {
    let app = spawn_with(|c| c.password_policy.history_days = 30).await;
    let user = app.create_user("ida@example.com", Some(PW)).await;
    for p in [SECOND, THIRD] {
        let res = reset(&app, &user, p).await;
        assert!(res.get("errors").is_none(), "{res}");
    }
    let res = reset(&app, &user, PW).await;
    let (_, reason, message) = error_reason(&res);
    assert_eq!(reason, "PasswordReused", "{res}");
    assert!(message.contains("in the last 30 days"), "{message}");
    assert_eq!(history_rows(&app).await, 3);
}

#[tokio::test]
async fn without_a_history_rule_no_hashes_are_kept() {
    let app = spawn_with(|_| {}).await;
    let user = app.create_user("nan@example.com", Some(PW)).await;
    let res = reset(&app, &user, SECOND).await;
    assert!(res.get("errors").is_none(), "{res}");
    assert_eq!(history_rows(&app).await, 0);
}

#[tokio::test]
async fn guessable_level_refuses_password123_and_accepts_a_strong_one() {
    let app = spawn_with(|c| c.password_policy.minimum_guessable_level = 3).await;
    let create = "mutation($e: String!, $p: String) { createUser(input: {definition: {loginID: {key: \"email\", value: $e}}, password: $p}) { user { id } } }";
    for weak in ["password123", "Password123!", "qwertyuiop1", "iloveyou2024"] {
        let res = app.gql(create, json!({"e": "weak@example.com", "p": weak})).await;
        let (code, reason, message) = error_reason(&res);
        assert_eq!((code.as_str(), reason.as_str()), ("BAD_USER_INPUT", "PasswordPolicyViolated"), "{weak}: {res}");
        assert!(message.contains("too easy to guess"), "{message}");
    }
    let res = app.gql(create, json!({"e": "strong@example.com", "p": STRONG})).await;
    assert!(res.get("errors").is_none(), "{res}");
    let user = res["data"]["createUser"]["user"]["id"].as_str().unwrap().to_owned();
    let res = reset(&app, &user, "password123").await;
    assert_eq!(error_reason(&res).1, "PasswordPolicyViolated", "{res}");

    // The settings form says why.
    let (browser, page) = signed_in(&app, "strong@example.com", STRONG).await;
    let (s, again) = change(&browser, &page, STRONG, "Password123!").await;
    assert_eq!(s, 422, "{again}");
    assert!(again.contains("too easy to guess"), "{again}");
    let (s, done) = change(&browser, &again, STRONG, "correct-Horse-battery-7staple").await;
    assert_eq!(s, 200, "{done}");
}

/// Signs in through a code flow with a password that must change: the change page, a
/// refused new password (the old one), then a good one; the tokens come, the old
/// password no longer signs in and the new one does.
/// With `again` (the password expires by age within seconds in the test) the new
/// password's sign-in may be asked to change it again; it is right either way.
async fn change_at_sign_in(app: &TestApp, email: &str, reason: &str, again_by_age: bool) {
    let (rp, _) = spa(app).await;
    let browser = Browser::new(app);
    let f = start(&rp, &[], &[]);
    let (_, login) = browser.open(&f.url).await.page();
    let (s, page) = browser.login(&login, email, PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Choose a new password") && page.contains("action=\"/login/change_password\""), "{page}");
    assert!(page.contains(reason), "{page}");
    // Not signed in yet.
    let other_tab = browser.open("/settings").await.page().1;
    assert!(other_tab.contains("action=\"/login\""), "no session yet: {other_tab}");

    let submit = async |page: &str, new: &str| {
        let fields = [
            ("csrf", hidden(page, "csrf")),
            ("flow", hidden(page, "flow")),
            ("pending", hidden(page, "pending")),
            ("new_password", new.to_owned()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        browser.submit("/login/change_password", &fields).await
    };
    let (s, again) = submit(&page, PW).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("must differ from the old one"), "{again}");
    let (s, again) = submit(&again, "short").await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("at least 8 characters"), "{again}");
    let cb = submit(&again, SECOND).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd"]), "{id}");
    // The state sets a password once.
    let (s, used) = submit(&again, THIRD).await.page();
    assert_eq!(s, 400, "{used}");

    let fresh = Browser::new(app);
    let (_, login) = fresh.open("/login").await.page();
    let (s, page) = fresh.login(&login, email, PW).await.page();
    assert_eq!(s, 401, "the old password no longer works: {page}");
    let (s, page) = fresh.login(&page, email, SECOND).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("action=\"/settings/password\"") || (again_by_age && page.contains("Your password is too old")),
        "signed in: {page}"
    );
    let d = app.ok("{ auditLogs(activityTypes: [USER_PASSWORD_CHANGED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 1);
}

#[tokio::test]
async fn expired_password_is_changed_before_the_sign_in_finishes() {
    let app = spawn_with(|_| {}).await;
    let user = app.create_user("eve@example.com", Some(PW)).await;
    let expire = "mutation($id: ID!) { setPasswordExpired(input: {userID: $id, expired: true}) { user { id } } }";
    app.ok(expire, json!({"id": user})).await;
    change_at_sign_in(&app, "eve@example.com", "Your password has expired", false).await;
}

#[tokio::test]
async fn password_older_than_the_policy_allows_is_changed_at_sign_in() {
    let app = spawn_with(|c| {
        c.password_policy.expiry.force_change.enabled = true;
        c.password_policy.expiry.force_change.duration_since_last_update_seconds = 1;
    })
    .await;
    app.create_user("old@example.com", Some(PW)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    change_at_sign_in(&app, "old@example.com", "Your password is too old", true).await;
}

#[tokio::test]
async fn a_password_that_breaks_the_policy_is_changed_at_sign_in() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_with(|c| c.password_policy.minimum_guessable_level = 3).await;
    app.create_user("weak@example.com", Some(STRONG)).await;
    // A password from before the policy was tightened.
    let hash = authgraph::crypto::password::PasswordHasher::new(1).hash("password123".into()).await.unwrap();
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let sql = format!("UPDATE authenticators SET password_hash = '{hash}' WHERE kind = 'password'");
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();

    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "weak@example.com", "password123").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("no longer meets the password rules"), "{page}");
    let fields = |page: &str, new: &str| {
        vec![
            ("csrf".to_owned(), hidden(page, "csrf")),
            ("flow".to_owned(), hidden(page, "flow")),
            ("pending".to_owned(), hidden(page, "pending")),
            ("new_password".to_owned(), new.to_owned()),
        ]
    };
    let f = fields(&page, "Password1234!");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, again) = browser.submit("/login/change_password", &f).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("too easy to guess"), "{again}");
    let f = fields(&again, "correct-Horse-battery-7staple");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, settings) = browser.submit("/login/change_password", &f).await.page();
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("action=\"/settings/password\""), "signed in: {settings}");
}

#[tokio::test]
async fn after_the_change_at_sign_in_a_second_factor_is_still_asked() {
    let app = spawn_with(|_| {}).await;
    let (browser, csrf, user) = crate::totp::signed_in(&app, "two@example.com").await;
    crate::totp::enrol(&browser, &csrf, "Phone").await;
    let expire = "mutation($id: ID!) { setPasswordExpired(input: {userID: $id, expired: true}) { user { id } } }";
    app.ok(expire, json!({"id": user})).await;

    let fresh = Browser::new(&app);
    let (_, login) = fresh.open("/login").await.page();
    let (s, page) = fresh.login(&login, "two@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Your password has expired"), "{page}");
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("pending", hidden(&page, "pending")),
        ("new_password", SECOND.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, page) = fresh.submit("/login/change_password", &fields).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Enter the code from your authenticator app"), "the second factor: {page}");
    let (_, settings) = fresh.open("/settings").await.page();
    assert!(settings.contains("action=\"/login\""), "no session before the code: {settings}");
}
