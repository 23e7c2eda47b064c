//! An account changed while `authentication.pre_authenticated` holds its sign-in (the
//! hook answers after a second) gets no session, whichever way it signs in: a password,
//! a password and an authenticator app's code, a passkey, or a provider account. The
//! session's transaction reads the account as it changes it, and rolls back if the
//! account may no longer sign in; nothing of the session is kept (no `user.authenticated`,
//! no last login).

use std::future::Future;

use serde_json::{Value, json};

use crate::blocking_hooks::{Answer, Hooks, app_with, configure};
use crate::helpers::{TestApp, spawn_with};
use crate::hook_code_sign_in::{ALL, signed_in};
use crate::hook_sign_in_steps::{next_code, password, second};
use crate::passkey_device::{Device, options_in};
use crate::passkeys::{login_page, register, sign_in_on};
use crate::rp::Browser;
use crate::social_fake::{fake, fake_providers};
use crate::social_login::through_fake;

const DISABLE: &str =
    "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true, reason: \"left\"}) { user { id } } }";

/// Runs `sign_in` and, as soon as `pre_authenticated` holds it, `change`; what `sign_in`
/// returned.
async fn while_pre_holds<T>(hooks: &Hooks, sign_in: impl Future<Output = T>, change: impl Future<Output = Value>) -> T {
    hooks.set("pre", Answer::Sleep(1));
    let before = hooks.seen("pre").len();
    let meanwhile = async {
        while hooks.seen("pre").len() == before {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        change.await
    };
    let (signed_in, _) = tokio::join!(sign_in, meanwhile);
    signed_in
}

/// The refusal page of a disabled account, with the administrator's reason.
fn disabled_page(status: u16, page: &str) {
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Your account is disabled") && page.contains("left"), "{page}");
}

async fn last_login(app: &TestApp, user: &str) -> Value {
    let last = app.ok("query($u: ID!) { node(id: $u) { ... on User { lastLoginAt } } }", json!({"u": user})).await;
    assert!(last["node"].is_object(), "{last}");
    last["node"]["lastLoginAt"].clone()
}

/// No session in `browser`, no more audited than `sessions`, and `user`'s last login
/// still `last`.
async fn nothing_kept(app: &TestApp, browser: &Browser, user: &str, (sessions, last): (i64, Value)) {
    assert!(!signed_in(browser).await, "not signed in");
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, sessions, "nothing of the session was kept");
    assert_eq!(last_login(app, user).await, last);
}

/// The sessions audited so far and `user`'s last login.
async fn before(app: &TestApp, user: &str) -> (i64, Value) {
    (app.audit_count_of("USER_AUTHENTICATED").await, last_login(app, user).await)
}

#[tokio::test]
async fn a_password_sign_in_of_an_account_disabled_or_deleted_meanwhile_gets_no_session() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |c| c.hook.sync_hook_timeout_seconds = 5).await;
    let user = app.create_user("late@example.com", Some(crate::login_helpers::PW)).await;
    let kept = before(&app, &user).await;
    assert_eq!(kept, (0, Value::Null));
    let disable = app.ok(DISABLE, json!({"u": user}));
    let (browser, s, page) = while_pre_holds(&hooks, password(&app, "late@example.com"), disable).await;
    disabled_page(s, &page);
    nothing_kept(&app, &browser, &user, kept).await;

    // Deleted meanwhile: the answer of an unknown login ID, and no error.
    let gone = app.create_user("gone@example.com", Some(crate::login_helpers::PW)).await;
    let delete = app.ok("mutation($u: ID!) { deleteUser(input: {userID: $u}) { deletedUserID } }", json!({"u": gone}));
    let (browser, s, page) = while_pre_holds(&hooks, password(&app, "gone@example.com"), delete).await;
    assert_eq!(s, 401, "{page}");
    assert!(page.contains("The login ID or the password is incorrect"), "{page}");
    assert!(!signed_in(&browser).await);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, 0);
}

/// With an authenticator app, `pre_authenticated` runs after the app's code, and the
/// session after it: an account disabled while it runs is refused after the right code.
#[tokio::test]
async fn an_account_disabled_during_its_second_factor_gets_no_session() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &ALL, |c| c.hook.sync_hook_timeout_seconds = 5).await;
    let (browser, csrf, user) = crate::totp::signed_in(&app, "two@example.com").await;
    let (secret, mut last) = crate::totp::enrol(&browser, &csrf, "Phone").await;
    let kept = before(&app, &user).await;
    let (browser, s, page) = password(&app, "two@example.com").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "the second factor: {page}");
    let code = next_code(&secret, &mut last);
    let (s, refused) = while_pre_holds(
        &hooks,
        second(&browser, &page, "/login/totp", &[("code", &code)]),
        app.ok(DISABLE, json!({"u": user})),
    )
    .await;
    disabled_page(s, &refused);
    nothing_kept(&app, &browser, &user, kept).await;
}

#[tokio::test]
async fn an_account_disabled_during_its_passkey_sign_in_gets_no_session() {
    let (hooks, base) = Hooks::start().await;
    let mut app = spawn_with(|c| {
        c.public_url = Some(format!("http://localhost:{}", c.listen.port()));
        configure(c, &base, &ALL);
        c.hook.sync_hook_timeout_seconds = 5;
    })
    .await;
    app.url = app.url.replace("127.0.0.1", "localhost");
    let (browser, _, user) = crate::totp::signed_in(&app, "key@example.com").await;
    let (mut device, _): (Device, _) = register(&app, &browser, "Key").await;
    let kept = before(&app, &user).await;
    let other = Browser::new(&app);
    let page = login_page(&other, "/login").await;
    let credential = device.get(&options_in(&page));
    let landing = while_pre_holds(&hooks, sign_in_on(&other, &page, credential), app.ok(DISABLE, json!({"u": user})));
    let (s, refused) = landing.await.page();
    disabled_page(s, &refused);
    nothing_kept(&app, &other, &user, kept).await;
}

#[tokio::test]
async fn an_account_disabled_during_its_provider_sign_in_gets_no_session() {
    let (hooks, base) = Hooks::start().await;
    let (fake_base, _fake) = fake().await;
    let app = spawn_with(|c| {
        configure(c, &base, &ALL);
        c.hook.sync_hook_timeout_seconds = 5;
        c.social_login.providers = fake_providers(&fake_base);
    })
    .await;
    // The first sign-in creates the account and connects the provider account to it.
    let b = Browser::new(&app);
    let back = through_fake(&b, "fake").await;
    let (s, page) = b.open(&back).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(signed_in(&b).await);
    let users = app.ok("{ users(first: 1) { edges { node { id } } } }", json!({})).await;
    let user = users["users"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
    let kept = before(&app, &user).await;

    let b = Browser::new(&app);
    let back = through_fake(&b, "fake").await;
    let (s, page) =
        while_pre_holds(&hooks, async { b.open(&back).await.page() }, app.ok(DISABLE, json!({"u": user}))).await;
    disabled_page(s, &page);
    nothing_kept(&app, &b, &user, kept).await;
}
