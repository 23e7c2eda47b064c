//! Limits hold under concurrency and across processes, and see the client behind a proxy.

use futures::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, spawn_with};
use crate::rp::{Browser, hidden};

const PW: &str = "correct horse 12";

/// Waits until the current one-minute window has at least 15 seconds left.
pub(crate) async fn inside_one_window() {
    while time::OffsetDateTime::now_utc().second() > 45 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A second server process on the same database and master key.
async fn second_process(first: &TestApp) -> TestApp {
    let url = first.database_url.clone();
    let key = first.dir.path().join("master.key");
    spawn_with(move |c| {
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = key;
    })
    .await
}

async fn post_login(browser: &Browser, page: &str, login_id: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", hidden(page, "csrf").as_str()),
            ("flow", hidden(page, "flow").as_str()),
            ("login_id", login_id),
            ("password", password),
        ])
        .finish();
    let mut req = browser
        .client
        .post(format!("{}/login", browser.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_parallel_burst_across_two_processes_never_passes_the_limit() {
    let a = spawn_with(|c| c.rate_limits.login_failures_per_account_per_minute = 10).await;
    let b = second_process(&a).await;
    a.create_user("burst@example.com", Some(PW)).await;
    inside_one_window().await;
    let (ba, bb) = (Browser::new(&a), Browser::new(&b));
    let (_, page_a) = ba.open("/login").await.page();
    let (_, page_b) = bb.open("/login").await.page();
    let attempts = (0..40).map(|i| {
        let (browser, page) = if i % 2 == 0 { (&ba, &page_a) } else { (&bb, &page_b) };
        post_login(browser, page, "burst@example.com", "wrong password", None)
    });
    let statuses = join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked, 10, "exactly the limit was checked against the hash: {statuses:?}");
    assert_eq!(refused, 30, "{statuses:?}");
    let d =
        a.ok("{ auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSWORD_FAILED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 10);
    // The flood of refusals is one audit row, not thirty.
    let d = a.ok("{ auditLogs(activityTypes: [RATE_LIMIT_BLOCKED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 1);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let app = spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
        c.rate_limits.login_failures_per_ip_per_minute = 3;
        c.rate_limits.login_failures_per_account_per_minute = 100;
    })
    .await;
    app.create_user("proxied@example.com", Some(PW)).await;
    inside_one_window().await;
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/login").await.page();
    let attacker = Some("198.51.100.66, 203.0.113.7");
    for _ in 0..3 {
        assert_eq!(post_login(&browser, &page, "proxied@example.com", "nope", attacker).await, 401);
    }
    assert_eq!(post_login(&browser, &page, "proxied@example.com", "nope", attacker).await, 429);
    // A `Forwarded` header the client sends through is not read: the proxy writes XFF.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", hidden(&page, "csrf").as_str()),
            ("flow", hidden(&page, "flow").as_str()),
            ("login_id", "proxied@example.com"),
            ("password", "nope"),
        ])
        .finish();
    let spoofed = browser
        .client
        .post(format!("{}/login", browser.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "203.0.113.7")
        .header("forwarded", "for=192.0.2.200")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 429, "still the blocked client");
    // Another client behind the same proxy is not blocked, and logs in.
    assert_eq!(post_login(&browser, &page, "proxied@example.com", PW, Some("203.0.113.8")).await, 303);
    // IPv6 clients are counted by their /64: a new address per attempt does not help.
    for host in 1..=3 {
        let ip = format!("2001:db8:7:7::{host}");
        assert_eq!(post_login(&browser, &page, "proxied@example.com", "nope", Some(&ip)).await, 401);
    }
    assert_eq!(post_login(&browser, &page, "proxied@example.com", "nope", Some("2001:db8:7:7::99")).await, 429);
    assert_eq!(post_login(&browser, &page, "proxied@example.com", "nope", Some("2001:db8:7:8::1")).await, 401);
    let d = app
        .ok(
            "{ auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSWORD_FAILED]) { edges { node { ipAddress } } } }",
            json!({}),
        )
        .await;
    let ips: Vec<&str> =
        d["auditLogs"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["ipAddress"].as_str().unwrap()).collect();
    assert_eq!(ips.iter().filter(|ip| **ip == "203.0.113.7").count(), 3, "the client: {ips:?}");
    for spoofed in ["127.0.0.1", "198.51.100.66", "192.0.2.200"] {
        assert!(!ips.contains(&spoofed), "never the proxy or a spoofed hop: {ips:?}");
    }

    // Without trusted proxies the header is ignored: everyone is the peer.
    let plain = spawn_with(|c| c.rate_limits.login_failures_per_ip_per_minute = 2).await;
    plain.create_user("plain@example.com", Some(PW)).await;
    inside_one_window().await;
    let browser = Browser::new(&plain);
    let (_, page) = browser.open("/login").await.page();
    for ip in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(post_login(&browser, &page, "plain@example.com", "nope", Some(ip)).await, 401);
    }
    assert_eq!(post_login(&browser, &page, "plain@example.com", PW, Some("203.0.113.3")).await, 429);
}

#[tokio::test]
async fn sign_ups_and_password_reset_requests_are_limited_per_ip() {
    let app = spawn_with(|c| {
        c.rate_limits.signups_per_ip_per_minute = 2;
        c.rate_limits.account_enumeration_per_ip_per_minute = 2;
    })
    .await;
    inside_one_window().await;
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/signup").await.page();
    let csrf = hidden(&page, "csrf");
    let flow = hidden(&page, "flow");
    let mut statuses = Vec::new();
    for i in 0..3 {
        let login = format!("new{i}@example.com");
        let landing = browser
            .submit("/signup", &[("csrf", &csrf), ("flow", &flow), ("login_id", &login), ("password", PW)])
            .await;
        statuses.push(match landing {
            crate::rp::Landing::Page(s, _) => s,
            crate::rp::Landing::Redirect(_) => 303,
        });
    }
    assert_eq!(statuses[2], 429, "{statuses:?}");
    let d = app.ok("{ users { totalCount } }", json!({})).await;
    assert_eq!(d["users"]["totalCount"], 2, "the third sign-up created nobody");

    let (_, page) = browser.open("/forgot_password").await.page();
    let csrf = hidden(&page, "csrf");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (s, _) = browser.submit("/forgot_password", &[("csrf", &csrf), ("email", "new0@example.com")]).await.page();
        statuses.push(s);
    }
    assert_eq!(statuses, vec![200, 200, 429]);
}

#[tokio::test]
async fn a_parallel_burst_of_wrong_current_passwords_is_limited_too() {
    let app = spawn_with(|c| c.rate_limits.password_check_failures_per_user_per_minute = 10).await;
    app.create_user("settings@example.com", Some(PW)).await;
    inside_one_window().await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "settings@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    let csrf = hidden(&page, "csrf");
    let fields = [("csrf", csrf.as_str()), ("current_password", "wrong"), ("new_password", "another good password")];
    let attempts = (0..30).map(|_| browser.submit("/settings/password", &fields));
    let pages: Vec<String> = join_all(attempts).await.into_iter().map(|l| l.page().1).collect();
    let checked = pages.iter().filter(|p| p.contains("The current password is incorrect.")).count();
    let refused = pages.iter().filter(|p| p.contains("Too many wrong passwords")).count();
    assert_eq!((checked, refused), (10, 20), "only the limit was checked against the hash");
}
