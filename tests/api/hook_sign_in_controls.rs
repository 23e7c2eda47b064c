//! What `authentication.*` blocking hooks decide beyond "allowed", applied to a password
//! sign-in through the Auth UI: `bot_protection.mode` (`always` asks for the challenge
//! where the configuration would not, `never` skips it) against the local fake of the
//! provider, and `rate_limits` weights (0 does not count an attempt, 2 counts it twice)
//! on the failed-sign-in and account-enumeration limits.

use authgraph::config::{BotMode, BotProvider, Config};
use serde_json::{Value, json};

use crate::blocking_hooks::{Answer, Hooks, app_with};
use crate::bot_protection::{FakeProvider, SITE_KEY, protect};
use crate::helpers::TestApp;
use crate::login_helpers::PW;
use crate::rate_limits::inside_one_window;
use crate::rp::{Browser, hidden};

const EMAIL: &str = "gate@example.com";

const HOOKS: [(&str, &str); 2] =
    [("authentication.pre_initialize", "init"), ("authentication.post_identified", "ident")];

fn allow_with(extra: Value) -> Answer {
    let mut v = json!({"is_allowed": true});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Answer::Json(v)
}

/// Posts the sign-in form of a fresh page, with a Turnstile token if given. Returns the
/// status and the page.
async fn sign_in(app: &TestApp, login_id: &str, password: &str, token: Option<&str>) -> (u16, String) {
    let browser = Browser::new(app);
    let (_, page) = browser.open("/login").await.page();
    let csrf = hidden(&page, "csrf");
    let flow = hidden(&page, "flow");
    let mut form =
        vec![("csrf", csrf.as_str()), ("flow", flow.as_str()), ("login_id", login_id), ("password", password)];
    if let Some(t) = token {
        form.push(("cf-turnstile-response", t));
    }
    browser.submit("/login", &form).await.page()
}

fn signed_in(page: &str) -> bool {
    !page.contains("action=\"/login\"")
}

async fn protected_app(base: &str, fake: &FakeProvider, login: BotMode) -> TestApp {
    let url = fake.url.clone();
    let app = app_with(base, &HOOKS, move |c: &mut Config| {
        protect(c, BotProvider::Cloudflare, &url);
        c.bot_protection.requirements.login = login;
    })
    .await;
    app.create_user(EMAIL, Some(PW)).await;
    app
}

/// `always` from a hook asks for the challenge on a sign-in form the configuration leaves
/// without one: no token is refused with the message and the widget drawn (and allowed
/// by the page's policy), a bad one fails, the fake's valid one signs in. It works from
/// `post_identified` too, and without the hook's word the form needs no token.
#[tokio::test]
async fn always_from_a_hook_requires_the_challenge_the_config_does_not() {
    let fake = FakeProvider::start().await;
    let (hooks, base) = Hooks::start().await;
    let app = protected_app(&base, &fake, BotMode::Never).await;
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/login").await.page();
    assert!(!page.contains("cf-turnstile"), "the configuration draws no widget on the sign-in form: {page}");

    hooks.set("init", allow_with(json!({"bot_protection": {"mode": "always"}})));
    let res = {
        let csrf = hidden(&page, "csrf");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("csrf", csrf.as_str()), ("login_id", EMAIL), ("password", PW)])
            .finish();
        browser
            .client
            .post(format!("{}/login", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(res.status(), 400);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let page = res.text().await.unwrap();
    assert!(page.contains("Complete the check that you are not a robot"), "{page}");
    assert!(page.contains(&format!("<div class=\"cf-turnstile\" data-sitekey=\"{SITE_KEY}\"")), "the widget: {page}");
    assert!(page.contains(&format!("value=\"{EMAIL}\"")), "keeps the login ID: {page}");
    assert!(csp.contains("script-src https://challenges.cloudflare.com"), "{csp}");
    assert!(fake.seen().is_empty(), "no token, nothing to ask the provider");

    let (s, page) = sign_in(&app, EMAIL, PW, Some("forged")).await;
    assert_eq!(s, 400);
    assert!(page.contains("The check that you are not a robot failed"), "{page}");
    let (s, page) = sign_in(&app, EMAIL, PW, Some("good")).await;
    assert_eq!(s, 200);
    assert!(signed_in(&page), "the fake's valid token passes: {page}");
    assert_eq!(fake.seen().len(), 2);
    let d = app
        .ok("{ auditLogs(activityTypes: [AUTHENTICATION_PRIMARY_PASSWORD_FAILED]) { totalCount } }", json!({}))
        .await;
    assert_eq!(d["auditLogs"]["totalCount"], 0, "no refused sign-in reached the password check");

    // The identified user's hook can ask for it too (pre_initialize having said nothing).
    hooks.set("init", allow_with(json!({})));
    hooks.set("ident", allow_with(json!({"bot_protection": {"mode": "always"}})));
    let (s, page) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("not a robot") && page.contains("cf-turnstile"), "{page}");
    let (_, page) = sign_in(&app, EMAIL, PW, Some("good")).await;
    assert!(signed_in(&page), "{page}");

    // No hook asks: the configuration's `never` holds.
    hooks.set("ident", allow_with(json!({})));
    let (_, page) = sign_in(&app, EMAIL, PW, None).await;
    assert!(signed_in(&page), "{page}");
}

/// `never` from a hook skips the challenge the configuration asks for on the sign-in
/// form: no token is needed and the provider is not asked. Without the hook's word a
/// sign-in without a token is refused.
#[tokio::test]
async fn never_from_a_hook_skips_the_configured_challenge() {
    let fake = FakeProvider::start().await;
    let (hooks, base) = Hooks::start().await;
    let app = protected_app(&base, &fake, BotMode::Always).await;
    let (s, page) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 400, "the configuration asks for the challenge: {page}");
    assert!(page.contains("not a robot"), "{page}");

    hooks.set("init", allow_with(json!({"bot_protection": {"mode": "never"}})));
    let (s, page) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 200);
    assert!(signed_in(&page), "the hook waived the challenge: {page}");
    assert!(fake.seen().is_empty(), "the provider was never asked");
    // The last non-null value wins: `post_identified` cannot undo a check already passed,
    // but a later `always` after an earlier `never` asks for it.
    hooks.set("ident", allow_with(json!({"bot_protection": {"mode": "always"}})));
    let (s, page) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 400, "{page}");
}

/// Without a configured provider there is nothing to check with: a hook's `always`
/// changes nothing (as in Authgear).
#[tokio::test]
async fn always_without_a_provider_changes_nothing() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &HOOKS, |_| {}).await;
    app.create_user(EMAIL, Some(PW)).await;
    hooks.set("init", allow_with(json!({"bot_protection": {"mode": "always"}})));
    let (s, page) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 200);
    assert!(signed_in(&page), "{page}");
}

async fn statuses(app: &TestApp, login_id: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(sign_in(app, login_id, "wrong password", None).await.0);
    }
    out
}

async fn limited_app(base: &str, per_account: i64, enumeration: i64) -> TestApp {
    let app = app_with(base, &HOOKS, move |c: &mut Config| {
        c.rate_limits.login_failures_per_ip_per_minute = 1000;
        c.rate_limits.login_failures_per_account_per_minute = per_account;
        c.rate_limits.account_enumeration_per_ip_per_minute = enumeration;
    })
    .await;
    app.create_user(EMAIL, Some(PW)).await;
    app
}

/// `authentication.general` weight 0: wrong passwords do not count, so more attempts than
/// the limit are checked; weight 2 reaches the limit at half the attempts, whether
/// `pre_initialize` or the identified user's `post_identified` weighs them.
#[tokio::test]
async fn general_weights_change_how_many_failed_sign_ins_the_limit_allows() {
    let (hooks, base) = Hooks::start().await;
    let app = limited_app(&base, 4, 1000).await;
    inside_one_window().await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 0}}})));
    assert_eq!(statuses(&app, EMAIL, 7).await, vec![401; 7], "weight 0: nothing counted");
    // Nothing was counted: the default weight now gets the whole limit.
    hooks.set("init", allow_with(json!({})));
    assert_eq!(statuses(&app, EMAIL, 5).await, vec![401, 401, 401, 401, 429]);

    let app = limited_app(&base, 4, 1000).await;
    inside_one_window().await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 2}}})));
    assert_eq!(statuses(&app, EMAIL, 3).await, vec![401, 401, 429], "weight 2: half the attempts");
    let (s, _) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 429, "the limit holds for the right password too");

    let app = limited_app(&base, 4, 1000).await;
    inside_one_window().await;
    hooks.set("init", allow_with(json!({})));
    hooks.set("ident", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 2}}})));
    assert_eq!(statuses(&app, EMAIL, 3).await, vec![401, 401, 429], "weighed after identification");
    // A later `rate_limits` replaces the earlier one: the group it leaves out counts 1.
    let app = limited_app(&base, 4, 1000).await;
    inside_one_window().await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 2}}})));
    hooks.set("ident", allow_with(json!({"rate_limits": {"authentication.account_enumeration": {"weight": 1}}})));
    assert_eq!(statuses(&app, EMAIL, 5).await, vec![401, 401, 401, 401, 429]);
}

/// Login IDs that name no account count against the per-IP account-enumeration limit;
/// `authentication.account_enumeration` weighs them (0: not counted, 2: twice). Once the
/// limit is reached, every sign-in from the address is refused, so that the refusal
/// tells nothing about which accounts exist.
#[tokio::test]
async fn account_enumeration_weights_change_how_many_unknown_login_ids_are_looked_up() {
    let (hooks, base) = Hooks::start().await;
    let app = limited_app(&base, 1000, 4).await;
    inside_one_window().await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.account_enumeration": {"weight": 0}}})));
    let mut seen = Vec::new();
    for i in 0..6 {
        seen.push(sign_in(&app, &format!("nobody{i}@example.com"), PW, None).await.0);
    }
    assert_eq!(seen, vec![401; 6], "weight 0: nothing counted");
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.account_enumeration": {"weight": 2}}})));
    let mut seen = Vec::new();
    for i in 0..3 {
        seen.push(sign_in(&app, &format!("someone{i}@example.com"), PW, None).await.0);
    }
    assert_eq!(seen, vec![401, 401, 429], "weight 2: half the attempts");
    hooks.set("init", allow_with(json!({})));
    let (s, _) = sign_in(&app, EMAIL, PW, None).await;
    assert_eq!(s, 429, "an existing account is refused alike");
}

/// A passkey sign-in fires the three hooks too: `post_identified` sees the passkey's
/// user and can refuse, and a `constraints.amr` asking for a second factor refuses the
/// sign-in (a passkey sign-in has no step for it) rather than skipping it.
#[tokio::test]
async fn passkey_sign_ins_fire_the_hooks_which_can_refuse_or_ask_for_more() {
    use crate::passkey_device::options_in;
    use crate::passkeys::{login_page, register, sign_in_on};
    let (hooks, base) = Hooks::start().await;
    let all = [HOOKS[0], HOOKS[1], ("authentication.pre_authenticated", "pre")];
    let mut app =
        app_with(&base, &all, |c: &mut Config| c.public_url = Some(format!("http://localhost:{}", c.listen.port())))
            .await;
    app.url = app.url.replace("127.0.0.1", "localhost");
    let (browser, _, _) = crate::totp::signed_in(&app, "pk@example.com").await;
    let (mut device, _) = register(&app, &browser, "laptop").await;
    let mut passkey_sign_in = async || {
        let other = Browser::new(&app);
        let page = login_page(&other, "/login").await;
        let credential = device.get(&options_in(&page));
        sign_in_on(&other, &page, credential).await.page()
    };

    hooks.set("ident", Answer::Json(json!({"is_allowed": false, "title": "Not today", "reason": "Passkeys paused"})));
    let (_, page) = passkey_sign_in().await;
    assert!(page.contains("Not today") && page.contains("Passkeys paused"), "{page}");
    let (ident, _) = hooks.seen("ident").pop().unwrap();
    assert_eq!(ident["payload"]["identification"]["identification"], "passkey");
    assert_eq!(ident["payload"]["authentication_context"]["user"]["standard_attributes"]["email"], "pk@example.com");

    hooks.set("ident", allow_with(json!({})));
    hooks.set("pre", allow_with(json!({"constraints": {"amr": ["mfa"]}})));
    let (s, page) = passkey_sign_in().await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("needs a second step"), "{page}");
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    assert_eq!(pre["payload"]["authentication_context"]["amr"], json!(["x_passkey"]));

    hooks.set("pre", allow_with(json!({})));
    let (s, page) = passkey_sign_in().await;
    assert_eq!(s, 200);
    assert!(signed_in(&page), "{page}");
}

/// The `authentication.general` weight goes on to the second factor's step: with weight
/// 2 wrong authenticator-app codes reach the limit at half the attempts, with weight 0
/// they do not count.
#[tokio::test]
async fn the_general_weight_goes_on_to_the_second_factor() {
    use crate::totp::{code, enrol, signed_in as totp_user, step_now};
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &HOOKS, |c: &mut Config| {
        c.rate_limits.login_failures_per_ip_per_minute = 1000;
        c.rate_limits.login_failures_per_account_per_minute = 4;
    })
    .await;
    let (browser, csrf, _) = totp_user(&app, "two@example.com").await;
    let (secret, _) = enrol(&browser, &csrf, "phone").await;
    let near: Vec<String> = (step_now().saturating_sub(2)..=step_now() + 2).map(|t| code(&secret, t)).collect();
    let wrong = (0..10).map(|d| format!("{d}{d}{d}{d}{d}{d}")).find(|c| !near.contains(c)).unwrap();
    let wrong_codes = async |n: usize| {
        let other = Browser::new(&app);
        let (_, login) = other.open("/login").await.page();
        let (_, page) = other.login(&login, "two@example.com", PW).await.page();
        assert!(page.contains("action=\"/login/totp\""), "{page}");
        let mut out = Vec::new();
        for _ in 0..n {
            let fields = [
                ("csrf", hidden(&page, "csrf")),
                ("flow", hidden(&page, "flow")),
                ("pending", hidden(&page, "pending")),
                ("code", wrong.clone()),
            ];
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            out.push(other.submit("/login/totp", &fields).await.page().0);
        }
        out
    };
    inside_one_window().await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 0}}})));
    let seen = wrong_codes(6).await;
    assert!(!seen.contains(&429), "weight 0: nothing counted: {seen:?}");
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 2}}})));
    let seen = wrong_codes(3).await;
    assert_eq!(seen[2], 429, "weight 2: half the attempts: {seen:?}");
    assert!(!seen[..2].contains(&429), "{seen:?}");
}
