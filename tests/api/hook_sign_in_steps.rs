//! Where the `authentication.*` hooks run in a flow, through the real forms:
//! `pre_authenticated` right before a sign-in finishes (after its second factor, with
//! every method proved), a `constraints.amr` that names one second factor offering and
//! accepting only that one, and sign-ups and reauthentications raising the events with
//! their own `authentication_flow.type`.

use serde_json::{Value, json};

use crate::blocking_hooks::{Answer, Hooks, app_with};
use crate::helpers::TestApp;
use crate::hook_code_sign_in::{ALL, allow_with, refuse};
use crate::login_helpers::PW;
use crate::rp::{Browser, hidden};
use crate::totp::{code, enrol, signed_in, step_now};

/// Signs in with the password in a new browser; the page it lands on.
pub(crate) async fn password(app: &TestApp, email: &str) -> (Browser, u16, String) {
    let browser = Browser::new(app);
    let (_, page) = browser.open("/login").await.page();
    let (s, page) = browser.login(&page, email, PW).await.page();
    (browser, s, page)
}

/// Submits a form of the second-factor page `page` to `path` with `extra` fields.
pub(crate) async fn second(browser: &Browser, page: &str, path: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut fields =
        vec![("csrf", hidden(page, "csrf")), ("flow", hidden(page, "flow")), ("pending", hidden(page, "pending"))];
    fields.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit(path, &fields).await.page()
}

/// A code of `secret` not used yet (after step `last`).
pub(crate) fn next_code(secret: &[u8], last: &mut u64) -> String {
    let step = step_now().max(*last + 1);
    *last = step;
    code(secret, step)
}

fn context(event: &Value) -> &Value {
    &event["payload"]["authentication_context"]
}

fn asserted(event: &Value) -> Vec<String> {
    context(event)["asserted_authentications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["authentication"].as_str().unwrap().to_owned())
        .collect()
}

fn signed_in_page(page: &str) -> bool {
    !page.contains("action=\"/login") && !page.contains("action=\"/signup\"")
}

#[tokio::test]
async fn pre_authenticated_runs_after_the_second_factor_and_sees_every_method() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |_| {}).await;
    let (browser, csrf, _) = signed_in(&app, "steps@example.com").await;
    // One app per sign-in below: a code is accepted once, and at most one step ahead.
    let mut apps = Vec::new();
    for name in ["Phone", "Tablet", "Watch"] {
        apps.push(enrol(&browser, &csrf, name).await);
    }
    let mut codes = apps.into_iter().map(|(secret, mut last)| next_code(&secret, &mut last));
    let before = hooks.seen("pre").len();

    // The password passed, a second factor follows: the sign-in has not finished.
    let (browser, s, page) = password(&app, "steps@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "the second factor: {page}");
    assert_eq!(hooks.seen("pre").len(), before, "pre_authenticated waits for the last factor");
    let (s, done) = second(&browser, &page, "/login/totp", &[("code", &codes.next().unwrap())]).await;
    assert_eq!(s, 200, "{done}");
    assert!(signed_in_page(&done), "{done}");
    let seen = hooks.seen("pre");
    assert_eq!(seen.len(), before + 1, "once, at the end");
    let event = &seen.last().unwrap().0;
    assert_eq!(context(event)["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]));
    assert_eq!(asserted(event), ["primary_password", "secondary_totp"]);
    assert_eq!(context(event)["authentication_flow"]["type"], "login");
    assert_eq!(context(event)["user"]["standard_attributes"]["email"], "steps@example.com");

    // A refusal there ends the sign-in after the right code: no session.
    hooks.set("pre", refuse("Not now", "after hours"));
    let (browser, _, page) = password(&app, "steps@example.com").await;
    let (_, refused) = second(&browser, &page, "/login/totp", &[("code", &codes.next().unwrap())]).await;
    assert!(refused.contains("Not now") && refused.contains("after hours"), "{refused}");
    let (_, settings) = browser.open("/settings").await.page();
    assert!(settings.contains("action=\"/login\""), "not signed in: {settings}");

    // It asks for a method this account cannot prove: a clear refusal, no session.
    hooks.set("pre", allow_with(json!({"constraints": {"amr": ["sms"]}})));
    let (browser, _, page) = password(&app, "steps@example.com").await;
    let (s, refused) = second(&browser, &page, "/login/totp", &[("code", &codes.next().unwrap())]).await;
    assert_eq!(s, 403, "{refused}");
    assert!(refused.contains("Another sign-in step is needed") && refused.contains("text message"), "{refused}");
}

#[tokio::test]
async fn a_demand_for_the_authenticator_app_offers_and_accepts_only_it() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |c| {
        c.mfa.mode = authgraph::config::MfaMode::Disabled;
        c.oob_otp.email.channel.secondary = true;
    })
    .await;
    let (browser, csrf, user) = signed_in(&app, "only@example.com").await;
    let (secret, mut last) = enrol(&browser, &csrf, "Phone").await;
    app.ok(
            "mutation($u: ID!, $d: AuthenticatorDefinition!) { createAuthenticator(input: {userID: $u, definition: $d}) { authenticator { id } } }",
            json!({"u": user, "d": {"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "only.2fa@example.com"}}}),
        )
        .await;

    // Asked for any second factor: every one is offered.
    hooks.set("ident", allow_with(json!({"constraints": {"amr": ["mfa"]}})));
    let (_, _, page) = password(&app, "only@example.com").await;
    assert!(page.contains("action=\"/login/totp\"") && page.contains("action=\"/login/mfa/send\""), "{page}");
    assert!(page.contains("action=\"/login/recovery_code\""), "{page}");

    // Asked for the authenticator app: only it.
    hooks.set("ident", allow_with(json!({"constraints": {"amr": ["x_secondary_totp"]}})));
    let (browser, s, page) = password(&app, "only@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "{page}");
    assert!(!page.contains("action=\"/login/mfa/send\""), "the email is not offered: {page}");
    assert!(!page.contains("action=\"/login/recovery_code\""), "nor a recovery code: {page}");
    // Nor accepted when sent anyway: a recovery code is refused before it is looked at.
    let (s, refused) = second(&browser, &page, "/login/recovery_code", &[("code", "ABCDE-FGHJK")]).await;
    assert_eq!(s, 403, "{refused}");
    assert!(refused.contains("Another sign-in step is needed"), "{refused}");
    // The app's code signs in, with its methods.
    let (s, done) = second(&browser, &page, "/login/totp", &[("code", &next_code(&secret, &mut last))]).await;
    assert_eq!(s, 200, "{done}");
    assert!(signed_in_page(&done), "{done}");
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    assert_eq!(context(&pre)["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]));
}

/// Submits the sign-up form.
async fn sign_up(app: &TestApp, email: &str) -> (u16, String) {
    let browser = Browser::new(app);
    let (_, page) = browser.open("/signup").await.page();
    let form = [("csrf", hidden(&page, "csrf")), ("login_id", email.to_owned()), ("password", PW.to_owned())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit("/signup", &form).await.page()
}

async fn user_count(app: &TestApp) -> i64 {
    app.ok("{ users(first: 1) { totalCount } }", json!({})).await["users"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn sign_ups_raise_the_events_as_a_signup_and_a_refusal_creates_nothing() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |_| {}).await;
    let (s, page) = sign_up(&app, "new@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(signed_in_page(&page), "{page}");
    for name in ["init", "ident", "pre"] {
        let (event, signed) = hooks.seen(name).pop().unwrap_or_else(|| panic!("{name} ran"));
        assert!(signed);
        assert_eq!(context(&event)["authentication_flow"]["type"], "signup", "{name}: {event}");
        assert!(context(&event)["user"].is_null(), "no user before it is created: {event}");
    }
    let (ident, _) = hooks.seen("ident").pop().unwrap();
    assert_eq!(ident["payload"]["identification"]["identification"], "email");
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    assert_eq!(context(&pre)["amr"], json!(["pwd"]));
    assert_eq!(asserted(&pre), ["primary_password"]);
    assert_eq!(user_count(&app).await, 1);

    // Refused right before the end: the page says why, and no account exists.
    hooks.set("pre", refuse("Invitation only", "ask for an invitation"));
    let (_, page) = sign_up(&app, "refused@example.com").await;
    assert!(page.contains("Invitation only") && page.contains("ask for an invitation"), "{page}");
    assert_eq!(user_count(&app).await, 1);

    // A second factor demanded at sign-up: the account is created, and an authenticator
    // app must be set up before the session starts.
    hooks.set("pre", allow_with(json!({"constraints": {"amr": ["mfa"]}})));
    let (s, page) = sign_up(&app, "strict@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/mfa/enrol\""), "the enrolment: {page}");
    assert_eq!(user_count(&app).await, 2);
}

#[tokio::test]
async fn a_reauthentication_raises_the_events_as_a_reauth() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |c| c.session.reauthentication_max_age_seconds = 1).await;
    let (browser, csrf, _) = signed_in(&app, "again@example.com").await;
    enrol(&browser, &csrf, "Phone").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    // Adding an app needs a recent sign-in: the confirmation page first.
    let (s, page) = browser.open("/settings/totp").await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/settings/reauthenticate\""), "{page}");
    let confirm = |secret: &'static str, page: String| {
        let browser = &browser;
        async move {
            let fields =
                [("csrf", hidden(&page, "csrf")), ("next", hidden(&page, "next")), ("secret", secret.to_owned())];
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.submit("/settings/reauthenticate", &fields).await.page()
        }
    };
    // The hook asks for the authenticator app: the password is not enough, and the
    // page says what to use instead.
    hooks.set("pre", allow_with(json!({"constraints": {"amr": ["x_secondary_totp"]}})));
    let (s, again) = confirm(PW, page).await;
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("authenticator app instead"), "{again}");
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    assert_eq!(context(&pre)["authentication_flow"]["type"], "reauth");
    assert_eq!(context(&pre)["amr"], json!(["pwd"]));
    assert_eq!(context(&pre)["user"]["standard_attributes"]["email"], "again@example.com");
    let (init, _) = hooks.seen("init").pop().unwrap();
    assert_eq!(context(&init)["authentication_flow"]["type"], "reauth");
    // Allowed: the password confirms.
    hooks.set("pre", Answer::Json(json!({"is_allowed": true})));
    let (s, done) = confirm(PW, again).await;
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("otpauth:"), "back to adding an app: {done}");
}

/// The promotion's sign-up form at `url`, filled in.
async fn promotion_form(browser: &Browser, url: &str) -> [(&'static str, String); 4] {
    let (_, page) = browser.open(url).await.page();
    [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("login_id", "promoted@example.com".to_owned()),
        ("password", PW.to_owned()),
    ]
}

#[tokio::test]
async fn a_promotion_raises_the_events_as_a_promote_for_the_anonymous_user() {
    use crate::anonymous_web::{api, promotion_code, promotion_request, web_app};
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |c| c.anonymous.enabled = true).await;
    let (client_id, rp) = web_app(&app).await;
    let browser = Browser::new(&app);
    let body = json!({"client_id": client_id, "session_type": "cookie"});
    assert_eq!(api(&browser.client, &app, "/api/anonymous_user/signup", body).await.0, 200);
    let code = promotion_code(&browser.client, &app, None).await;
    let flow = promotion_request(&rp, &code);
    let fields = promotion_form(&browser, &flow.url).await;
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Refused: the user stays anonymous, with no login ID.
    hooks.set("pre", refuse("Not yet", "finish the tutorial first"));
    let (_, refused) = browser.submit("/signup", &fields).await.page();
    assert!(refused.contains("Not yet") && refused.contains("finish the tutorial first"), "{refused}");
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    assert_eq!(context(&pre)["authentication_flow"]["type"], "promote");
    assert_eq!(context(&pre)["user"]["is_anonymous"], true, "the anonymous user: {pre}");
    assert_eq!(app.audit_count_of("USER_ANONYMOUS_PROMOTED").await, 0);
    // Allowed (a new promotion request: each code is used once): promoted.
    hooks.set("pre", Answer::Json(json!({"is_allowed": true})));
    let code = promotion_code(&browser.client, &app, None).await;
    let flow = promotion_request(&rp, &code);
    let fields = promotion_form(&browser, &flow.url).await;
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cb = browser.submit("/signup", &fields).await.redirect();
    assert!(cb.contains("code="), "{cb}");
    assert_eq!(app.audit_count_of("USER_ANONYMOUS_PROMOTED").await, 1);
    let (init, _) = hooks.seen("init").pop().unwrap();
    assert_eq!(context(&init)["authentication_flow"]["type"], "promote");
}
