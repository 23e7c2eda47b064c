//! The `authentication.*` blocking hooks in the sign-in with an emailed one-time code,
//! through the real Auth UI forms: each event's Authgear payload (identification `email`,
//! authentication `primary_oob_otp_email`, the user once identified), a refusal that ends
//! on a clear page with no code or no session, `constraints.amr` checked against what the
//! code proved, the bot-protection challenge and the `authentication.general` weight on
//! wrong codes.

use authgraph::config::{BotMode, BotProvider, Config};
use base64::Engine;
use serde_json::{Value, json};

use crate::blocking_hooks::{Answer, Hooks, configure};
use crate::bot_protection::{FakeProvider, protect};
use crate::helpers::TestApp;
use crate::login_codes::{app_with, body, post};
use crate::rate_limits::inside_one_window;
use crate::rp::Browser;
use crate::sms::code_in;
use crate::smtp::SmtpSink;

const EMAIL: &str = "code@example.com";

pub(crate) const ALL: [(&str, &str); 3] = [
    ("authentication.pre_initialize", "init"),
    ("authentication.post_identified", "ident"),
    ("authentication.pre_authenticated", "pre"),
];

pub(crate) fn allow_with(extra: Value) -> Answer {
    let mut v = json!({"is_allowed": true});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Answer::Json(v)
}

pub(crate) fn refuse(title: &str, reason: &str) -> Answer {
    Answer::Json(json!({"is_allowed": false, "title": title, "reason": reason}))
}

/// An app whose email codes sign in, with the three hooks and `more` settings; the user
/// (an email login ID, no password) and its UUID.
async fn code_app(base: &str, more: impl FnOnce(&mut Config) + Send + 'static) -> (TestApp, SmtpSink, String) {
    let base = base.to_owned();
    let (app, mail) = app_with(move |c| {
        configure(c, &base, &ALL);
        c.oob_otp.email.channel.primary = true;
        // Several sign-ins of one address in a row: each gets its own code.
        c.oob_otp.resend_cooldown_seconds = 0;
        more(c);
    })
    .await;
    let id = app.create_user(EMAIL, None).await;
    (app, mail, uuid_of(&id))
}

/// The UUID inside a node ID (`User:<uuid>`, base64url).
pub(crate) fn uuid_of(node_id: &str) -> String {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(node_id).unwrap();
    String::from_utf8(raw).unwrap().split_once(':').unwrap().1.to_owned()
}

/// Asks for a code for `login_id` on a fresh login page: the status and the page.
async fn ask(browser: &Browser, login_id: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let (_, login) = browser.open("/login").await.page();
    let mut fields = vec![("login_id", login_id)];
    fields.extend_from_slice(extra);
    post(browser, "/login/code", &login, &fields).await.page()
}

/// The newest code the sink received (after `n` messages in all).
async fn newest_code(mail: &SmtpSink, n: usize) -> String {
    let all = mail.wait_for(n).await;
    code_in(&body(&all[n - 1]), 6)
}

/// Whether the browser has a session (the settings page, not the login page).
pub(crate) async fn signed_in(browser: &Browser) -> bool {
    let (_, page) = browser.open("/settings").await.page();
    !page.contains("action=\"/login\"")
}

#[tokio::test]
async fn an_email_code_sign_in_fires_the_three_events_with_authgear_payloads() {
    let (hooks, base) = Hooks::start().await;
    let (app, mail, user_id) = code_app(&base, |_| {}).await;
    let browser = Browser::new(&app);
    let (s, page) = ask(&browser, "Code@Example.com", &[]).await;
    assert_eq!(s, 200, "{page}");
    let (init, signed) = hooks.seen("init").pop().unwrap();
    assert!(signed, "signed like every hook call");
    let ctx = &init["payload"]["authentication_context"];
    assert!(ctx["user"].is_null(), "{init}");
    assert_eq!(ctx["asserted_identifications"], json!([]));
    assert_eq!(ctx["amr"], json!([]));
    assert_eq!(ctx["authentication_flow"], json!({"type": "login", "name": "default"}));
    let (ident, _) = hooks.seen("ident").pop().unwrap();
    assert_eq!(ident["type"], "authentication.post_identified");
    let p = &ident["payload"];
    assert_eq!(p["identification"]["identification"], "email", "{ident}");
    assert_eq!(p["identification"]["identity"]["type"], "login_id");
    assert_eq!(p["identification"]["identity"]["user_id"], user_id.as_str());
    assert_eq!(p["identification"]["identity"]["claims"]["email"], EMAIL);
    assert_eq!(p["authentication_context"]["user"]["id"], user_id.as_str());
    assert_eq!(p["authentication_context"]["asserted_identifications"], json!([p["identification"]]));
    assert_eq!(p["authentication_context"]["asserted_authentications"], json!([]));
    assert!(hooks.seen("pre").is_empty(), "nothing is authenticated before the code");

    // A wrong code authenticates nothing; the right one fires `pre_authenticated`.
    let code = newest_code(&mail, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, again) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(hooks.seen("pre").is_empty());
    let (s, done) = post(&browser, "/login/code/verify", &again, &[("code", &code)]).await.page();
    assert_eq!(s, 200, "{done}");
    assert!(signed_in(&browser).await);
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    let ctx = &pre["payload"]["authentication_context"];
    assert_eq!(ctx["user"]["id"], user_id.as_str(), "{pre}");
    assert_eq!(ctx["amr"], json!(["otp", "x_primary_oob_otp_email"]));
    assert_eq!(
        ctx["asserted_authentications"],
        json!([{"authentication": "primary_oob_otp_email", "authenticator": null}])
    );
    assert_eq!(ctx["asserted_identifications"][0]["identification"], "email");
    assert!(pre["payload"].get("identification").is_none(), "only post_identified carries it: {pre}");
    assert_eq!((hooks.seen("init").len(), hooks.seen("ident").len()), (1, 1), "each fired once per sign-in");

    // `constraints.amr` is checked against what the code proved: `otp` is, `mfa` is not
    // (the user has no second factor: the sign-in goes through enrolment).
    hooks.set("ident", allow_with(json!({"constraints": {"amr": ["otp"]}})));
    let other = Browser::new(&app);
    let (_, page) = ask(&other, EMAIL, &[]).await;
    let code = newest_code(&mail, 2).await;
    let (_, done) = post(&other, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert!(signed_in(&other).await, "{done}");
    hooks.set("pre", allow_with(json!({"constraints": {"amr": ["mfa"]}})));
    let third = Browser::new(&app);
    let (_, page) = ask(&third, EMAIL, &[]).await;
    let code = newest_code(&mail, 3).await;
    let (_, page) = post(&third, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert!(page.contains("action=\"/login/mfa/enrol\""), "the enrolment the hook required: {page}");
    assert!(!signed_in(&third).await);

    // An address without an account (signup open) names nobody: no `post_identified`.
    let before = hooks.seen("ident").len();
    let (s, _) = ask(&Browser::new(&app), "newcomer@example.com", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(hooks.seen("ident").len(), before);
}

#[tokio::test]
async fn a_refusal_ends_the_code_sign_in_on_a_clear_page_without_a_session() {
    let (hooks, base) = Hooks::start().await;
    let (app, mail, _) = code_app(&base, |_| {}).await;
    hooks.set("ident", refuse("Sign-in paused", "Codes are paused for this account"));
    let browser = Browser::new(&app);
    let (s, page) = ask(&browser, EMAIL, &[]).await;
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("Sign-in paused") && page.contains("Codes are paused for this account"), "{page}");
    assert!(!page.contains("action=\"/login/code/verify\""), "no code form: {page}");
    assert!(hooks.seen("pre").is_empty());
    assert!(mail.all().is_empty(), "no code was sent");
    assert!(!signed_in(&browser).await);

    // Refused after the right code: the same page, no session, the address not verified.
    hooks.set("ident", allow_with(json!({})));
    hooks.set("pre", refuse("Not from here", "Sign in from the office network"));
    let (_, page) = ask(&browser, EMAIL, &[]).await;
    let code = newest_code(&mail, 1).await;
    let (s, page) = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("Not from here") && page.contains("Sign in from the office network"), "{page}");
    assert!(!signed_in(&browser).await);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, 0);
    assert_eq!(app.audit_count_of("IDENTITY_EMAIL_VERIFIED").await, 0);
}

#[tokio::test]
async fn the_hooks_weigh_wrong_codes_and_can_ask_for_the_challenge() {
    let (hooks, base) = Hooks::start().await;
    let (app, mail, _) = code_app(&base, |c| c.messaging.code_failures_per_ip_per_minute = 4).await;
    let wrong_codes = async |browser: &Browser, page: &str, code: &str, n: usize| {
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(post(browser, "/login/code/verify", page, &[("code", wrong)]).await.page().0);
        }
        out
    };
    inside_one_window().await;
    // `authentication.general` weight 2 from `post_identified`: the limit of 4 wrong
    // codes is reached at the third.
    hooks.set("ident", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 2}}})));
    let browser = Browser::new(&app);
    let (_, page) = ask(&browser, EMAIL, &[]).await;
    let code = newest_code(&mail, 1).await;
    assert_eq!(wrong_codes(&browser, &page, &code, 3).await, vec![400, 400, 429]);

    // Weight 0 from `pre_initialize` (`post_identified` saying nothing): not counted.
    let (hooks, base) = Hooks::start().await;
    let (app, mail, _) = code_app(&base, |c| c.messaging.code_failures_per_ip_per_minute = 2).await;
    inside_one_window().await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 0}}})));
    let browser = Browser::new(&app);
    let (_, page) = ask(&browser, EMAIL, &[]).await;
    let code = newest_code(&mail, 1).await;
    assert_eq!(wrong_codes(&browser, &page, &code, 4).await, vec![400; 4], "weight 0: nothing counted");

    // `bot_protection.mode: always` asks for the challenge the configuration does not:
    // no code without the provider's valid token.
    let fake = FakeProvider::start().await;
    let (hooks, base) = Hooks::start().await;
    let url = fake.url.clone();
    let (app, mail, _) = code_app(&base, move |c| {
        protect(c, BotProvider::Cloudflare, &url);
        c.bot_protection.requirements.login = BotMode::Never;
    })
    .await;
    hooks.set("init", allow_with(json!({"bot_protection": {"mode": "always"}})));
    let (s, page) = ask(&Browser::new(&app), EMAIL, &[]).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("Complete the check that you are not a robot") && page.contains("cf-turnstile"), "{page}");
    assert!(page.contains(&format!("value=\"{EMAIL}\"")), "keeps the login ID: {page}");
    assert!(hooks.seen("ident").is_empty(), "refused before the lookup");
    assert!(mail.all().is_empty());
    let (s, page) = ask(&Browser::new(&app), EMAIL, &[("cf-turnstile-response", "good")]).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(mail.wait_for(1).await.len(), 1);
}

/// A code by email as the second factor after a password: the password sign-in's
/// `authentication.general` weight goes on to its wrong codes.
#[tokio::test]
async fn the_weight_goes_on_to_a_second_factor_by_code() {
    use crate::login_helpers::PW;
    use crate::rp::hidden;
    let (hooks, base) = Hooks::start().await;
    let (app, mail) = app_with(move |c| {
        configure(c, &base, &ALL);
        c.messaging.code_failures_per_ip_per_minute = 4;
    })
    .await;
    let user = app.create_user("sam@example.com", Some(PW)).await;
    app.ok(
        "mutation($u: ID!, $d: AuthenticatorDefinition!) { createAuthenticator(input: {userID: $u, definition: $d}) { authenticator { id } } }",
        json!({"u": user, "d": {"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "sam.2fa@example.com"}}}),
    )
    .await;
    hooks.set("init", allow_with(json!({"rate_limits": {"authentication.general": {"weight": 2}}})));
    inside_one_window().await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (_, second) = browser.login(&login, "sam@example.com", PW).await.page();
    let authenticator = hidden(&second, "authenticator");
    let (_, page) = post(&browser, "/login/mfa/send", &second, &[("authenticator", &authenticator)]).await.page();
    let code = newest_code(&mail, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page().0);
    }
    assert_eq!(seen, vec![400, 400, 429], "weight 2: half the wrong codes");
}
