//! SMS fraud protection (Authgear's `fraud_protection`) through the real `/login/code`
//! form, with SMS through the signed webhook to a local listener: unverified codes from
//! one IP address to one phone country raise a warning; `record_only` sends anyway and
//! records it, `deny_if_any_warning` blocks (no SMS, a clear page), an always-allow regex
//! gets through, and a code that is used lowers the count. The Admin API's
//! `fraudProtectionLogs` (with its filters) and `fraudProtectionOverview` read the
//! decisions back.

use authgraph::config::{Config, FraudProtectionAction, LoginIdType, SmsProvider};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_with};
use crate::rp::{Browser, Landing, hidden};
use crate::sms::{SmsSink, code_in};

const COUNTRY_HOURLY: &str = "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__HOURLY_THRESHOLD_EXCEEDED";
const COUNTRIES_BY_IP: &str = "SMS__PHONE_COUNTRIES__BY_IP__DAILY_THRESHOLD_EXCEEDED";

/// An app with phone login IDs, passwordless SMS codes and the webhook pointed at `sms`.
async fn app_with(sms: &SmsSink, customize: impl FnOnce(&mut Config) + Send + 'static) -> TestApp {
    let url = format!("{}/sms", sms.url);
    spawn_with(move |c| {
        c.login_id.types = vec![LoginIdType::Email, LoginIdType::Phone];
        c.oob_otp.sms.primary = true;
        c.sms.provider = SmsProvider::Webhook;
        c.sms.webhook.url = Some(url);
        c.sms.webhook.secret = Some(authgraph::config::Secret::new("webhook-secret-0123456789"));
        customize(c);
    })
    .await
}

async fn post(browser: &Browser, path: &str, page: &str, extra: &[(&str, &str)]) -> Landing {
    let mut f: Vec<(&str, String)> = ["csrf", "flow", "pending"]
        .iter()
        .filter(|n| page.contains(&format!("name=\"{n}\"")))
        .map(|n| (*n, hidden(page, n)))
        .collect();
    f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit(path, &f).await
}

/// Asks for a sign-in code for `number` in a new browser: the browser, status and page.
async fn ask(app: &TestApp, number: &str) -> (Browser, u16, String) {
    let browser = Browser::new(app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = post(&browser, "/login/code", &login, &[("login_id", number)]).await.page();
    (browser, s, page)
}

/// The code in the SMS sent to `number`, the latest one.
fn code_for(sms: &SmsSink, number: &str) -> String {
    let got = sms.all();
    let payload = got
        .iter()
        .rev()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|p| p["to"] == number)
        .unwrap_or_else(|| panic!("no SMS to {number}"));
    code_in(payload["body"].as_str().unwrap(), 6)
}

async fn logs(app: &TestApp, args: &str) -> Value {
    let q = format!(
        "{{ fraudProtectionLogs{args} {{ totalCount edges {{ node {{ id createdAt decision action triggeredWarnings ipAddress userAgent geoLocationCode data actionDetail {{ ... on FraudProtectionDecisionSendSMSActionDetail {{ recipient type phoneNumberCountryCode }} }} }} }} }} }}"
    );
    app.ok(&q, json!({})).await["fraudProtectionLogs"].clone()
}

async fn total(app: &TestApp, args: &str) -> i64 {
    logs(app, args).await["totalCount"].as_i64().unwrap()
}

async fn overview(app: &TestApp) -> Value {
    let q = "{ fraudProtectionOverview { sendSMS { total blocked flagged topSourceIPs { ipAddress geoCountryCode total blocked flagged } topIPLocations { geoCountryCode total } topSMSOrigins { phoneCountryCode total blocked flagged } timeBuckets { hour total blocked flagged } } } }";
    app.ok(q, json!({})).await["fraudProtectionOverview"]["sendSMS"].clone()
}

async fn audit_count(app: &TestApp, activity: &str) -> i64 {
    let q = format!("{{ auditLogs(activityTypes: [{activity}]) {{ totalCount }} }}");
    app.ok(&q, json!({})).await["auditLogs"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn record_only_sends_every_sms_and_records_the_warning() {
    let sms = SmsSink::start().await;
    let app = app_with(&sms, |_| {}).await;
    // Nothing verified yet: 3 unverified codes per phone country and hour pass; the 4th
    // raises the hourly phone-country warning, and record_only sends it anyway.
    for i in 1..=4 {
        let (_, s, page) = ask(&app, &format!("+659123000{i}")).await;
        assert_eq!(s, 200, "{page}");
    }
    assert_eq!(sms.all().len(), 4, "record_only blocks nothing");
    assert_eq!(audit_count(&app, "FRAUD_PROTECTION_DECISION_RECORDED").await, 4);
    assert_eq!(audit_count(&app, "SMS_SENT").await, 4);

    let flagged = logs(&app, &format!("(verdicts: [allowed], reasonCodes: [\"{COUNTRY_HOURLY}\"])")).await;
    assert_eq!(flagged["totalCount"], 1, "{flagged:#}");
    let node = &flagged["edges"][0]["node"];
    assert_eq!(node["decision"], "allowed");
    assert_eq!(node["action"], "send_sms");
    assert_eq!(node["triggeredWarnings"], json!([COUNTRY_HOURLY]));
    assert_eq!(
        node["actionDetail"],
        json!({"recipient": "+6591230004", "type": "login", "phoneNumberCountryCode": "SG"})
    );
    assert_eq!(node["ipAddress"], "127.0.0.1");
    assert_eq!(node["geoLocationCode"], Value::Null);
    assert_eq!(node["data"]["triggered_warnings"], json!([COUNTRY_HOURLY]));
    // The record is a Node.
    let q = "query($id: ID!) { node(id: $id) { __typename ... on FraudProtectionDecisionRecord { decision triggeredWarnings } } }";
    let d = app.ok(q, json!({"id": node["id"]})).await;
    assert_eq!(d["node"]["__typename"], "FraudProtectionDecisionRecord", "{d:#}");
    assert_eq!(d["node"]["triggeredWarnings"], json!([COUNTRY_HOURLY]));

    assert_eq!(total(&app, "").await, 4);
    assert_eq!(total(&app, "(minimumWarningCount: 1)").await, 1);
    assert_eq!(total(&app, "(maximumWarningCount: 0)").await, 3);
    assert_eq!(total(&app, "(verdicts: [blocked])").await, 0);
    assert_eq!(total(&app, "(search: \"+65912300\")").await, 4);
    assert_eq!(total(&app, "(search: \"sg\")").await, 4);
    assert_eq!(total(&app, "(search: \"127.0\")").await, 4);
    assert_eq!(total(&app, "(search: \"+44\")").await, 0);
    assert_eq!(total(&app, "(search: \"%\")").await, 0, "LIKE wildcards are literal");
    let oldest = logs(&app, "(sortDirection: ASC, first: 1)").await;
    assert_eq!(oldest["edges"][0]["node"]["actionDetail"]["recipient"], "+6591230001");
    let future = "(rangeFrom: \"2999-01-01T00:00:00Z\")";
    assert_eq!(total(&app, future).await, 0);

    let o = overview(&app).await;
    assert_eq!(
        (o["total"].as_i64(), o["blocked"].as_i64(), o["flagged"].as_i64()),
        (Some(4), Some(0), Some(1)),
        "{o:#}"
    );
    assert_eq!(o["topSMSOrigins"], json!([{"phoneCountryCode": "SG", "total": 4, "blocked": 0, "flagged": 1}]));
    assert_eq!(
        o["topSourceIPs"],
        json!([{"ipAddress": "127.0.0.1", "geoCountryCode": "", "total": 4, "blocked": 0, "flagged": 1}])
    );
    assert_eq!(o["topIPLocations"], json!([]), "no GeoIP database");
    let buckets = o["timeBuckets"].as_array().unwrap();
    assert_eq!(buckets.iter().map(|b| b["total"].as_i64().unwrap()).sum::<i64>(), 4, "{buckets:?}");

    // The scope: audit-log:read.
    let token = app.token(&["user:read"]);
    let res = app.gql_as(&token, "{ fraudProtectionOverview { sendSMS { total } } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res:#}");
    let token = app.token(&["audit-log:read"]);
    let res = app.gql_as(&token, "{ fraudProtectionLogs { totalCount } }", json!({})).await;
    assert_eq!(res["data"]["fraudProtectionLogs"]["totalCount"], 4, "{res:#}");
    // A range longer than 90 days is refused.
    let res = app
        .gql("{ fraudProtectionOverview(rangeFrom: \"2020-01-01T00:00:00Z\") { sendSMS { total } } }", json!({}))
        .await;
    assert!(res["errors"][0]["message"].as_str().unwrap_or("").contains("90 days"), "{res:#}");
}

#[tokio::test]
async fn many_phone_countries_from_one_ip_raise_a_warning() {
    let sms = SmsSink::start().await;
    let app = app_with(&sms, |_| {}).await;
    for number in ["+6591230001", "+85291234567", "+819012345678", "+447700900123"] {
        let (_, s, page) = ask(&app, number).await;
        assert_eq!(s, 200, "{page}");
    }
    let flagged = logs(&app, &format!("(reasonCodes: [\"{COUNTRIES_BY_IP}\"])")).await;
    assert_eq!(flagged["totalCount"], 1, "the 4th country: {flagged:#}");
    assert_eq!(flagged["edges"][0]["node"]["actionDetail"]["phoneNumberCountryCode"], "GB");
    let o = overview(&app).await;
    assert_eq!(o["topSMSOrigins"].as_array().unwrap().len(), 4, "{o:#}");
}

#[tokio::test]
async fn deny_blocks_an_always_allow_regex_passes_and_a_used_code_lowers_the_count() {
    let sms = SmsSink::start().await;
    let app = app_with(&sms, |c| {
        c.fraud_protection.decision.action = FraudProtectionAction::DenyIfAnyWarning;
        c.fraud_protection.decision.always_allow.phone_number.regex = vec![r"^\+6591239999$".into()];
    })
    .await;
    let mut pages = Vec::new();
    for i in 1..=3 {
        let (browser, s, page) = ask(&app, &format!("+659123000{i}")).await;
        assert_eq!(s, 200, "{page}");
        pages.push((browser, page));
    }
    assert_eq!(sms.all().len(), 3);

    // The 4th unverified code to SG within the hour: blocked, no SMS, a clear page.
    let (_, s, page) = ask(&app, "+6591230004").await;
    assert_eq!(s, 429, "{page}");
    assert!(page.contains("The text message was not sent"), "{page}");
    assert_eq!(sms.all().len(), 3, "nothing reached the provider");
    assert_eq!(total(&app, "(verdicts: [blocked])").await, 1);

    // The first code is used (it signs up that number): one unverified fewer, so the next
    // number gets its code, and the one after is blocked again.
    let (browser, page) = &pages[0];
    let code = code_for(&sms, "+6591230001");
    let (s, settings) = post(browser, "/login/code/verify", page, &[("code", &code)]).await.page();
    assert_eq!(s, 200, "{settings}");
    let (_, s, page) = ask(&app, "+6591230005").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(sms.all().len(), 4);
    let (_, s, _) = ask(&app, "+6591230006").await;
    assert_eq!(s, 429);
    assert_eq!(sms.all().len(), 4);

    // An always-allowed number gets its code despite the warning, which is still recorded.
    let (_, s, page) = ask(&app, "+6591239999").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(sms.all().len(), 5);
    let allowed = logs(&app, "(verdicts: [allowed], minimumWarningCount: 1)").await;
    assert_eq!(allowed["totalCount"], 1, "{allowed:#}");
    assert_eq!(allowed["edges"][0]["node"]["actionDetail"]["recipient"], "+6591239999");

    // A verification code from the settings page goes through the same check: the
    // signed-in user's number is in SG, still over the hourly threshold.
    let (s, page) = post(browser, "/settings/verify", &settings, &[("channel", "sms")]).await.page();
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("blocked to protect the service from SMS abuse"), "{page}");
    assert_eq!(sms.all().len(), 5);
    let blocked = logs(&app, "(verdicts: [blocked], first: 1)").await;
    assert_eq!(blocked["edges"][0]["node"]["actionDetail"]["type"], "verification", "{blocked:#}");

    let o = overview(&app).await;
    assert_eq!(
        (o["total"].as_i64(), o["blocked"].as_i64(), o["flagged"].as_i64()),
        (Some(8), Some(3), Some(1)),
        "{o:#}"
    );
    assert_eq!(audit_count(&app, "FRAUD_PROTECTION_DECISION_RECORDED").await, 8);
    assert_eq!(audit_count(&app, "SMS_SENT").await, 5);
}

#[tokio::test]
async fn disabled_records_nothing() {
    let sms = SmsSink::start().await;
    let app = app_with(&sms, |c| {
        c.fraud_protection.enabled = false;
        c.fraud_protection.decision.action = FraudProtectionAction::DenyIfAnyWarning;
    })
    .await;
    for i in 1..=5 {
        let (_, s, _) = ask(&app, &format!("+659123000{i}")).await;
        assert_eq!(s, 200);
    }
    assert_eq!(sms.all().len(), 5);
    assert_eq!(total(&app, "").await, 0);
}
