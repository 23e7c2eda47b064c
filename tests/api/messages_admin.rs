//! The Admin API's messaging operations with Authgear's names: `generateOOBOTPCode`
//! (the code then works where a sent one would), `sendResetPasswordMessage`, and
//! `sendPassword` on `createUser` and `resetPassword`; and verifying one's own email
//! address in settings (`email_verified`, `IDENTITY_EMAIL_VERIFIED`).

use serde_json::json;

use crate::helpers::TestApp;
use crate::login_codes::body;
use crate::login_helpers::PW;
use crate::rp::{Browser, hidden};
use crate::sms::code_in;
use crate::smtp::SmtpSink;

async fn app() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = crate::helpers::spawn_with(move |c| {
        c.smtp.host = Some("127.0.0.1".into());
        c.smtp.port = port;
        c.smtp.tls = authgraph::config::SmtpTls::None;
        c.oob_otp.email.channel.primary = true;
    })
    .await;
    (app, sink)
}

const GENERATE: &str =
    "mutation($t: String!, $p: OTPPurpose) { generateOOBOTPCode(input: {target: $t, purpose: $p}) { code } }";

#[tokio::test]
async fn a_generated_code_signs_in_and_nothing_is_sent() {
    let (app, mail) = app().await;
    app.create_user("gen@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let csrf = hidden(&login, "csrf");
    let (s, page) =
        browser.submit("/login/code", &[("csrf", &csrf), ("flow", ""), ("login_id", "gen@example.com")]).await.page();
    assert_eq!(s, 200, "{page}");
    assert_eq!(mail.wait_for(1).await.len(), 1);
    // Support staff generate a new code: it replaces the sent one and is not sent.
    let d = app.ok(GENERATE, json!({"t": "Gen@Example.com", "p": "LOGIN"})).await;
    let code = d["generateOOBOTPCode"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert_eq!(mail.all().len(), 1, "a generated code is not sent");
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_GENERATE_OOB_OTP_CODE_EXECUTED").await, 1);
    let pending = hidden(&page, "pending");
    let landing = browser
        .submit("/login/code/verify", &[("csrf", &csrf), ("flow", ""), ("pending", &pending), ("code", &code)])
        .await;
    let (s, settings) = landing.page();
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("Your account"), "{settings}");
    // Bad targets are refused with a code.
    app.err(GENERATE, json!({"t": "not an address"}), "BAD_USER_INPUT", Some("InvalidEmail")).await;
    app.err(GENERATE, json!({"t": "+12"}), "BAD_USER_INPUT", Some("InvalidPhoneNumber")).await;
}

#[tokio::test]
async fn send_reset_password_message_and_send_password() {
    let (app, mail) = app().await;
    app.create_user("rex@example.com", Some(PW)).await;
    let q = "mutation($l: ID!) { sendResetPasswordMessage(input: {loginID: $l}) }";
    let d = app.ok(q, json!({"l": "rex@example.com"})).await;
    assert_eq!(d["sendResetPasswordMessage"], true);
    let mails = mail.wait_for(1).await;
    assert_eq!(mails[0].to, ["rex@example.com"]);
    assert!(body(&mails[0]).contains("/reset_password?code="), "{}", body(&mails[0]));
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_SEND_RESET_PASSWORD_MESSAGE_EXECUTED").await, 1);
    // A second one within a minute, and an unknown address, are refused; nothing sent.
    app.err(q, json!({"l": "rex@example.com"}), "BAD_USER_INPUT", Some("RateLimited")).await;
    app.err(q, json!({"l": "nobody@example.com"}), "NOT_FOUND", Some("UserNotFound")).await;
    assert_eq!(mail.all().len(), 1);

    // createUser(sendPassword: true) with a generated password: the user gets it and it works.
    let create = "mutation($v: String!) { createUser(input: {definition: {loginID: {key: \"email\", value: $v}}, password: \"\", sendPassword: true}) { user { id } } }";
    let d = app.ok(create, json!({"v": "new@example.com"})).await;
    let user = d["createUser"]["user"]["id"].as_str().unwrap().to_owned();
    let mails = mail.wait_for(2).await;
    assert_eq!(mails[1].to, ["new@example.com"]);
    let text = body(&mails[1]);
    assert!(text.contains("created an account for you"), "{text}");
    let password = text.lines().map(str::trim).find(|l| l.len() >= 8 && !l.contains(' ')).unwrap().to_owned();
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "new@example.com", &password).await.page();
    assert_eq!(s, 200, "the emailed password signs in: {page}");

    // resetPassword(sendPassword: true).
    let reset = "mutation($u: ID!) { resetPassword(input: {userID: $u, password: \"a brand new secret\", sendPassword: true}) { user { id } } }";
    app.ok(reset, json!({"u": user})).await;
    let mails = mail.wait_for(3).await;
    assert!(body(&mails[2]).contains("set a new password") && body(&mails[2]).contains("a brand new secret"));
    // A phone-only user has nowhere to receive it: refused before anything changes.
    let phone_app = crate::helpers::spawn_with(|c| {
        c.login_id.types = vec![authgraph::config::LoginIdType::Phone];
    })
    .await;
    let q = "mutation { createUser(input: {definition: {loginID: {key: \"phone\", value: \"+14155550123\"}}, password: \"\", sendPassword: true}) { user { id } } }";
    phone_app.err(q, json!({}), "BAD_USER_INPUT", Some("SendPasswordInvalid")).await;
    let d = phone_app.ok("{ users { totalCount } }", json!({})).await;
    assert_eq!(d["users"]["totalCount"], 0, "nothing was created");
}

#[tokio::test]
async fn verifying_an_email_address_in_settings() {
    let (app, mail) = app().await;
    let user = app.create_user("vic@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, settings) = browser.login(&login, "vic@example.com", PW).await.page();
    assert_eq!(s, 200, "{settings}");
    assert!(settings.contains("vic@example.com<br><small class=\"muted\">Not verified"), "{settings}");
    let csrf = hidden(&settings, "csrf");
    let (s, page) = browser.submit("/settings/verify", &[("csrf", &csrf), ("channel", "email")]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("We sent a code to <strong>v•••@example.com</strong>"), "{page}");
    let code = code_in(&body(&mail.wait_for(1).await[0]), 6);
    assert!(body(&mail.all()[0]).contains("verify this email address"));
    let pending = hidden(&page, "pending");
    let (s, again) = browser
        .submit("/settings/verify/confirm", &[("csrf", &csrf), ("pending", &pending), ("code", "12 34 5x")])
        .await
        .page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("The code is incorrect"), "{again}");
    // A login code for the same address is another purpose: it does not verify.
    let login_code =
        app.ok(GENERATE, json!({"t": "vic@example.com", "p": "LOGIN"})).await["generateOOBOTPCode"]["code"]
            .as_str()
            .unwrap()
            .to_owned();
    if login_code != code {
        let (s, _) = browser
            .submit("/settings/verify/confirm", &[("csrf", &csrf), ("pending", &pending), ("code", &login_code)])
            .await
            .page();
        assert_eq!(s, 400);
    }
    let (s, done) = browser
        .submit("/settings/verify/confirm", &[("csrf", &csrf), ("pending", &pending), ("code", &code)])
        .await
        .page();
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Your email address is verified") && !done.contains("Not verified"), "{done}");
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { standardAttributes verifiedClaims { name value } } } }",
            json!({"id": user}),
        )
        .await;
    assert_eq!(d["node"]["standardAttributes"]["email_verified"], true, "{d}");
    assert_eq!(app.audit_count_of("IDENTITY_EMAIL_VERIFIED").await, 1);
    // Another user's state cannot be used.
    let (other, other_csrf, _) = crate::totp::signed_in(&app, "eve@example.com").await;
    let (s, p) = other
        .submit("/settings/verify/confirm", &[("csrf", &other_csrf), ("pending", &pending), ("code", &code)])
        .await
        .page();
    assert_eq!(s, 400, "{p}");
}
