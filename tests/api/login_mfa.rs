//! The second factor at sign-in: after a correct password, a user with an authenticator
//! app enters its code (through the real forms, with CSRF, inside a real OAuth code flow)
//! and the tokens' `amr` says so; wrong, reused and rate-limited codes, a tampered state,
//! and `mfa.mode` (`disabled`, `if_exists`, `required` with the per-user grace period).

use authgraph::config::MfaMode;
use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
use serde_json::{Value, json};

use crate::helpers::{TestApp, jwt_claims, spawn_app, spawn_with};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, Rp, hidden, http_client, param};
use crate::totp::{code, enrol, raw_id, signed_in, step_now};

const PROMPT: &str = "Enter the code from your authenticator app";

/// A user with an authenticator app: its secret, the step of the last code used and the
/// user's ID.
async fn user_with_totp(app: &TestApp, email: &str) -> (Vec<u8>, u64, String) {
    let (browser, csrf, user) = signed_in(app, email).await;
    let (secret, step) = enrol(&browser, &csrf, "Phone").await;
    (secret, step, user)
}

/// A code that has not been used yet and that the server accepts now.
fn fresh_code(secret: &[u8], last: &mut u64) -> String {
    let step = step_now().max(*last + 1);
    *last = step;
    code(secret, step)
}

/// A code that is wrong at every step the server accepts now.
fn wrong_code(secret: &[u8]) -> String {
    let s = step_now();
    let near: Vec<String> = (s.saturating_sub(2)..=s + 2).map(|t| code(secret, t)).collect();
    (0..10).map(|d| format!("{d}{d}{d}{d}{d}{d}")).find(|c| !near.contains(c)).unwrap()
}

/// Opens the authorization URL and submits the password; returns the second-factor page.
pub(crate) async fn password_step(browser: &Browser, url: &str, email: &str) -> String {
    let (s, page) = browser.open(url).await.page();
    assert_eq!(s, 200, "{page}");
    let (s, page) = browser.login(&page, email, PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains(PROMPT) && page.contains("action=\"/login/totp\""), "the second-factor page: {page}");
    page
}

async fn submit_code(browser: &Browser, page: &str, code: &str) -> crate::rp::Landing {
    let fields = [
        ("csrf", hidden(page, "csrf")),
        ("flow", hidden(page, "flow")),
        ("pending", hidden(page, "pending")),
        ("code", code.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit("/login/totp", &fields).await
}

/// Exchanges the callback's code; returns the ID token's and the access token's claims.
pub(crate) async fn tokens(rp: &Rp, cb: &str, f: crate::login_helpers::Flow) -> (Value, Value) {
    assert!(cb.starts_with(CB), "{cb}");
    assert_eq!(param(cb, "state").as_deref(), Some(f.state.secret().as_str()));
    let http = http_client(reqwest::Client::new());
    let token = rp
        .exchange_code(AuthorizationCode::new(param(cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = token.id_token().expect("an ID token");
    id_token.claims(&rp.id_token_verifier(), &f.nonce).expect("the ID token verifies");
    (jwt_claims(&id_token.to_string()), jwt_claims(token.access_token().secret()))
}

async fn totp_failures(app: &TestApp) -> i64 {
    let d =
        app.ok("{ auditLogs(activityTypes: [AUTHENTICATION_SECONDARY_TOTP_FAILED]) { totalCount } }", json!({})).await;
    d["auditLogs"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn password_then_code_signs_in_with_amr_x_secondary_totp() {
    let app = spawn_app().await;
    let (secret, mut last, user) = user_with_totp(&app, "tom@example.com").await;
    let (rp, _) = spa(&app).await;

    // A wrong code: the same page again with a message, 400, audited; then the right one.
    let browser = Browser::new(&app);
    let f = start(&rp, &["offline_access"], &[]);
    let page = password_step(&browser, &f.url, "tom@example.com").await;
    let (s, again) = submit_code(&browser, &page, &wrong_code(&secret)).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("The code is not correct") && again.contains(PROMPT), "{again}");
    assert_eq!(totp_failures(&app).await, 1);
    let used = fresh_code(&secret, &mut last);
    let cb = submit_code(&browser, &again, &used).await.redirect();
    let (id, access) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]), "{id}");
    assert_eq!(access["amr"], id["amr"], "{access}");
    // The Admin API shows the sign-in as multi-factor (`acr`), and only that one.
    let q = "query($id: ID!) { node(id: $id) { ... on User { sessions { edges { node { acr amr } } } } } }";
    let d = app.ok(q, json!({"id": user})).await;
    let acrs: Vec<Value> = d["node"]["sessions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["amr"].as_array().unwrap().contains(&json!("mfa")))
        .map(|e| e["node"]["acr"].clone())
        .collect();
    assert!(
        !acrs.is_empty() && acrs.iter().all(|a| a == "http://schemas.openid.net/pape/policies/2007/06/multi-factor"),
        "{d}"
    );
    // The browser is signed in: the settings page opens.
    let (s, page) = browser.open("/settings").await.page();
    assert_eq!(s, 200, "{page}");

    // The same code again, in another browser: refused as used.
    let other = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = password_step(&other, &f.url, "tom@example.com").await;
    let (s, again) = submit_code(&other, &page, &used).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("already been used"), "{again}");
    assert_eq!(totp_failures(&app).await, 2);
    let (_, page) = other.open("/settings").await.page();
    assert!(page.contains("action=\"/login\""), "not signed in: {page}");

    // A user without an authenticator app signs in with the password alone.
    app.create_user("pia@example.com", Some(PW)).await;
    let plain = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let cb = plain.authorize_with_login(&f.url, "pia@example.com", PW).await;
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd"]));
}

#[tokio::test]
async fn a_tampered_expired_or_foreign_state_goes_back_to_the_login_page() {
    let app = spawn_app().await;
    let (secret, mut last, user) = user_with_totp(&app, "ted@example.com").await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = password_step(&browser, &f.url, "ted@example.com").await;
    let pending = hidden(&page, "pending");
    let csrf = hidden(&page, "csrf");
    let flow = hidden(&page, "flow");
    let mut tampered = pending.clone().into_bytes();
    let i = tampered.len() / 3;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let good = code(&secret, step_now().max(last + 1));
    let (s, back) = browser
        .submit("/login/totp", &[("csrf", &csrf), ("flow", &flow), ("pending", &tampered), ("code", &good)])
        .await
        .page();
    assert_eq!(s, 400, "{back}");
    assert!(back.contains("action=\"/login\"") && back.contains("Sign in again"), "{back}");
    // The state is bound to its flow: with another flow it is refused too.
    let (s, back) = browser
        .submit("/login/totp", &[("csrf", &csrf), ("flow", ""), ("pending", &pending), ("code", &good)])
        .await
        .page();
    assert_eq!(s, 400, "{back}");
    assert!(back.contains("Sign in again"), "{back}");
    // A state that is more than five minutes old (sealed here with the server's key, as
    // the server would have sealed it then) is refused too.
    let user = raw_id(&app, &user).await;
    let old = time::OffsetDateTime::now_utc().unix_timestamp() - 301;
    let expired = app.services.seal("login-mfa", &json!({"user": user, "flow": flow, "iat": old}));
    let (s, back) = browser
        .submit("/login/totp", &[("csrf", &csrf), ("flow", &flow), ("pending", &expired), ("code", &good)])
        .await
        .page();
    assert_eq!(s, 400, "{back}");
    assert!(back.contains("Sign in again"), "{back}");
    // Sealed just now, the same state is accepted as far as the code (a wrong one here).
    let recent = app.services.seal(
        "login-mfa",
        &json!({"user": user, "flow": flow, "iat": time::OffsetDateTime::now_utc().unix_timestamp()}),
    );
    let (s, back) = browser
        .submit(
            "/login/totp",
            &[("csrf", &csrf), ("flow", &flow), ("pending", &recent), ("code", &wrong_code(&secret))],
        )
        .await
        .page();
    assert_eq!(s, 400, "{back}");
    assert!(back.contains("The code is not correct"), "{back}");
    // Without the CSRF token the form is refused.
    let (s, _) = browser.submit("/login/totp", &[("flow", &flow), ("pending", &pending), ("code", &good)]).await.page();
    assert_eq!(s, 403);
    // Nothing was used up: the genuine state and a fresh code still work.
    let cb = submit_code(&browser, &page, &fresh_code(&secret, &mut last)).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]));
}

#[tokio::test]
async fn repeated_wrong_codes_hit_the_failed_login_limit() {
    let app = spawn_with(|c| c.rate_limits.login_failures_per_account_per_minute = 3).await;
    let (secret, _, _) = user_with_totp(&app, "rex@example.com").await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "rex@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains(PROMPT), "{page}");
    // The counter's window is a minute; should one end during the loop, it starts over.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (s, body) = submit_code(&browser, &page, &wrong_code(&secret)).await.page();
        statuses.push(s);
        if s == 429 {
            assert!(body.contains("Too many failed attempts"), "{body}");
            break;
        }
        assert_eq!(s, 400, "{body}");
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.len() >= 4, "three wrong codes are allowed first: {statuses:?}");
    let d = app.ok("{ auditLogs(activityTypes: [RATE_LIMIT_BLOCKED]) { totalCount } }", json!({})).await;
    assert!(d["auditLogs"]["totalCount"].as_i64().unwrap() >= 1);
}

#[tokio::test]
async fn mode_disabled_skips_the_second_factor() {
    let app = spawn_with(|c| c.mfa.mode = MfaMode::Disabled).await;
    user_with_totp(&app, "dan@example.com").await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let cb = browser.authorize_with_login(&f.url, "dan@example.com", PW).await;
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd"]));
}

#[tokio::test]
async fn mode_required_enrols_a_user_without_a_second_factor_after_the_grace_period() {
    let app = spawn_with(|c| c.mfa.mode = MfaMode::Required).await;
    // A user with an authenticator app (enrolled during a grace period) gets the code page.
    let user = app.create_user("gus@example.com", Some(PW)).await;
    let set = "mutation($u: ID!, $t: DateTime!) { setMFAGracePeriod(input: {userID: $u, endAt: $t}) { user { id } } }";
    let future = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.ok(set, json!({"u": user, "t": future})).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "gus@example.com", PW).await.page();
    assert_eq!(s, 200, "signed in during the grace period: {page}");
    assert!(page.contains("Set up two-factor authentication now"), "{page}");
    let (_, page) = browser.open("/settings").await.page();
    let csrf = hidden(&page, "csrf");
    let (secret, mut last) = enrol(&browser, &csrf, "Phone").await;
    let (rp, _) = spa(&app).await;
    let b = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = password_step(&b, &f.url, "gus@example.com").await;
    let cb = submit_code(&b, &page, &fresh_code(&secret, &mut last)).await.redirect();
    assert_eq!(tokens(&rp, &cb, f).await.0["amr"], json!(["pwd", "otp", "mfa", "x_secondary_totp"]));

    // Without a second factor and without a grace period: the sign-in goes through
    // enrolling an app (tests/api/mfa_enrolment.rs follows it to the end).
    let user = app.create_user("nan@example.com", Some(PW)).await;
    let b = Browser::new(&app);
    let (_, login) = b.open("/login").await.page();
    let (s, page) = b.login(&login, "nan@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/mfa/enrol\""), "{page}");
    // During a grace period the user signs in with the password alone and is asked to set
    // one up; once it is removed, enrolment again.
    app.ok(set, json!({"u": user, "t": future})).await;
    let (_, login) = b.open("/login").await.page();
    let (s, page) = b.login(&login, "nan@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Set up two-factor authentication now"), "{page}");
    let remove = "mutation($u: ID!) { removeMFAGracePeriod(input: {userID: $u}) { user { id } } }";
    app.ok(remove, json!({"u": user})).await;
    let b = Browser::new(&app);
    let (_, login) = b.open("/login").await.page();
    let (s, page) = b.login(&login, "nan@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/mfa/enrol\""), "{page}");
}
