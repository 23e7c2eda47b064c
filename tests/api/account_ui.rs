//! Password reset by email (through a local SMTP server), the settings page, and
//! operator template overrides.

use serde_json::json;

use crate::helpers::{TestApp, spawn_with};
use crate::rp::{Browser, hidden, register};
use crate::smtp::SmtpSink;

const PW: &str = "correct horse battery";

pub(crate) async fn with_smtp_and(customize: impl FnOnce(&mut authgraph::config::Config)) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = spawn_with(move |c| {
        c.smtp.host = Some("127.0.0.1".into());
        c.smtp.port = port;
        c.smtp.tls = authgraph::config::SmtpTls::None;
        c.smtp.from = "Auth <auth@example.com>".into();
        customize(c);
    })
    .await;
    (app, sink)
}

pub(crate) async fn with_smtp() -> (TestApp, SmtpSink) {
    with_smtp_and(|_| {}).await
}

/// The reset link in a message (undoing quoted-printable soft breaks if any).
pub(crate) fn link_in(data: &str) -> String {
    let text = data.replace("=\n", "").replace("=3D", "=");
    let start = text.find("http://").unwrap();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn password_reset_by_email_link() {
    let (app, sink) = with_smtp().await;
    let user = app.create_user("kim@example.com", Some(PW)).await;
    // A refresh grant that the reset must end.
    let (client, _) = register(&app, "SPA", "http://127.0.0.1:9/cb").await;
    let refresh = app.create_grant(&user, &client).await;

    let browser = Browser::new(&app);
    let (s, page) = browser.open("/forgot_password").await.page();
    assert_eq!(s, 200);
    let csrf = hidden(&page, "csrf");
    let (_, sent) = browser.submit("/forgot_password", &[("csrf", &csrf), ("email", "kim@example.com")]).await.page();
    let (_, unknown) =
        browser.submit("/forgot_password", &[("csrf", &csrf), ("email", "nobody@example.com")]).await.page();
    assert!(sent.contains("If an account uses that email address"));
    assert_eq!(sent, unknown, "the page reveals nothing about who has an account");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "one message, to the account's address");
    assert_eq!(mails[0].to, vec!["kim@example.com".to_owned()]);
    assert!(mails[0].data.contains("Subject: Reset your authgraph password"));
    let link = link_in(&mails[0].data);
    assert!(link.starts_with(&format!("{}/reset_password?code=", app.url)), "{link}");
    // A second request within a minute sends nothing more.
    browser.submit("/forgot_password", &[("csrf", &csrf), ("email", "kim@example.com")]).await.page();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.all().len(), 1);

    let (s, form) = browser.open(&link).await.page();
    assert_eq!(s, 200, "{form}");
    let code = hidden(&form, "code");
    let csrf = hidden(&form, "csrf");
    let (s, weak) =
        browser.submit("/reset_password", &[("csrf", &csrf), ("code", &code), ("password", "short")]).await.page();
    assert_eq!(s, 422);
    assert!(weak.contains("at least"), "{weak}");
    let (s, done) = browser
        .submit("/reset_password", &[("csrf", &csrf), ("code", &code), ("password", "a brand new password")])
        .await
        .page();
    assert_eq!(s, 200);
    assert!(done.contains("Your password is changed"));
    let (s, _) = browser
        .submit("/reset_password", &[("csrf", &csrf), ("code", &code), ("password", "another new password")])
        .await
        .page();
    assert_eq!(s, 400, "the link works once");
    let (s, _) = browser.open(&link).await.page();
    assert_eq!(s, 400);

    // Sessions from before the reset are gone; the new password logs in.
    let body = format!("grant_type=refresh_token&client_id={client}&refresh_token={refresh}");
    let res = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (_, login) = browser.open("/login").await.page();
    let (s, _) = browser.login(&login, "kim@example.com", PW).await.page();
    assert_eq!(s, 401, "the old password no longer works");
    let (s, settings) = browser.login(&login, "kim@example.com", "a brand new password").await.page();
    assert_eq!(s, 200);
    assert!(settings.contains("Your account"), "{settings}");
    let d = app.ok("{ a: auditLogs(activityTypes: [EMAIL_SENT]) { totalCount } b: auditLogs(activityTypes: [USER_PASSWORD_RESET]) { totalCount } }", json!({})).await;
    assert_eq!((d["a"]["totalCount"].as_i64(), d["b"]["totalCount"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn settings_profile_password_sessions_and_deletion() {
    let (app, _sink) = with_smtp().await;
    let user = app.create_user("lee@example.com", Some(PW)).await;
    let (s, _) = Browser::new(&app).open("/settings").await.page();
    assert_eq!(s, 200, "logged out: the login page");
    let other = Browser::new(&app);
    let (_, login) = other.open("/login").await.page();
    other.login(&login, "lee@example.com", PW).await.page();
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "lee@example.com", PW).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("lee@example.com"));
    let csrf = hidden(&page, "csrf");

    let (s, page) =
        browser.submit("/settings/profile", &[("csrf", &csrf), ("given_name", "Lee"), ("nickname", "")]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Your profile is saved."));
    assert_eq!(hidden(&page, "given_name"), "Lee");
    let d = app.ok("query($u: ID!) { node(id: $u) { ... on User { standardAttributes } } }", json!({"u": user})).await;
    assert_eq!(d["node"]["standardAttributes"]["given_name"], "Lee");

    let (s, page) = browser
        .submit(
            "/settings/password",
            &[("csrf", &csrf), ("current_password", "wrong"), ("new_password", "another good password")],
        )
        .await
        .page();
    assert_eq!(s, 422);
    assert!(page.contains("The current password is incorrect."), "{page}");
    let (_, page) = browser
        .submit(
            "/settings/password",
            &[("csrf", &csrf), ("current_password", PW), ("new_password", "another good password")],
        )
        .await
        .page();
    assert!(page.contains("Your password is changed"));
    let (s, _) = other.open("/settings").await.page();
    assert!(
        other.open("/settings").await.page().1.contains("action=\"/login\""),
        "the other browser was signed out ({s})"
    );

    // A third session, signed out from the list.
    let third = Browser::new(&app);
    let (_, login) = third.open("/login").await.page();
    third.login(&login, "lee@example.com", "another good password").await.page();
    let (_, page) = browser.open("/settings").await.page();
    let items: Vec<&str> = page.split("<li>").filter(|li| li.contains("name=\"session_id\"")).collect();
    assert_eq!(items.len(), 2, "{page}");
    let other_item = items.iter().find(|li| !li.contains("(this browser)")).unwrap();
    let other_id = hidden(other_item, "session_id");
    let (_, page) =
        browser.submit("/settings/sessions/revoke", &[("csrf", &csrf), ("session_id", &other_id)]).await.page();
    assert!(page.contains("The session is signed out."), "{page}");
    assert!(third.open("/settings").await.page().1.contains("action=\"/login\""));

    // Deletion request: scheduled, signed out, and the account is deactivated.
    let (s, _) = browser.submit("/settings/delete", &[("csrf", &csrf)]).await.page();
    assert_eq!(s, 422, "needs the confirmation box");
    let (s, page) =
        browser.submit("/settings/delete", &[("csrf", &csrf), ("confirm", "yes"), ("password", "wrong")]).await.page();
    assert_eq!(s, 422, "the current password confirms a deletion");
    assert!(page.contains("The current password is incorrect."), "{page}");
    let (s, page) = browser
        .submit("/settings/delete", &[("csrf", &csrf), ("confirm", "yes"), ("password", "another good password")])
        .await
        .page();
    assert_eq!(s, 200);
    assert!(page.contains("will be deleted in 30 days"), "{page}");
    let q = "query($u: ID!) { node(id: $u) { ... on User { deleteAt isDeactivated isDisabled } } }";
    let d = app.ok(q, json!({"u": user})).await;
    assert!(d["node"]["deleteAt"].is_string());
    assert_eq!((&d["node"]["isDeactivated"], &d["node"]["isDisabled"]), (&json!(true), &json!(true)));
    // Signing in again reactivates the account, as in Authgear: the deletion is cancelled.
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "lee@example.com", "another good password").await.page();
    assert_eq!(s, 200, "{page}");
    let d = app.ok(q, json!({"u": user})).await;
    assert_eq!(d["node"], json!({"deleteAt": null, "isDeactivated": false, "isDisabled": false}));
    let d = app.ok("{ a: auditLogs(activityTypes: [USER_PROFILE_UPDATED]) { totalCount } b: auditLogs(activityTypes: [USER_DELETION_SCHEDULED]) { totalCount } c: auditLogs(activityTypes: [USER_PASSWORD_CHANGED]) { totalCount } d: auditLogs(activityTypes: [USER_DELETION_UNSCHEDULED]) { totalCount } }", json!({})).await;
    assert_eq!(
        [&d["a"]["totalCount"], &d["b"]["totalCount"], &d["c"]["totalCount"], &d["d"]["totalCount"]],
        [&json!(1), &json!(1), &json!(1), &json!(1)]
    );
}

#[tokio::test]
async fn operators_override_templates_and_css() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("login.html"), "{% extends \"base.html\" %}{% block content %}<h1>Welcome to {{ app_name }}</h1><input name=\"csrf\" value=\"{{ csrf }}\">{% endblock %}").unwrap();
    std::fs::write(dir.path().join("authgraph.css"), "body { color: rebeccapurple; }").unwrap();
    let path = dir.path().to_owned();
    let app = spawn_with(move |c| {
        c.ui.template_dir = Some(path.clone());
        c.ui.app_name = "Acme".into();
    })
    .await;
    let browser = Browser::new(&app);
    let (s, page) = browser.open("/login").await.page();
    assert_eq!(s, 200);
    assert!(page.contains("<h1>Welcome to Acme</h1>"), "{page}");
    let css = app.client.get(format!("{}/static/authgraph.css", app.url)).send().await.unwrap().text().await.unwrap();
    assert_eq!(css, "body { color: rebeccapurple; }");
    // Templates it does not override keep the built-in look.
    let (_, page) = browser.open("/forgot_password").await.page();
    assert!(page.contains("Reset your password"));
    let res = app.client.get(format!("{}/login", app.url)).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn https_cookies_are_secure_and_host_only() {
    let app = spawn_with(|c| c.public_url = Some("https://id.example.com".into())).await;
    let res = app.client.get(format!("{}/login", app.url)).send().await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-ag_csrf="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
}

#[tokio::test]
async fn a_disabled_user_loses_the_settings_page() {
    let app = spawn_with(|_| {}).await;
    let user = app.create_user("oscar@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (_, page) = browser.login(&login, "oscar@example.com", PW).await.page();
    assert!(page.contains("Your account"));
    app.ok(
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    let (_, page) = browser.open("/settings").await.page();
    assert!(page.contains("action=\"/login\""), "{page}");
    let d =
        app.ok("query($u: ID!) { node(id: $u) { ... on User { sessions { totalCount } } } }", json!({"u": user})).await;
    assert_eq!(d["node"]["sessions"]["totalCount"], 0, "disabling ends every session");
}

#[tokio::test]
async fn a_reset_link_expires_after_15_minutes() {
    use sea_orm::ConnectionTrait;
    let (app, sink) = with_smtp().await;
    app.create_user("wes@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/forgot_password").await.page();
    browser.submit("/forgot_password", &[("csrf", &hidden(&page, "csrf")), ("email", "wes@example.com")]).await.page();
    let link = link_in(&sink.wait_for(1).await[0].data);
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    db.execute_unprepared("UPDATE password_reset_codes SET expires_at = expires_at - 900000001").await.unwrap();
    let (s, page) = browser.open(&link).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("This link has expired"), "{page}");
}

/// Asks for a reset link for `email`; returns the forgot-password answer page.
async fn forgot(browser: &Browser, email: &str) -> String {
    let (_, page) = browser.open("/forgot_password").await.page();
    browser.submit("/forgot_password", &[("csrf", &hidden(&page, "csrf")), ("email", email)]).await.page().1
}

#[tokio::test]
async fn a_reset_link_ends_the_other_links() {
    use sea_orm::ConnectionTrait;
    let (app, sink) = with_smtp().await;
    app.create_user("lee@example.com", Some(PW)).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    // Past the one-message-a-minute cooldown.
    let age = "UPDATE password_reset_codes SET created_at = created_at - 61000000";
    let browser = Browser::new(&app);
    forgot(&browser, "lee@example.com").await;
    let first = link_in(&sink.wait_for(1).await[0].data);
    db.execute_unprepared(age).await.unwrap();
    forgot(&browser, "lee@example.com").await;
    let second = link_in(&sink.wait_for(2).await[1].data);
    assert_ne!(first, second);
    let (s, _) = browser.open(&first).await.page();
    assert_eq!(s, 400, "a new link ends the older one");

    // Two live links (as older versions could leave): using one ends the other.
    db.execute_unprepared("UPDATE password_reset_codes SET used_at = NULL").await.unwrap();
    let (s, form) = browser.open(&second).await.page();
    assert_eq!(s, 200, "{form}");
    let (s, _) = browser
        .submit(
            "/reset_password",
            &[("csrf", &hidden(&form, "csrf")), ("code", &hidden(&form, "code")), ("password", "a brand new password")],
        )
        .await
        .page();
    assert_eq!(s, 200);
    let (s, _) = browser.open(&first).await.page();
    assert_eq!(s, 400, "using a link ends the others");
}

#[tokio::test]
async fn a_disabled_user_can_neither_get_nor_use_a_reset_link() {
    use sea_orm::ConnectionTrait;
    let (app, sink) = with_smtp().await;
    let user = app.create_user("dora@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    forgot(&browser, "dora@example.com").await;
    let link = link_in(&sink.wait_for(1).await[0].data);
    let (s, form) = browser.open(&link).await.page();
    assert_eq!(s, 200);
    let set =
        "mutation($u: ID!, $d: Boolean!) { setDisabledStatus(input: {userID: $u, isDisabled: $d}) { user { id } } }";
    app.ok(set, json!({"u": user, "d": true})).await;
    let (s, page) = browser.open(&link).await.page();
    assert_eq!(s, 400, "{page}");
    let (s, _) = browser
        .submit(
            "/reset_password",
            &[("csrf", &hidden(&form, "csrf")), ("code", &hidden(&form, "code")), ("password", "a brand new password")],
        )
        .await
        .page();
    assert_eq!(s, 400, "a link issued before disabling cannot be used");
    app.ok(set, json!({"u": user, "d": false})).await;
    let (s, _) = browser.open(&link).await.page();
    assert_eq!(s, 400, "nor after re-enabling");

    // Disabled: the same answer as an unknown address, and no message.
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    db.execute_unprepared("UPDATE password_reset_codes SET created_at = created_at - 61000000").await.unwrap();
    app.ok(set, json!({"u": user, "d": true})).await;
    let disabled = forgot(&browser, "dora@example.com").await;
    let unknown = forgot(&browser, "nobody@example.com").await;
    assert_eq!(disabled, unknown);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.all().len(), 1, "no link for a disabled user");
    // The old password still works once re-enabled: nothing was reset.
    app.ok(set, json!({"u": user, "d": false})).await;
    let (_, login) = browser.open("/login").await.page();
    let (s, _) = browser.login(&login, "dora@example.com", PW).await.page();
    assert_eq!(s, 200);
}
