//! Logging in and signing up with a password: failed and disabled logins, the password
//! policy at signup, and the rate limit on failed logins.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, hidden, param};

/// Failed logins say the same thing for an unknown login ID and a wrong password; a
/// disabled user is told why and gets no session; forms need their CSRF token.
#[tokio::test]
async fn failed_and_disabled_logins() {
    let app = spawn_app().await;
    let user = app.create_user("gina@example.com", Some(PW)).await;
    let (rp, id) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["offline_access"], &[]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s1, wrong_pw) = browser.login(&page, "gina@example.com", "wrong password").await.page();
    let (s2, unknown) = browser.login(&page, "nobody@example.com", PW).await.page();
    assert_eq!((s1, s2), (401, 401));
    let msg = "The login ID or the password is incorrect.";
    assert!(wrong_pw.contains(msg) && unknown.contains(msg));
    let d = app.ok("{ a: auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSWORD_FAILED]) { totalCount } b: auditLogs(activityTypes: [AUTHENTICATION_IDENTITY_LOGIN_ID_FAILED]) { totalCount } }", json!({})).await;
    assert_eq!((d["a"]["totalCount"].as_i64(), d["b"]["totalCount"].as_i64()), (Some(1), Some(1)));
    let (s, _) = browser
        .submit("/login", &[("flow", &hidden(&page, "flow")), ("login_id", "gina@example.com"), ("password", PW)])
        .await
        .page();
    assert_eq!(s, 403, "no CSRF token");

    // A refresh token from before the account was disabled stops working.
    let cb = browser.login(&page, "gina@example.com", PW).await.redirect();
    let code = param(&cb, "code").unwrap();
    let (_, t) = app.exchange_code(&code, CB, &id, None, &[("code_verifier", f.verifier.secret())]).await;
    app.ok("mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true, reason: \"Unpaid invoices\"}) { user { id } } }", json!({"u": user})).await;
    let (s, b) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let fresh = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, page) = fresh.open(&f.url).await.page();
    let (s, body) = fresh.login(&page, "gina@example.com", PW).await.page();
    assert_eq!(s, 403);
    assert!(body.contains("Unpaid invoices"), "{body}");
    let f = start(&rp, &[], &[("prompt", "none")]);
    assert_eq!(param(&fresh.open(&f.url).await.redirect(), "error").as_deref(), Some("login_required"));
}

/// Signup creates the account and logs in; the policy is explained up front.
#[tokio::test]
async fn signup_then_code() {
    let app = spawn_with(|c| c.password_policy.digit_required = true).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, login) = browser.open(&f.url).await.page();
    let flow = hidden(&login, "flow");
    let (s, page) = browser
        .open(&format!("/signup?flow={}", url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()))
        .await
        .page();
    assert_eq!(s, 200);
    assert!(page.contains("Contains a digit."), "{page}");
    let csrf = hidden(&page, "csrf");
    let (s, again) = browser
        .submit(
            "/signup",
            &[("csrf", &csrf), ("flow", &flow), ("login_id", "new@example.com"), ("password", "no digits here")],
        )
        .await
        .page();
    assert_eq!(s, 422);
    assert!(again.contains("digit"), "{again}");
    let cb = browser
        .submit(
            "/signup",
            &[("csrf", &csrf), ("flow", &flow), ("login_id", "new@example.com"), ("password", "4 digits 1234")],
        )
        .await
        .redirect();
    assert!(param(&cb, "code").is_some());
    let (s, dup) = browser
        .submit(
            "/signup",
            &[("csrf", &csrf), ("flow", &flow), ("login_id", "NEW@example.com"), ("password", "4 digits 1234")],
        )
        .await
        .page();
    assert_eq!(s, 422);
    assert!(dup.contains("already exists"), "{dup}");
}

/// Failed logins are limited per login ID and per IP address (counted in the database);
/// a blocked attempt is refused before any password hash is computed.
#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let app = spawn_with(|c| {
        c.rate_limits.login_failures_per_account_per_minute = 3;
        c.rate_limits.login_failures_per_ip_per_minute = 5;
    })
    .await;
    app.create_user("pat@example.com", Some(PW)).await;
    app.create_user("quinn@example.com", Some(PW)).await;
    // Counters use one-minute windows: start well inside one.
    while time::OffsetDateTime::now_utc().second() > 55 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/login").await.page();
    for _ in 0..3 {
        assert_eq!(browser.login(&page, "pat@example.com", "wrong password").await.page().0, 401);
    }
    let (s, body) = browser.login(&page, "pat@example.com", PW).await.page();
    assert_eq!(s, 429, "even the right password waits: {body}");
    assert!(body.contains("Too many failed attempts"));
    // Another account from the same address still works, until the address's limit.
    for _ in 0..2 {
        assert_eq!(browser.login(&page, "quinn@example.com", "wrong password").await.page().0, 401);
    }
    assert_eq!(browser.login(&page, "quinn@example.com", PW).await.page().0, 429, "the IP limit");
    let d = app.ok("{ auditLogs(activityTypes: [RATE_LIMIT_BLOCKED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 2);
}
