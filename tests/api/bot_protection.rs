//! Bot protection (Turnstile, reCAPTCHA v2 and v3) on the signup, sign-in and
//! forgot-password forms, against a local fake of the provider's `siteverify` endpoint
//! that records what it was sent and answers per token. Nothing leaves the machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authgraph::config::{BotMode, BotProvider, Config, Secret};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::PW;
use crate::rp::{Browser, hidden};

const SECRET: &str = "0x-test-secret";
pub(crate) const SITE_KEY: &str = "0x-test-site-key";
const NO_OUTSIDE: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// The fake provider: `good` passes, `good-v3-<action>` passes with a high score for that
/// action, `low` scores 0.1, `boom` answers HTTP 500, `slow` answers after 7 s (past the
/// server's 5 s timeout), anything else fails.
pub(crate) struct FakeProvider {
    pub(crate) url: String,
    seen: Seen,
}

async fn siteverify(State(seen): State<Seen>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    seen.lock().unwrap().push(form.clone());
    if form.get("secret").map(String::as_str) != Some(SECRET) {
        return axum::Json(json!({"success": false, "error-codes": ["invalid-input-secret"]})).into_response();
    }
    let token = form.get("response").cloned().unwrap_or_default();
    let answer = match token.as_str() {
        "good" => json!({"success": true, "hostname": "localhost"}),
        "low" => json!({"success": true, "score": 0.1, "action": "login"}),
        "boom" => return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "slow" => {
            tokio::time::sleep(std::time::Duration::from_secs(7)).await;
            json!({"success": true})
        }
        t if t.starts_with("good-v3-") => json!({"success": true, "score": 0.9, "action": &t[8..]}),
        _ => json!({"success": false, "error-codes": ["invalid-input-response"]}),
    };
    axum::Json(answer).into_response()
}

impl FakeProvider {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Seen = Arc::default();
        let router = axum::Router::new().route("/siteverify", axum::routing::post(siteverify)).with_state(seen.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url: format!("http://127.0.0.1:{port}/siteverify"), seen }
    }

    pub(crate) fn seen(&self) -> Vec<HashMap<String, String>> {
        self.seen.lock().unwrap().clone()
    }
}

pub(crate) fn protect(c: &mut Config, provider: BotProvider, verify_url: &str) {
    let b = &mut c.bot_protection;
    b.enabled = true;
    b.provider = Some(provider);
    b.site_key = SITE_KEY.into();
    b.secret_key = Some(Secret::new(SECRET));
    b.verify_url = Some(verify_url.into());
}

/// Opens `path` and returns the page and its Content-Security-Policy.
async fn page_and_csp(app: &TestApp, browser: &Browser, path: &str) -> (String, String) {
    let res = browser.client.get(format!("{}{path}", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    (res.text().await.unwrap(), csp)
}

async fn failures(app: &TestApp) -> Vec<serde_json::Value> {
    let d = app
        .ok(
            "{ auditLogs(activityTypes: [BOT_PROTECTION_VERIFICATION_FAILED]) { edges { node { data ipAddress } } } }",
            json!({}),
        )
        .await;
    d["auditLogs"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

async fn user_count(app: &TestApp) -> i64 {
    app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"].as_i64().unwrap()
}

/// With a good Turnstile token, sign-in, signup and forgot-password go through, and the
/// provider was sent the secret, the token and the caller's IP address.
#[tokio::test]
async fn good_tokens_pass_and_the_provider_sees_secret_token_and_ip() {
    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| protect(c, BotProvider::Cloudflare, &fake.url)).await;
    app.create_user("ann@example.com", Some(PW)).await;
    let browser = Browser::new(&app);

    let (login, csp) = page_and_csp(&app, &browser, "/login").await;
    assert!(login.contains(&format!("<div class=\"cf-turnstile\" data-sitekey=\"{SITE_KEY}\"")), "{login}");
    assert!(
        login
            .contains("<script src=\"https:&#x2f;&#x2f;challenges.cloudflare.com&#x2f;turnstile&#x2f;v0&#x2f;api.js\"")
    );
    assert!(csp.contains("script-src https://challenges.cloudflare.com;"), "{csp}");
    assert!(csp.contains("frame-src https://challenges.cloudflare.com;"), "{csp}");
    let csrf = hidden(&login, "csrf");
    let fields = [("csrf", csrf.as_str()), ("login_id", "ann@example.com"), ("password", PW)];
    let (s, settings) =
        browser.submit("/login", &[&fields[..], &[("cf-turnstile-response", "good")]].concat()).await.page();
    assert_eq!(s, 200, "{settings}");
    assert!(!settings.contains("action=\"/login\""), "signed in: {settings}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].get("secret").map(String::as_str), Some(SECRET));
    assert_eq!(seen[0].get("response").map(String::as_str), Some("good"));
    assert_eq!(seen[0].get("remoteip").map(String::as_str), Some("127.0.0.1"));

    let other = Browser::new(&app);
    let (signup, _) = page_and_csp(&app, &other, "/signup").await;
    assert!(signup.contains("cf-turnstile"));
    let csrf = hidden(&signup, "csrf");
    let form =
        [("csrf", csrf.as_str()), ("login_id", "ben@example.com"), ("password", PW), ("cf-turnstile-response", "good")];
    let (s, page) = other.submit("/signup", &form).await.page();
    assert_eq!(s, 200, "{page}");
    assert_eq!(user_count(&app).await, 2);

    let (forgot, _) = page_and_csp(&app, &other, "/forgot_password").await;
    assert!(forgot.contains("cf-turnstile"));
    let csrf = hidden(&forgot, "csrf");
    let form = [("csrf", csrf.as_str()), ("email", "ann@example.com"), ("cf-turnstile-response", "good")];
    let (s, sent) = other.submit("/forgot_password", &form).await.page();
    assert_eq!(s, 200);
    assert!(sent.contains("If an account uses that email address"), "{sent}");
    assert_eq!(fake.seen().len(), 3);
    assert!(failures(&app).await.is_empty());
}

/// A missing or bad token is refused with 400 and a clear message before any password is
/// checked or account created; the form keeps what was typed except the password, and
/// each refusal is audited with the provider's error codes, never the token or secret.
#[tokio::test]
async fn missing_and_bad_tokens_are_refused_and_audited() {
    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| protect(c, BotProvider::Cloudflare, &fake.url)).await;
    app.create_user("cat@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (signup, _) = page_and_csp(&app, &browser, "/signup").await;
    let csrf = hidden(&signup, "csrf");

    let form = [("csrf", csrf.as_str()), ("login_id", "dan@example.com"), ("password", "secret typed pw")];
    let (s, page) = browser.submit("/signup", &form).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("Complete the check that you are not a robot"), "{page}");
    assert!(page.contains("value=\"dan@example.com\""), "keeps the login ID: {page}");
    assert!(!page.contains("secret typed pw"), "never echoes the password");
    let bad = [&form[..], &[("cf-turnstile-response", "forged-token")]].concat();
    let (s, page) = browser.submit("/signup", &bad).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("The check that you are not a robot failed"), "{page}");
    assert_eq!(user_count(&app).await, 1, "no account was created");

    // A wrong password with a bad token: refused by the check, not counted as a failed login.
    let form = [
        ("csrf", csrf.as_str()),
        ("login_id", "cat@example.com"),
        ("password", "wrong"),
        ("cf-turnstile-response", "x"),
    ];
    let (s, page) = browser.submit("/login", &form).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("value=\"cat@example.com\""), "{page}");
    let d = app
        .ok("{ auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSWORD_FAILED]) { totalCount } }", json!({}))
        .await;
    assert_eq!(d["auditLogs"]["totalCount"], 0, "the password was never checked");

    let form = [("csrf", csrf.as_str()), ("email", "cat@example.com")];
    let (s, page) = browser.submit("/forgot_password", &form).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("value=\"cat@example.com\"") && page.contains("not a robot"), "{page}");

    let rows = failures(&app).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let text = serde_json::to_string(&rows).unwrap();
    assert!(!text.contains("forged-token") && !text.contains(SECRET), "{text}");
    let reasons: Vec<&str> = rows.iter().filter_map(|r| r["data"]["payload"]["reason"].as_str()).collect();
    assert_eq!(reasons.iter().filter(|r| **r == "missing_token").count(), 2, "{reasons:?}");
    let rejected = rows
        .iter()
        .find(|r| r["data"]["payload"]["flow"] == "signup" && r["data"]["payload"]["reason"] == "rejected")
        .unwrap();
    assert_eq!(rejected["data"]["payload"]["error_codes"], json!(["invalid-input-response"]));
    assert_eq!(rejected["data"]["payload"]["provider"], "cloudflare");
    assert_eq!(rejected["ipAddress"], "127.0.0.1");
    assert_eq!(fake.seen().len(), 2, "missing tokens are refused without asking the provider");
}

/// reCAPTCHA v3: the page asks for a token for the flow's action; a low score or another
/// action is refused, a high score for the right action passes.
#[tokio::test]
async fn recaptcha_v3_checks_score_and_action() {
    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| protect(c, BotProvider::Recaptchav3, &fake.url)).await;
    app.create_user("eve@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (login, csp) = page_and_csp(&app, &browser, "/login").await;
    assert!(login.contains("name=\"g-recaptcha-response\""), "{login}");
    assert!(login.contains("data-action=\"login\""), "{login}");
    assert!(login.contains(&format!("api.js?render={SITE_KEY}")), "{login}");
    assert!(csp.contains("script-src https://www.google.com https://www.gstatic.com/recaptcha/ 'sha256-"), "{csp}");
    let csrf = hidden(&login, "csrf");
    let submit = |token: &'static str| {
        let csrf = csrf.clone();
        let browser = &browser;
        async move {
            let form = [
                ("csrf", csrf.as_str()),
                ("login_id", "eve@example.com"),
                ("password", PW),
                ("g-recaptcha-response", token),
            ];
            browser.submit("/login", &form).await.page()
        }
    };
    let (s, page) = submit("low").await;
    assert_eq!(s, 400);
    assert!(page.contains("not a robot failed"), "{page}");
    let (s, _) = submit("good-v3-signup").await;
    assert_eq!(s, 400, "a token for another action");
    let (s, page) = submit("good-v3-login").await;
    assert_eq!(s, 200, "{page}");
    assert!(!page.contains("action=\"/login\""));
    let rows = failures(&app).await;
    let mut reasons: Vec<&str> = rows.iter().filter_map(|r| r["data"]["payload"]["reason"].as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["action_mismatch", "low_score"]);
    assert!(rows.iter().any(|r| r["data"]["payload"]["score"] == json!(0.1)));
}

/// A provider that cannot be reached, or answers an error, fails closed: the form is
/// refused with 400 and asked to try again, never a server error.
#[tokio::test]
async fn provider_down_fails_closed() {
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://127.0.0.1:{closed}/siteverify");
    let app = spawn_with(|c| protect(c, BotProvider::Recaptchav2, &down)).await;
    let browser = Browser::new(&app);
    let (signup, csp) = page_and_csp(&app, &browser, "/signup").await;
    assert!(signup.contains("class=\"g-recaptcha\""), "{signup}");
    assert!(csp.contains("frame-src https://www.google.com;"), "{csp}");
    let csrf = hidden(&signup, "csrf");
    let form =
        [("csrf", csrf.as_str()), ("login_id", "fay@example.com"), ("password", PW), ("g-recaptcha-response", "good")];
    let (s, page) = browser.submit("/signup", &form).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("could not verify") && page.contains("try again"), "{page}");
    assert_eq!(user_count(&app).await, 0);
    assert_eq!(failures(&app).await[0]["data"]["payload"]["reason"], "unavailable");

    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| protect(c, BotProvider::Recaptchav2, &fake.url)).await;
    let browser = Browser::new(&app);
    let (signup, _) = page_and_csp(&app, &browser, "/signup").await;
    let csrf = hidden(&signup, "csrf");
    let form =
        [("csrf", csrf.as_str()), ("login_id", "fay@example.com"), ("password", PW), ("g-recaptcha-response", "boom")];
    let (s, page) = browser.submit("/signup", &form).await.page();
    assert_eq!(s, 400, "an HTTP 500 from the provider");
    assert!(page.contains("could not verify"), "{page}");
}

/// `requirements.login = never` turns the check off on the sign-in form only.
#[tokio::test]
async fn a_flow_set_to_never_skips_the_check() {
    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| {
        protect(c, BotProvider::Cloudflare, &fake.url);
        c.bot_protection.requirements.login = BotMode::Never;
    })
    .await;
    app.create_user("gus@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (login, csp) = page_and_csp(&app, &browser, "/login").await;
    assert!(!login.contains("<script") && !login.contains("cf-turnstile"), "{login}");
    assert_eq!(csp, NO_OUTSIDE);
    let (s, _) = browser.login(&login, "gus@example.com", PW).await.page();
    assert_eq!(s, 200);
    assert!(fake.seen().is_empty());
    let (signup, csp) = page_and_csp(&app, &browser, "/signup").await;
    assert!(signup.contains("cf-turnstile") && csp.contains("challenges.cloudflare.com"));
}

/// Without bot protection no page loads anything from outside and the policy is the
/// usual one; with it, the policy allows exactly the configured script's origin.
#[tokio::test]
async fn pages_load_nothing_from_outside_unless_configured() {
    let app = spawn_with(|_| {}).await;
    let browser = Browser::new(&app);
    for path in ["/login", "/signup", "/forgot_password"] {
        let (page, csp) = page_and_csp(&app, &browser, path).await;
        assert!(!page.contains("<script") && !page.contains("http:") && !page.contains("https:"), "{path}: {page}");
        assert_eq!(csp, NO_OUTSIDE, "{path}");
    }

    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| {
        protect(c, BotProvider::Cloudflare, &fake.url);
        c.bot_protection.script_url = Some("https://cdn.example.test/turnstile/api.js".into());
    })
    .await;
    let browser = Browser::new(&app);
    for path in ["/login", "/signup", "/forgot_password"] {
        let (page, csp) = page_and_csp(&app, &browser, path).await;
        assert!(page.contains("cdn.example.test"), "{path}: {page}");
        let origins: Vec<&str> = csp.split([';', ' ']).filter(|w| w.contains("://")).collect();
        assert_eq!(origins, ["https://cdn.example.test", "https://cdn.example.test"], "{path}: {csp}");
    }
    // Pages without a challenge keep the usual policy.
    let res = browser.client.get(format!("{}/reset_password?code=x", app.url)).send().await.unwrap();
    assert_eq!(res.headers()["content-security-policy"], NO_OUTSIDE);
}

/// The configuration is checked at load: a provider and both keys are needed once enabled.
#[test]
fn configuration_is_validated() {
    let mut c = Config::default();
    c.bot_protection.enabled = true;
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("bot_protection.provider"), "{err}");
    c.bot_protection.provider = Some(BotProvider::Recaptchav3);
    c.bot_protection.site_key = "site".into();
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("bot_protection.secret_key"), "{err}");
    c.bot_protection.secret_key = Some(Secret::new("s"));
    c.bot_protection.min_score = 1.5;
    assert!(c.validate().unwrap_err().to_string().contains("bot_protection.min_score"));
    c.bot_protection.min_score = 0.5;
    c.bot_protection.verify_url = Some("not a url".into());
    assert!(c.validate().unwrap_err().to_string().contains("bot_protection.verify_url"));
    c.bot_protection.verify_url = None;
    assert!(c.validate().is_ok());
    c.bot_protection.enabled = false;
    c.bot_protection.secret_key = None;
    assert!(c.validate().is_ok(), "nothing is required while it is off");
}

/// A provider slower than the 5-second timeout fails closed too; an oversized token is
/// refused without asking the provider.
#[tokio::test]
async fn slow_provider_and_oversized_token_are_refused() {
    let fake = FakeProvider::start().await;
    let app = spawn_with(|c| protect(c, BotProvider::Cloudflare, &fake.url)).await;
    let browser = Browser::new(&app);
    let (forgot, _) = page_and_csp(&app, &browser, "/forgot_password").await;
    let csrf = hidden(&forgot, "csrf");
    let started = std::time::Instant::now();
    let form = [("csrf", csrf.as_str()), ("email", "hal@example.com"), ("cf-turnstile-response", "slow")];
    let (s, page) = browser.submit("/forgot_password", &form).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("could not verify"), "{page}");
    assert!(started.elapsed() < std::time::Duration::from_secs(7), "the server gave up after its timeout");
    let huge = "x".repeat(10_000);
    let form = [("csrf", csrf.as_str()), ("email", "hal@example.com"), ("cf-turnstile-response", huge.as_str())];
    let (s, page) = browser.submit("/forgot_password", &form).await.page();
    assert_eq!(s, 400);
    assert!(page.contains("not a robot failed"), "{page}");
    assert_eq!(fake.seen().len(), 1, "only the slow token was sent to the provider");
}

/// The secret key can come from the file named by
/// `AUTHGRAPH_BOT_PROTECTION__SECRET_KEY_FILE`; a missing secret or an unknown key stops
/// start-up with a message that names the key.
#[test]
fn the_secret_can_come_from_a_file_and_bad_settings_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let run = |toml: &str, env: &[(&str, &str)]| {
        std::fs::write(dir.path().join("authgraph.toml"), toml).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_authgraph"));
        cmd.current_dir(dir.path()).arg("schema").env_remove("AUTHGRAPH_DATABASE_URL").env_remove("RUST_LOG");
        let out = cmd.envs(env.iter().copied()).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let toml = "[bot_protection]\nenabled = true\nprovider = \"cloudflare\"\nsite_key = \"site\"\n";
    let (code, err) = run(toml, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bot_protection.secret_key"), "{err}");
    let file = dir.path().join("turnstile-secret");
    std::fs::write(&file, "0x-from-a-file\n").unwrap();
    let (code, err) = run(toml, &[("AUTHGRAPH_BOT_PROTECTION__SECRET_KEY_FILE", file.to_str().unwrap())]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&format!("{toml}captcha = true\n"), &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("captcha"), "{err}");
    let (code, err) = run("[bot_protection.requirements]\nlogin = \"sometimes\"\n", &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("sometimes"), "{err}");
}
