//! Recovery codes: shown once when the first authenticator app is added and when the user
//! asks for a new set, counted on the settings page, and accepted once at sign-in in place
//! of an app's code (`amr` `pwd mfa x_recovery_code`); stored only as keyed hashes.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::login_helpers::{spa, start};
use crate::login_mfa::{password_step, tokens};
use crate::rp::{Browser, hidden};
use crate::totp::{enrol, enrol_page, raw_id, signed_in};

/// The codes listed on a page, in order.
fn codes_in(page: &str) -> Vec<String> {
    page.split("<li><code>").skip(1).map(|p| p.split("</code>").next().unwrap().to_owned()).collect()
}

fn well_formed(code: &str) -> bool {
    let (a, b) = code.split_once('-').unwrap_or(("", ""));
    let crockford = |s: &str| s.len() == 5 && s.bytes().all(|c| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&c));
    crockford(a) && crockford(b)
}

async fn submit_recovery(browser: &Browser, page: &str, code: &str) -> crate::rp::Landing {
    let fields = [
        ("csrf", hidden(page, "csrf")),
        ("flow", hidden(page, "flow")),
        ("pending", hidden(page, "pending")),
        ("code", code.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit("/login/recovery_code", &fields).await
}

async fn failures(app: &TestApp) -> i64 {
    let q = "{ auditLogs(activityTypes: [AUTHENTICATION_SECONDARY_RECOVERY_CODE_FAILED]) { totalCount } }";
    app.ok(q, json!({})).await["auditLogs"]["totalCount"].as_i64().unwrap()
}

async fn unused_on_settings(browser: &Browser) -> String {
    let (s, page) = browser.open("/settings").await.page();
    assert_eq!(s, 200, "{page}");
    page
}

#[tokio::test]
async fn codes_at_first_enrolment_sign_in_once_and_regenerate() {
    let app = spawn_app().await;
    let (browser, csrf, _) = signed_in(&app, "rita@example.com").await;
    let (_, _, page) = enrol_page(&browser, &csrf, "Phone").await;
    let codes = codes_in(&page);
    assert_eq!(codes.len(), 16, "{page}");
    assert!(codes.iter().all(|c| well_formed(c)), "{codes:?}");
    assert!(page.contains("will not be shown again"), "{page}");
    let settings = unused_on_settings(&browser).await;
    assert!(settings.contains("Recovery codes: 16 unused"), "{settings}");
    // A second app: no new codes.
    let csrf = hidden(&settings, "csrf");
    enrol(&browser, &csrf, "Tablet").await;
    let settings = unused_on_settings(&browser).await;
    assert!(settings.contains("Recovery codes: 16 unused") && !settings.contains("<li><code>"), "{settings}");

    // Sign-in with a recovery code, typed in lower case without the dash.
    let (rp, _) = spa(&app).await;
    let other = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = password_step(&other, &f.url, "rita@example.com").await;
    assert!(page.contains("Use a recovery code instead") && page.contains("action=\"/login/recovery_code\""));
    let typed = codes[0].replace('-', "").to_lowercase();
    let cb = submit_recovery(&other, &page, &typed).await.redirect();
    let (id, access) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "mfa", "x_recovery_code"]), "{id}");
    assert_eq!(access["amr"], id["amr"]);
    assert!(unused_on_settings(&browser).await.contains("Recovery codes: 15 unused"));

    // The same code again: refused with a message, 400, audited.
    let third = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let page = password_step(&third, &f.url, "rita@example.com").await;
    let (s, again) = submit_recovery(&third, &page, &codes[0]).await.page();
    assert_eq!(s, 400, "{again}");
    assert!(again.contains("not correct or has already been used"), "{again}");
    assert_eq!(failures(&app).await, 1);
    // A wrong one: the same.
    let (s, again) = submit_recovery(&third, &again, "0000000000").await.page();
    assert_eq!(s, 400, "{again}");
    assert_eq!(failures(&app).await, 2);

    // New codes replace the old ones, shown once.
    let settings = unused_on_settings(&browser).await;
    let (s, page) = browser.submit("/settings/recovery_codes", &[("csrf", &hidden(&settings, "csrf"))]).await.page();
    assert_eq!(s, 200, "{page}");
    let fresh = codes_in(&page);
    assert_eq!(fresh.len(), 16);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    assert!(unused_on_settings(&browser).await.contains("Recovery codes: 16 unused"));
    let (s, again) = submit_recovery(&third, &again, &codes[1]).await.page();
    assert_eq!(s, 400, "an old code no longer works: {again}");
    let f = start(&rp, &[], &[]);
    let page = password_step(&third, &f.url, "rita@example.com").await;
    let cb = submit_recovery(&third, &page, &fresh[1]).await.redirect();
    let (id, _) = tokens(&rp, &cb, f).await;
    assert_eq!(id["amr"], json!(["pwd", "mfa", "x_recovery_code"]));

    // Without CSRF, no new codes.
    let (s, _) = browser.submit("/settings/recovery_codes", &[]).await.page();
    assert!(s >= 400, "{s}");
}

#[tokio::test]
async fn a_code_is_used_once_even_concurrently_and_is_stored_hashed() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let (browser, csrf, user) = signed_in(&app, "otto@example.com").await;
    let (_, _, page) = enrol_page(&browser, &csrf, "Phone").await;
    let codes = codes_in(&page);
    let user_id = authgraph::domain::ids::UserId::from(raw_id(&app, &user).await);
    let account = app.services.account();

    // Crockford's look-alikes and spaces are accepted.
    let canonical = codes[2].replace('-', "");
    let sloppy = format!(" {} ", canonical.to_lowercase().replace('1', "l").replace('0', "o"));
    account.use_recovery_code(user_id, &sloppy).await.unwrap();
    assert!(account.use_recovery_code(user_id, &codes[2]).await.is_err());

    let tries = futures::future::join_all((0..8).map(|_| account.use_recovery_code(user_id, &codes[3]))).await;
    assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 1, "{tries:?}");
    assert_eq!(account.unused_recovery_codes(user_id).await.unwrap(), 14);

    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT code_hash FROM recovery_codes",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 16);
    for row in rows {
        let hash: String = row.try_get("", "code_hash").unwrap();
        assert!(codes.iter().all(|c| !hash.contains(c.as_str()) && !hash.contains(&c.replace('-', ""))), "{hash}");
    }
}

#[tokio::test]
async fn wrong_recovery_codes_count_in_the_failed_login_limit() {
    let app = crate::helpers::spawn_with(|c| c.rate_limits.login_failures_per_account_per_minute = 3).await;
    let (browser, csrf, _) = signed_in(&app, "rob@example.com").await;
    enrol(&browser, &csrf, "Phone").await;
    let other = Browser::new(&app);
    let (_, login) = other.open("/login").await.page();
    let (s, page) = other.login(&login, "rob@example.com", crate::login_helpers::PW).await.page();
    assert_eq!(s, 200, "{page}");
    // The counter's window is a minute; should one end during the loop, it starts over.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (s, body) = submit_recovery(&other, &page, "ZZZZZ-ZZZZZ").await.page();
        statuses.push(s);
        if s == 429 {
            assert!(body.contains("Too many failed attempts"), "{body}");
            break;
        }
        assert_eq!(s, 400, "{body}");
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.len() >= 4, "three wrong codes are allowed first: {statuses:?}");
}
