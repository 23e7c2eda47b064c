//! `GET /metrics`: off by default, on a listener of its own, or on the main listener
//! behind a bearer token; the named series count what happened.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, param};

const TOKEN: &str = "metrics-scraper-secret-0123456789";

async fn scrape(app: &TestApp, url: String, bearer: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The value of the series whose line starts with `series` (name and labels as rendered).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

/// A password sign-in (one failure first) and a code exchange with a refresh token.
async fn sign_in_and_get_tokens(app: &TestApp) {
    app.create_user("mia@example.com", Some(PW)).await;
    let (rp, id) = spa(app).await;
    let browser = Browser::new(app);
    let f = start(&rp, &["offline_access"], &[]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s, _) = browser.login(&page, "mia@example.com", "wrong password").await.page();
    assert_eq!(s, 401);
    let cb = browser.login(&page, "mia@example.com", PW).await.redirect();
    let code = param(&cb, "code").unwrap();
    let (s, t) = app.exchange_code(&code, CB, &id, None, &[("code_verifier", f.verifier.secret())]).await;
    assert_eq!(s, 200, "{t}");
}

#[tokio::test]
async fn without_configuration_there_is_no_metrics_endpoint() {
    let app = spawn_app().await;
    let (s, _) = scrape(&app, format!("{}/metrics", app.url), None).await;
    assert_eq!(s, 404);
    let (s, _) = scrape(&app, format!("{}/metrics", app.url), Some(TOKEN)).await;
    assert_eq!(s, 404);
    assert!(app.metrics_addr.is_none());
}

#[tokio::test]
async fn a_bearer_token_opens_metrics_on_the_main_listener() {
    let app = spawn_with(|c| c.metrics.bearer_token = Some(authgraph::config::Secret::new(TOKEN))).await;
    sign_in_and_get_tokens(&app).await;
    let url = format!("{}/metrics", app.url);
    assert_eq!(scrape(&app, url.clone(), None).await.0, 401);
    assert_eq!(scrape(&app, url.clone(), Some("metrics-scraper-secret-wrong")).await.0, 401);
    let (s, text) = scrape(&app, url, Some(TOKEN)).await;
    assert_eq!(s, 200, "{text}");
    let token_requests =
        "authgraph_http_request_duration_seconds_count{method=\"POST\",route=\"/oauth2/token\",status=\"200\"}";
    assert_eq!(value(&text, token_requests), Some(1.0), "{text}");
    assert!(
        text.contains("authgraph_http_request_duration_seconds_bucket{method=\"POST\",route=\"/oauth2/token\",status=\"200\",le=\"0.5\"}"),
        "{text}"
    );
    // Routes are patterns, never raw paths with their query or IDs.
    assert!(!text.contains("route=\"/oauth2/authorize?"), "{text}");
    assert_eq!(
        value(&text, "authgraph_tokens_issued_total{grant=\"authorization_code\",alg=\"RS256\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "authgraph_sign_ins_total{method=\"pwd\"}"), Some(1.0), "{text}");
    assert_eq!(value(&text, "authgraph_sign_in_failures_total{step=\"primary.password\"}"), Some(1.0), "{text}");
    assert!(value(&text, "authgraph_cache_lookups_total{cache=\"applications\",result=\"hit\"}").unwrap() >= 1.0);
    assert_eq!(value(&text, "authgraph_argon2_queue_depth"), Some(0.0), "{text}");
    assert!(value(&text, "authgraph_db_pool_connections{state=\"idle\"}").is_some(), "{text}");
    assert!(value(&text, "authgraph_db_pool_max_connections").unwrap() >= 1.0, "{text}");
    assert_eq!(value(&text, "authgraph_webhook_outbox_backlog"), Some(0.0), "{text}");
    assert!(value(&text, "authgraph_audit_group_commit_batch_size_count").unwrap() >= 1.0, "{text}");
}

#[tokio::test]
async fn a_separate_listener_serves_metrics_without_a_token() {
    let app = spawn_with(|c| c.metrics.listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = app.metrics_addr.expect("the metrics listener is bound");
    // The main listener does not serve them.
    assert_eq!(scrape(&app, format!("{}/metrics", app.url), None).await.0, 404);
    let d = app
        .ok(
            "mutation { createApplication(input: {name: \"w\", type: M2M, accessTokenSigningAlgorithm: ES256}) { application { clientID } clientSecret } }",
            json!({}),
        )
        .await;
    let id = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    let admin = app.services.config().admin_resource_uri();
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"role:read\"]}) { scopes { scope } } }",
        json!({"u": admin, "c": id}),
    )
    .await;
    let (s, b) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("resource", &admin),
        ])
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, text) = scrape(&app, format!("http://{addr}/metrics"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        value(&text, "authgraph_tokens_issued_total{grant=\"client_credentials\",alg=\"ES256\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("route=\"/_api/admin/graphql\",status=\"200\""),
        "the Admin API requests are measured too: {text}"
    );
    assert_eq!(scrape(&app, format!("http://{addr}/other"), None).await.0, 404);
}
