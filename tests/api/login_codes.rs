//! Sign-in with one-time codes by email and SMS, and with login links, through the real
//! forms with CSRF inside an OAuth code flow: passwordless signup and sign-in, the code
//! as a second factor, wrong, reused, revoked and cooled-down codes, the SMS providers
//! (Twilio's API shape and the signed webhook) against a local listener, and the audit
//! rows and verified claims they leave.

use authgraph::config::{Config, EmailOtpMode, LoginIdType, SmsProvider};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::{PW, spa, start};
use crate::login_mfa::tokens;
use crate::rp::{Browser, Landing, hidden};
use crate::sms::{SmsSink, code_in};
use crate::smtp::{Mail, SmtpSink};

/// An app with SMTP pointed at a local sink and `customize` applied.
pub(crate) async fn app_with(customize: impl FnOnce(&mut Config) + Send + 'static) -> (TestApp, SmtpSink) {
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

/// The body of a message (after the headers, quoted-printable soft breaks undone).
pub(crate) fn body(m: &Mail) -> String {
    let text = m.data.replace("\r\n", "\n").replace("=\n", "").replace("=3D", "=");
    text.split_once("\n\n").map(|(_, b)| b.to_owned()).unwrap_or(text)
}

fn fields<'a>(page: &str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut f: Vec<(&str, String)> = ["csrf", "flow", "pending"]
        .iter()
        .filter(|n| page.contains(&format!("name=\"{n}\"")))
        .map(|n| (*n, hidden(page, n)))
        .collect();
    f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    f
}

pub(crate) async fn post(browser: &Browser, path: &str, page: &str, extra: &[(&str, &str)]) -> Landing {
    let f = fields(page, extra);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit(path, &f).await
}

async fn user_by_email(app: &TestApp, email: &str) -> Value {
    let d = app
        .ok(
            "query($e: String!) { getUsersByStandardAttribute(attributeName: \"email\", attributeValue: $e) { id standardAttributes primaryOOBOTPEmailAuthenticator { id } primaryPassword { id } } }",
            json!({"e": email}),
        )
        .await;
    d["getUsersByStandardAttribute"][0].clone()
}

#[tokio::test]
async fn email_code_signs_up_a_new_address_and_signs_in_with_amr_otp() {
    let (app, mail) = app_with(|c| c.oob_otp.email.channel.primary = true).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["email"], &[]);
    let (s, login) = browser.open(&f.url).await.page();
    assert_eq!(s, 200);
    assert!(login.contains("formaction=\"/login/code\"") && login.contains("Email me a code instead"), "{login}");

    // The code goes to the address typed as the login ID.
    let (s, page) = post(&browser, "/login/code", &login, &[("login_id", "New.Person@Example.com")]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("We sent a 6-digit code to <strong>n•••@example.com</strong>"), "{page}");
    let mails = mail.wait_for(1).await;
    assert_eq!(mails[0].to, ["new.person@example.com"], "to the address as the login ID normalizes it");
    assert!(mails[0].data.contains("Subject: Your authgraph sign-in code"), "{}", mails[0].data);
    let code = code_in(&body(&mails[0]), 6);

    // A wrong code: the form again, 400, with the tries left; audited.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, again) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("The code is incorrect; 4 more tries"), "{again}");
    assert_eq!(app.audit_count_of("AUTHENTICATION_PRIMARY_OOB_OTP_EMAIL_FAILED").await, 1);

    // Asking again within the cooldown sends nothing: the last code still works.
    let (s, cooled) = post(&browser, "/login/code/resend", &again, &[]).await.page();
    assert_eq!(s, 200, "{cooled}");
    assert!(cooled.contains("less than a minute ago"), "{cooled}");
    assert_eq!(mail.all().len(), 1, "nothing sent twice inside the cooldown");

    // The right code (spaces are fine): a new account, signed in, its address verified.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let cb = post(&browser, "/login/code/verify", &cooled, &[("code", &spaced)]).await.redirect();
    let (id, access) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["otp", "x_primary_oob_otp_email"]), "{id}");
    assert_eq!(access["amr"], id["amr"]);
    assert_eq!(id["email_verified"], json!(true), "{id}");
    let user = user_by_email(&app, "new.person@example.com").await;
    assert!(user["primaryOOBOTPEmailAuthenticator"]["id"].is_string(), "{user}");
    assert!(user["primaryPassword"].is_null(), "{user}");
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1);
    assert_eq!(app.audit_count_of("IDENTITY_EMAIL_VERIFIED").await, 1);
    assert_eq!(app.audit_count_of("EMAIL_SENT").await, 1);

    // The same code again, from another browser: used up.
    let other = Browser::new(&app);
    let (_, login) = other.open("/login").await.page();
    let (_, page) = post(&other, "/login/code", &login, &[("login_id", "new.person@example.com")]).await.page();
    assert!(page.contains("less than a minute ago"), "{page}");
    let (s, again) = post(&other, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("expired or was already used"), "{again}");
}

#[tokio::test]
async fn a_code_is_revoked_after_five_wrong_tries_and_closed_signup_sends_nothing() {
    let (app, mail) = app_with(|c| {
        c.oob_otp.email.channel.primary = true;
        c.ui.signup_enabled = false;
    })
    .await;
    app.create_user("kai@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (_, page) = post(&browser, "/login/code", &login, &[("login_id", "kai@example.com")]).await.page();
    let code = code_in(&body(&mail.wait_for(1).await[0]), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut last = String::new();
    for _ in 0..5 {
        let (s, p) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
        assert_eq!(s, 400);
        last = p;
    }
    assert!(last.contains("Too many wrong codes: this one no longer works"), "{last}");
    let (s, p) = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert_eq!(s, 400, "the right code no longer works: {p}");
    assert!(p.contains("expired or was already used"), "{p}");

    // With signup closed, an unknown address gets the same kind of page and no message.
    let (s, unknown) = post(&browser, "/login/code", &login, &[("login_id", "nobody@example.com")]).await.page();
    assert_eq!(s, 200);
    assert!(unknown.contains("We sent a 6-digit code to <strong>n•••@example.com</strong>"), "{unknown}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(mail.all().len(), 1, "no message to an address without an account");
    let (s, p) = post(&browser, "/login/code/verify", &unknown, &[("code", "123456")]).await.page();
    assert_eq!(s, 400, "{p}");

    // A username is not something a code can be sent to: the login page says so.
    let (s, p) = post(&browser, "/login/code", &login, &[("login_id", "kai")]).await.page();
    assert_eq!(s, 400, "{p}");
    assert!(p.contains("To get a code, enter an email address"), "{p}");
}

fn with_phone(c: &mut Config) {
    c.login_id.types = vec![LoginIdType::Email, LoginIdType::Phone];
    c.oob_otp.sms.primary = true;
}

async fn create_phone_user(app: &TestApp, phone: &str) -> String {
    let d = app
        .ok(
            "mutation($p: String!) { createUser(input: {definition: {loginID: {key: \"phone\", value: $p}}}) { user { id } } }",
            json!({"p": phone}),
        )
        .await;
    d["createUser"]["user"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sms_code_through_twilios_api_signs_in_with_amr_sms() {
    let sms = SmsSink::start().await;
    let base = sms.url.clone();
    let (app, _) = app_with(move |c| {
        with_phone(c);
        c.sms.provider = SmsProvider::Twilio;
        c.sms.twilio.base_url = base;
        c.sms.twilio.account_sid = "AC0123".into();
        c.sms.twilio.auth_token = Some(authgraph::config::Secret::new("tw-token"));
        c.sms.twilio.from = Some("+15005550006".into());
    })
    .await;
    create_phone_user(&app, "+14155550100").await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["phone"], &[]);
    let (_, login) = browser.open(&f.url).await.page();
    assert!(login.contains("Text me a code instead"), "{login}");
    let (s, page) = post(&browser, "/login/code", &login, &[("login_id", "+14155550100")]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("+1415•••••00") && page.contains("by text message"), "{page}");
    let got = sms.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/2010-04-01/Accounts/AC0123/Messages.json");
    let auth = got[0].headers["authorization"].to_str().unwrap().to_owned();
    assert_eq!(auth, format!("Basic {}", base64_of("AC0123:tw-token")));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(got[0].body.as_bytes()).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("To"), "+14155550100");
    assert_eq!(get("From"), "+15005550006");
    let code = code_in(&get("Body"), 6);
    assert!(get("Body").contains("is your authgraph sign-in code"), "{}", get("Body"));

    let cb = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["otp", "sms", "x_primary_oob_otp_sms"]), "{id}");
    assert_eq!(id["phone_number_verified"], json!(true), "{id}");
    assert_eq!(app.audit_count_of("SMS_SENT").await, 1);
    assert_eq!(app.audit_count_of("IDENTITY_PHONE_VERIFIED").await, 1);

    // The provider refuses: a clear page (503), audited as sms.error with its answer.
    sms.answer(400);
    let other = Browser::new(&app);
    let (_, login) = other.open("/login").await.page();
    let (s, p) = post(&other, "/login/code", &login, &[("login_id", "+14155550199")]).await.page();
    assert_eq!(s, 503, "{p}");
    assert!(p.contains("The message could not be sent"), "{p}");
    assert_eq!(app.audit_count_of("SMS_ERROR").await, 1);
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn the_sms_webhook_is_signed_with_hmac_sha256() {
    let sms = SmsSink::start().await;
    let url = format!("{}/sms", sms.url);
    let (app, _) = app_with(move |c| {
        with_phone(c);
        c.sms.provider = SmsProvider::Webhook;
        c.sms.webhook.url = Some(url);
        c.sms.webhook.secret = Some(authgraph::config::Secret::new("webhook-secret-0123456789"));
    })
    .await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = post(&browser, "/login/code", &login, &[("login_id", "+447700900123")]).await.page();
    assert_eq!(s, 200, "{page}");
    let got = sms.all();
    assert_eq!(got.len(), 1);
    let sig = got[0].headers["x-authgraph-signature"].to_str().unwrap().to_owned();
    let expected = authgraph::crypto::hmac_sha256(b"webhook-secret-0123456789", got[0].body.as_bytes());
    let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sig, hex, "hex HMAC-SHA256 of the exact body");
    let payload: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(payload["to"], "+447700900123");
    assert_eq!(payload["type"], "login_code");
    // Signup is open: the code creates the account with that phone number.
    let code = code_in(payload["body"].as_str().unwrap(), 6);
    let landing = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await;
    let (s, settings) = landing.page();
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("+447700900123"), "signed in to the new account: {settings}");
}

#[tokio::test]
async fn an_email_code_as_second_factor_after_the_password() {
    let (app, mail) = app_with(|_| {}).await;
    let user = app.create_user("sam@example.com", Some(PW)).await;
    app.ok(
        "mutation($u: ID!, $d: AuthenticatorDefinition!) { createAuthenticator(input: {userID: $u, definition: $d}) { authenticator { id } } }",
        json!({"u": user, "d": {"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "sam.2fa@example.com"}}}),
    )
    .await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, login) = browser.open(&f.url).await.page();
    assert!(!login.contains("/login/code"), "passwordless is off by default: {login}");
    let (s, second) = browser.login(&login, "sam@example.com", PW).await.page();
    assert_eq!(s, 200, "{second}");
    assert!(second.contains("Email a code to s•••@example.com"), "{second}");
    assert!(!second.contains("action=\"/login/totp\""), "no app to ask a code from: {second}");
    let authenticator = hidden(&second, "authenticator");
    let (s, page) = post(&browser, "/login/mfa/send", &second, &[("authenticator", &authenticator)]).await.page();
    assert_eq!(s, 200, "{page}");
    let mails = mail.wait_for(1).await;
    assert_eq!(mails[0].to, ["sam.2fa@example.com"]);
    let code = code_in(&body(&mails[0]), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, again) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
    assert_eq!(s, 400, "{again}");
    assert_eq!(app.audit_count_of("AUTHENTICATION_SECONDARY_OOB_OTP_EMAIL_FAILED").await, 1);
    let cb = post(&browser, "/login/code/verify", &again, &[("code", &code)]).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa", "x_secondary_oob_otp_email"]), "{id}");

    // Another user's authenticator cannot be chosen with this user's state.
    let other = Browser::new(&app);
    let (_, login) = other.open("/login").await.page();
    let (_, second) = other.login(&login, "sam@example.com", PW).await.page();
    let bogus = uuid::Uuid::now_v7().to_string();
    let (s, p) = post(&other, "/login/mfa/send", &second, &[("authenticator", &bogus)]).await.page();
    assert_eq!(s, 400, "{p}");
    assert!(p.contains("Choose one of the listed ways"), "{p}");
}

#[tokio::test]
async fn a_login_link_opened_on_another_device_lets_the_first_page_continue() {
    let (app, mail) = app_with(|c| {
        c.oob_otp.email.channel.primary = true;
        c.oob_otp.email.mode = EmailOtpMode::LoginLink;
    })
    .await;
    app.create_user("lee@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, login) = browser.open(&f.url).await.page();
    assert!(login.contains("Email me a sign-in link instead"), "{login}");
    let (s, waiting) = post(&browser, "/login/code", &login, &[("login_id", "lee@example.com")]).await.page();
    assert_eq!(s, 200, "{waiting}");
    assert!(waiting.contains("Check your email") && waiting.contains("http-equiv=\"refresh\""), "{waiting}");
    let wait_url = {
        let start = waiting.find("url=").unwrap() + 4;
        let end = waiting[start..].find('"').unwrap() + start;
        waiting[start..end].replace("&amp;", "&")
    };
    // Not opened yet: the same waiting page.
    let (s, still) = browser.open(&wait_url).await.page();
    assert_eq!(s, 200);
    assert!(still.contains("Check your email"), "{still}");

    let text = body(&mail.wait_for(1).await[0]);
    assert!(text.contains("within 20 minutes"), "{text}");
    let link_start = text.find("http://").unwrap();
    let link = text[link_start..].split_whitespace().next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/login/link?token=", app.url)), "{link}");

    // Another device opens it: a confirmation page (a mail scanner's GET approves nothing).
    let phone = Browser::new(&app);
    let (s, confirm) = phone.open(&link).await.page();
    assert_eq!(s, 200, "{confirm}");
    assert!(confirm.contains("Sign in as l•••@example.com?"), "{confirm}");
    let (s, _) = browser.open(&wait_url).await.page();
    assert_eq!(s, 200, "still waiting after a GET of the link");
    let csrf = hidden(&confirm, "csrf");
    let token = hidden(&confirm, "token");
    let (s, done) = phone.submit("/login/link", &[("csrf", &csrf), ("token", &token)]).await.page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("You are signed in"), "{done}");

    // The first page's next look signs in.
    let cb = browser.open(&wait_url).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["otp", "x_primary_oob_otp_email"]), "{id}");
    // The link works once.
    let (s, gone) = Browser::new(&app).open(&link).await.page();
    assert_eq!(s, 400, "{gone}");
    assert!(gone.contains("This link has expired"), "{gone}");
}

#[tokio::test]
async fn wrong_codes_count_in_the_account_lockout() {
    let (app, mail) = app_with(|c| {
        c.oob_otp.email.channel.primary = true;
        c.authentication_lockout.max_attempts = 3;
    })
    .await;
    app.create_user("lou@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (_, page) = post(&browser, "/login/code", &login, &[("login_id", "lou@example.com")]).await.page();
    let code = code_in(&body(&mail.wait_for(1).await[0]), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..2 {
        let (s, _) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
        assert_eq!(s, 400);
    }
    let (s, locked) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
    assert_eq!(s, 429, "{locked}");
    assert!(locked.contains("Account locked"), "{locked}");
    // Locked: even the right code is not looked at, and the password is refused too.
    let (s, still) = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert_eq!(s, 429, "{still}");
    let (s, _) = browser.login(&login, "lou@example.com", PW).await.page();
    assert_eq!(s, 429);
    assert_eq!(app.audit_count_of("AUTHENTICATION_BLOCKED").await, 1);
}

#[tokio::test]
async fn a_second_factor_address_added_in_settings_is_asked_for_at_sign_in() {
    let (app, mail) = app_with(|_| {}).await;
    let (browser, csrf, _) = crate::totp::signed_in(&app, "ada@example.com").await;
    let (s, page) = browser
        .submit("/settings/mfa/oob", &[("csrf", &csrf), ("channel", "email"), ("target", "Ada.Codes@Example.com")])
        .await
        .page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("We sent a code to <strong>a•••@example.com</strong>"), "{page}");
    let code = code_in(&body(&mail.wait_for(1).await[0]), 6);
    let pending = hidden(&page, "pending");
    let (s, codes) = browser
        .submit("/settings/verify/confirm", &[("csrf", &csrf), ("pending", &pending), ("code", &code)])
        .await
        .page();
    assert_eq!(s, 200, "{codes}");
    assert!(codes.contains("The address is added as a second factor") && codes.contains("recovery codes"), "{codes}");
    assert_eq!(app.audit_count_of("AUTHENTICATOR_CREATED").await, 1);
    // The same address again is refused.
    let (s, again) = browser
        .submit("/settings/mfa/oob", &[("csrf", &csrf), ("channel", "email"), ("target", "ada.codes@example.com")])
        .await
        .page();
    assert_eq!(s, 422, "{again}");
    assert!(again.contains("already a second factor"), "{again}");

    // Signing in now asks for the code.
    let (rp, _) = spa(&app).await;
    let other = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let (_, login) = other.open(&f.url).await.page();
    let (s, second) = other.login(&login, "ada@example.com", PW).await.page();
    assert_eq!(s, 200, "{second}");
    assert!(second.contains("Email a code to a•••@example.com"), "{second}");
    let id = hidden(&second, "authenticator");
    let (_, page) = post(&other, "/login/mfa/send", &second, &[("authenticator", &id)]).await.page();
    let code = code_in(&body(&mail.wait_for(2).await[1]), 6);
    let cb = post(&other, "/login/code/verify", &page, &[("code", &code)]).await.redirect();
    let (claims, _) = tokens(&rp, &cb, f).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa", "x_secondary_oob_otp_email"]));

    // Removing it in settings: the password alone signs in again.
    let (_, settings) = browser.open("/settings").await.page();
    let authenticator = hidden(&settings, "authenticator_id");
    let (s, done) = browser
        .submit("/settings/mfa/oob/remove", &[("csrf", &csrf), ("authenticator_id", &authenticator)])
        .await
        .page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("removed from your second factors"), "{done}");
    let third = Browser::new(&app);
    let (_, login) = third.open("/login").await.page();
    let (s, landed) = third.login(&login, "ada@example.com", PW).await.page();
    assert_eq!(s, 200);
    assert!(landed.contains("Your account"), "{landed}");
}

#[tokio::test]
async fn message_templates_are_overridable_and_get_the_pages_language() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("email_code.txt"),
        "{% if lang == \"fr\" %}Votre code pour {{ app_name }} : {{ code }}{% else %}Code: {{ code }}{% endif %}",
    )
    .unwrap();
    let path = dir.path().to_owned();
    let (app, mail) = app_with(move |c| {
        c.oob_otp.email.channel.primary = true;
        c.ui.template_dir = Some(path);
    })
    .await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[("ui_locales", "fr-CA fr")]);
    let (_, login) = browser.open(&f.url).await.page();
    let (s, _) = post(&browser, "/login/code", &login, &[("login_id", "fr@example.com")]).await.page();
    assert_eq!(s, 200);
    let text = body(&mail.wait_for(1).await[0]);
    assert!(text.starts_with("Code: "), "fr-CA is not fr: {text}");
    let f = start(&rp, &[], &[("ui_locales", "fr")]);
    let other = Browser::new(&app);
    let (_, login) = other.open(&f.url).await.page();
    let (s, _) = post(&other, "/login/code", &login, &[("login_id", "fr2@example.com")]).await.page();
    assert_eq!(s, 200);
    let text = body(&mail.wait_for(2).await[1]);
    assert!(text.starts_with("Votre code pour authgraph : "), "{text}");
}

#[tokio::test]
async fn wrong_codes_from_one_address_are_limited_and_right_codes_do_not_count() {
    let (app, mail) = app_with(|c| {
        c.oob_otp.email.channel.primary = true;
        c.messaging.code_failures_per_ip_per_minute = 2;
    })
    .await;
    for who in ["ada@example.com", "bob@example.com", "cy@example.com"] {
        app.create_user(who, None).await;
    }
    let code_page = |browser: Browser, who: &'static str| async move {
        let (_, login) = browser.open("/login").await.page();
        let (s, page) = post(&browser, "/login/code", &login, &[("login_id", who)]).await.page();
        assert_eq!(s, 200, "{page}");
        (browser, page)
    };

    // Right codes are not failures: two sign-ins, and the limit of two is untouched.
    for (n, who) in ["ada@example.com", "cy@example.com"].into_iter().enumerate() {
        let (browser, page) = code_page(Browser::new(&app), who).await;
        let code = code_in(&body(&mail.wait_for(n + 1).await[n]), 6);
        let (s, p) = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await.page();
        assert!(s == 303 || s == 200, "signed in: {s} {p}");
        let (_, settings) = browser.open("/settings").await.page();
        assert!(!settings.contains("action=\"/login\""), "signed in: {settings}");
    }

    // Two wrong codes reach the limit: the third try is refused even with the right code,
    // and the refusal is audited.
    let (browser, page) = code_page(Browser::new(&app), "bob@example.com").await;
    let code = code_in(&body(&mail.wait_for(3).await[2]), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in [4, 3] {
        let (s, p) = post(&browser, "/login/code/verify", &page, &[("code", wrong)]).await.page();
        assert_eq!(s, 400, "{p}");
        assert!(p.contains(&format!("The code is incorrect; {left} more tries")), "{p}");
    }
    let (s, p) = post(&browser, "/login/code/verify", &page, &[("code", &code)]).await.page();
    assert_eq!(s, 429, "{p}");
    assert!(p.contains("Too many failed attempts"), "{p}");
    assert_eq!(app.audit_count_of("RATE_LIMIT_BLOCKED").await, 1);
    assert_eq!(app.audit_count_of("AUTHENTICATION_PRIMARY_OOB_OTP_EMAIL_FAILED").await, 2);
}
