//! Account lockout (`authentication_lockout`, Authgear's `authentication.lockout`) through
//! the real login forms with CSRF: off by default, the lock after `max_attempts` (even for
//! the right password, with a page that says until when), backoff, `per_user` and
//! `per_user_per_ip` (the client's address from `X-Forwarded-For` behind a trusted proxy),
//! a success clearing its address's count, TOTP failures, the Admin API view and reset,
//! and two server processes sharing the count. The per-minute rate limits are set high
//! here, so that only the lockout refuses.

use authgraph::config::{Config, LockoutType};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{TestApp, spawn_with};
use crate::rp::{Browser, hidden};
use crate::totp::{code, enrol, signed_in, step_now};

const PW: &str = "correct horse battery";
const WRONG: &str = "not the password";
const LOCKED: &str = "Account locked";

/// High rate limits, a trusted local proxy, and a lockout after `max` failures.
fn lockout(c: &mut Config, max: i64) {
    c.rate_limits.login_failures_per_ip_per_minute = 10_000;
    c.rate_limits.login_failures_per_account_per_minute = 10_000;
    c.trusted_proxies = vec!["127.0.0.0/8".into()];
    c.authentication_lockout.max_attempts = max;
}

/// A browser behind the trusted proxy, as the client at `ip`.
struct Client {
    http: reqwest::Client,
    base: String,
    ip: &'static str,
}

impl Client {
    fn new(app: &TestApp, ip: &'static str) -> Self {
        let http =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: app.url.clone(), ip }
    }

    /// Opens the login form and submits it: the status and the page (or the redirect's
    /// target on success).
    async fn login(&self, login_id: &str, password: &str) -> (u16, String) {
        let res = self.http.get(format!("{}/login", self.base)).header("x-forwarded-for", self.ip).send().await;
        let page = res.unwrap().text().await.unwrap();
        let fields = [
            ("csrf", hidden(&page, "csrf")),
            ("flow", hidden(&page, "flow")),
            ("login_id", login_id.to_owned()),
            ("password", password.to_owned()),
        ];
        self.post("/login", &fields).await
    }

    async fn post(&self, path: &str, fields: &[(&str, String)]) -> (u16, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", self.ip)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if (300..400).contains(&status) {
            return (status, res.headers()["location"].to_str().unwrap().to_owned());
        }
        (status, res.text().await.unwrap())
    }
}

const LOCKOUT_QUERY: &str = "query($id: ID!) { node(id: $id) { ... on User { accountLockout { isLocked lockoutType lockedUntil lockedIPs { ipAddress lockedUntil } } } } }";

async fn account_lockout(app: &TestApp, user: &str) -> Value {
    app.ok(LOCKOUT_QUERY, json!({"id": user})).await["node"]["accountLockout"].clone()
}

fn parse(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap_or_else(|| panic!("a time: {v}")), &Rfc3339).unwrap()
}

async fn audit_count(app: &TestApp, activity: &str) -> i64 {
    let q = format!("{{ auditLogs(activityTypes: [{activity}]) {{ totalCount }} }}");
    app.ok(&q, json!({})).await["auditLogs"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn off_by_default_many_failures_do_not_lock() {
    let app = spawn_with(|c| {
        lockout(c, 0);
    })
    .await;
    let user = app.create_user("off@example.com", Some(PW)).await;
    let client = Client::new(&app, "203.0.113.1");
    for _ in 0..12 {
        assert_eq!(client.login("off@example.com", WRONG).await.0, 401);
    }
    assert_eq!(client.login("off@example.com", PW).await, (303, "/settings".to_owned()));
    let l = account_lockout(&app, &user).await;
    assert_eq!(l, json!({"isLocked": false, "lockoutType": null, "lockedUntil": null, "lockedIPs": []}));
    assert_eq!(audit_count(&app, "AUTHENTICATION_BLOCKED").await, 0);
}

#[tokio::test]
async fn locks_after_max_attempts_even_for_the_right_password_and_says_until_when() {
    let app = spawn_with(|c| lockout(c, 3)).await;
    let user = app.create_user("lock@example.com", Some(PW)).await;
    app.create_user("other@example.com", Some(PW)).await;
    let client = Client::new(&app, "203.0.113.1");
    assert_eq!(client.login("lock@example.com", WRONG).await.0, 401);
    assert_eq!(client.login("lock@example.com", WRONG).await.0, 401);
    let (s, page) = client.login("lock@example.com", WRONG).await;
    assert_eq!(s, 429, "the third failure locks: {page}");
    assert!(page.contains(LOCKED), "{page}");

    let l = account_lockout(&app, &user).await;
    assert_eq!(l["isLocked"], true, "{l}");
    assert_eq!(l["lockoutType"], "per_user", "{l}");
    assert_eq!(l["lockedIPs"], json!([]), "a per-user lock names no address: {l}");
    let until = parse(&l["lockedUntil"]);
    let left = (until - OffsetDateTime::now_utc()).whole_seconds();
    assert!((50..=60).contains(&left), "minimum_duration_seconds (60) from now: {left}");

    // The right password is refused too, before the hash is checked (no failure recorded),
    // and the page says until when.
    let (s, page) = client.login("lock@example.com", PW).await;
    assert_eq!(s, 429, "{page}");
    let fmt = time::macros::format_description!("[hour]:[minute]:[second] UTC on [year]-[month]-[day]");
    assert!(page.contains(LOCKED) && page.contains(&until.format(&fmt).unwrap()), "{page}");
    let (s, _) = client.login("lock@example.com", WRONG).await;
    assert_eq!(s, 429);
    assert_eq!(audit_count(&app, "AUTHENTICATION_PRIMARY_PASSWORD_FAILED").await, 3);
    assert_eq!(audit_count(&app, "AUTHENTICATION_BLOCKED").await, 1);
    let d =
        app.ok("{ auditLogs(activityTypes: [AUTHENTICATION_BLOCKED]) { edges { node { data } } } }", json!({})).await;
    let payload = &d["auditLogs"]["edges"][0]["node"]["data"]["payload"];
    assert_eq!(payload["method"], "password", "{payload}");
    assert_eq!(payload["lockout_type"], "per_user", "{payload}");
    assert_eq!(payload["attempts"], 3, "{payload}");

    // Per user: another address is locked out too; another user is not.
    let elsewhere = Client::new(&app, "198.51.100.7");
    assert_eq!(elsewhere.login("lock@example.com", PW).await.0, 429);
    assert_eq!(elsewhere.login("other@example.com", PW).await.0, 303);
}

#[tokio::test]
async fn each_further_failure_doubles_the_lock_up_to_the_maximum() {
    let app = spawn_with(|c| {
        lockout(c, 2);
        c.authentication_lockout.minimum_duration_seconds = 1;
        c.authentication_lockout.maximum_duration_seconds = 4;
        c.authentication_lockout.backoff_factor = 2.0;
    })
    .await;
    let user = app.create_user("backoff@example.com", Some(PW)).await;
    let client = Client::new(&app, "203.0.113.1");
    assert_eq!(client.login("backoff@example.com", WRONG).await.0, 401);
    for expected in [1.0, 2.0, 4.0, 4.0] {
        let before = OffsetDateTime::now_utc();
        assert_eq!(client.login("backoff@example.com", WRONG).await.0, 429, "locks for {expected} s");
        let until = parse(&account_lockout(&app, &user).await["lockedUntil"]);
        let secs = (until - before).as_seconds_f64();
        assert!(secs >= expected - 0.05 && secs < expected + 1.0, "locked for {secs} s, expected {expected} s");
        tokio::time::sleep((until - OffsetDateTime::now_utc()).unsigned_abs() + std::time::Duration::from_millis(100))
            .await;
    }
}

#[tokio::test]
async fn per_user_per_ip_locks_only_that_address() {
    let app = spawn_with(|c| {
        lockout(c, 3);
        c.authentication_lockout.lockout_type = LockoutType::PerUserPerIp;
    })
    .await;
    let user = app.create_user("perip@example.com", Some(PW)).await;
    let attacker = Client::new(&app, "203.0.113.9");
    for expected in [401, 401, 429] {
        assert_eq!(attacker.login("perip@example.com", WRONG).await.0, expected);
    }
    assert_eq!(attacker.login("perip@example.com", PW).await.0, 429);
    // The user, from their own address, signs in.
    let owner = Client::new(&app, "198.51.100.7");
    assert_eq!(owner.login("perip@example.com", PW).await.0, 303);

    let l = account_lockout(&app, &user).await;
    assert_eq!(l["isLocked"], true, "{l}");
    assert_eq!(l["lockoutType"], "per_user_per_ip", "{l}");
    let ips = l["lockedIPs"].as_array().unwrap();
    assert_eq!(ips.len(), 1, "{l}");
    assert_eq!(ips[0]["ipAddress"], "203.0.113.9", "{l}");
    assert_eq!(ips[0]["lockedUntil"], l["lockedUntil"], "{l}");
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_count_of_its_address() {
    let app = spawn_with(|c| lockout(c, 3)).await;
    app.create_user("clear@example.com", Some(PW)).await;
    let client = Client::new(&app, "203.0.113.1");
    assert_eq!(client.login("clear@example.com", WRONG).await.0, 401);
    assert_eq!(client.login("clear@example.com", WRONG).await.0, 401);
    assert_eq!(client.login("clear@example.com", PW).await.0, 303);
    // The count starts again: two more failures do not lock, the third does.
    let fresh = Client::new(&app, "203.0.113.1");
    assert_eq!(fresh.login("clear@example.com", WRONG).await.0, 401);
    assert_eq!(fresh.login("clear@example.com", WRONG).await.0, 401);
    assert_eq!(fresh.login("clear@example.com", WRONG).await.0, 429);
}

/// Signs in with the password (as a user with an authenticator app): the second-factor page.
async fn password_step(client: &Client, email: &str) -> String {
    let (s, page) = client.login(email, PW).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "{page}");
    page
}

/// A code that is wrong at every step the server accepts now.
fn wrong_code(secret: &[u8]) -> String {
    let s = step_now();
    let near: Vec<String> = (s.saturating_sub(2)..=s + 2).map(|t| code(secret, t)).collect();
    (0..10).map(|d| format!("{d}{d}{d}{d}{d}{d}")).find(|c| !near.contains(c)).unwrap()
}

async fn submit_code(client: &Client, page: &str, code: &str) -> (u16, String) {
    let fields = [
        ("csrf", hidden(page, "csrf")),
        ("flow", hidden(page, "flow")),
        ("pending", hidden(page, "pending")),
        ("code", code.to_owned()),
    ];
    client.post("/login/totp", &fields).await
}

/// A user with an authenticator app; returns the app's secret.
async fn totp_user(app: &TestApp, email: &str) -> Vec<u8> {
    let (browser, csrf, _): (Browser, String, String) = signed_in(app, email).await;
    enrol(&browser, &csrf, "Phone").await.0
}

#[tokio::test]
async fn totp_failures_count_when_enabled() {
    let app = spawn_with(|c| lockout(c, 3)).await;
    let secret = totp_user(&app, "totp@example.com").await;
    let client = Client::new(&app, "203.0.113.1");
    let page = password_step(&client, "totp@example.com").await;
    let (s, page) = submit_code(&client, &page, &wrong_code(&secret)).await;
    assert_eq!(s, 400, "{page}");
    let (s, page) = submit_code(&client, &page, &wrong_code(&secret)).await;
    assert_eq!(s, 400, "{page}");
    let (s, locked) = submit_code(&client, &page, &wrong_code(&secret)).await;
    assert_eq!(s, 429, "the third wrong code locks: {locked}");
    assert!(locked.contains(LOCKED) && locked.contains("locked until"), "{locked}");
    // Locked: the right code is refused on the second-factor page, and the password too.
    let right = code(&secret, step_now() + 1);
    let (s, again) = submit_code(&client, &page, &right).await;
    assert_eq!(s, 429, "{again}");
    assert_eq!(client.login("totp@example.com", PW).await.0, 429);
    let d =
        app.ok("{ auditLogs(activityTypes: [AUTHENTICATION_BLOCKED]) { edges { node { data } } } }", json!({})).await;
    assert_eq!(d["auditLogs"]["edges"][0]["node"]["data"]["payload"]["method"], "totp", "{d}");
}

#[tokio::test]
async fn totp_failures_do_not_count_when_totp_is_not_enabled() {
    let app = spawn_with(|c| {
        lockout(c, 3);
        c.authentication_lockout.totp.enabled = false;
    })
    .await;
    let secret = totp_user(&app, "nototp@example.com").await;
    let client = Client::new(&app, "203.0.113.1");
    let mut page = password_step(&client, "nototp@example.com").await;
    for _ in 0..5 {
        let (s, next) = submit_code(&client, &page, &wrong_code(&secret)).await;
        assert_eq!(s, 400, "{next}");
        page = next;
    }
    password_step(&client, "nototp@example.com").await;
    assert_eq!(audit_count(&app, "AUTHENTICATION_BLOCKED").await, 0);
}

#[tokio::test]
async fn the_admin_api_shows_the_lockout_and_resets_it() {
    let app = spawn_with(|c| lockout(c, 2)).await;
    let user = app.create_user("admin-view@example.com", Some(PW)).await;
    let client = Client::new(&app, "203.0.113.1");
    for expected in [401, 429] {
        assert_eq!(client.login("admin-view@example.com", WRONG).await.0, expected);
    }
    // In a list of users (batched), the locked one shows as locked.
    app.create_user("free@example.com", Some(PW)).await;
    let d = app.ok("{ users { edges { node { standardAttributes accountLockout { isLocked } } } } }", json!({})).await;
    let locked: Vec<bool> = d["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["accountLockout"]["isLocked"].as_bool().unwrap())
        .collect();
    assert_eq!(locked.iter().filter(|l| **l).count(), 1, "{d}");

    // Resetting needs user:write.
    let reset = "mutation($id: ID!) { resetAccountLockout(input: {userID: $id}) { user { accountLockout { isLocked lockedUntil } } } }";
    let read_only = app.token(&["user:read"]);
    let res = app.gql_as(&read_only, reset, json!({"id": user})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    assert_eq!(account_lockout(&app, &user).await["isLocked"], true);

    let d = app.ok(reset, json!({"id": user})).await;
    assert_eq!(d["resetAccountLockout"]["user"]["accountLockout"], json!({"isLocked": false, "lockedUntil": null}));
    assert_eq!(audit_count(&app, "ADMIN_API_MUTATION_RESET_ACCOUNT_LOCKOUT_EXECUTED").await, 1);
    // Unlocked, and the count starts again.
    assert_eq!(client.login("admin-view@example.com", WRONG).await.0, 401);
    assert_eq!(client.login("admin-view@example.com", PW).await.0, 303);
    // An unknown user is NOT_FOUND, not a server error.
    let gone = app.create_user("gone@example.com", None).await;
    app.ok("mutation($u: ID!) { deleteUser(input: {userID: $u}) { deletedUserID } }", json!({"u": gone})).await;
    app.err(reset, json!({"id": gone}), "NOT_FOUND", Some("UserNotFound")).await;
}

#[tokio::test]
async fn two_processes_on_one_database_share_the_count() {
    let a = spawn_with(|c| lockout(c, 3)).await;
    let (url, key) = (a.database_url.clone(), a.dir.path().join("master.key"));
    let b = spawn_with(move |c| {
        lockout(c, 3);
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = key;
    })
    .await;
    a.create_user("shared@example.com", Some(PW)).await;
    let (on_a, on_b) = (Client::new(&a, "203.0.113.1"), Client::new(&b, "203.0.113.1"));
    assert_eq!(on_a.login("shared@example.com", WRONG).await.0, 401);
    assert_eq!(on_b.login("shared@example.com", WRONG).await.0, 401);
    assert_eq!(on_a.login("shared@example.com", WRONG).await.0, 429, "the third failure, across processes, locks");
    assert_eq!(on_b.login("shared@example.com", PW).await.0, 429, "the other process refuses too");
}

#[tokio::test]
async fn recovery_code_failures_count_unless_recovery_code_is_not_enabled() {
    for enabled in [true, false] {
        let app = spawn_with(|c| {
            lockout(c, 2);
            c.authentication_lockout.recovery_code.enabled = enabled;
        })
        .await;
        totp_user(&app, "recovery@example.com").await;
        let client = Client::new(&app, "203.0.113.1");
        let mut page = password_step(&client, "recovery@example.com").await;
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let fields = [
                ("csrf", hidden(&page, "csrf")),
                ("flow", hidden(&page, "flow")),
                ("pending", hidden(&page, "pending")),
                ("code", "AAAAA-AAAAA".to_owned()),
            ];
            let (s, next) = client.post("/login/recovery_code", &fields).await;
            statuses.push(s);
            if s == 400 {
                page = next;
            }
        }
        let expected = if enabled { [400, 429, 429] } else { [400, 400, 400] };
        assert_eq!(statuses, expected, "recovery_code.enabled = {enabled}");
        let blocked = audit_count(&app, "AUTHENTICATION_BLOCKED").await;
        assert_eq!(blocked, i64::from(enabled), "recovery_code.enabled = {enabled}");
    }
}
