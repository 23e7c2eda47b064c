//! Consent for third-party applications: asked once, remembered, withdrawn through the
//! Admin API, and never carried from one user to another.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::login_helpers::{CB, PW, start};
use crate::rp::{Browser, hidden, param, register, relying_party};

/// Third-party applications ask for consent once; first-party ones never do.
#[tokio::test]
async fn consent_for_third_party_applications() {
    let app = spawn_app().await;
    let user = app.create_user("ivy@example.com", Some(PW)).await;
    let (id, secret) = register(&app, "THIRD_PARTY_APP", CB).await;
    let rp = relying_party(&app, &id, secret.as_deref(), CB).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["email"], &[]);
    let (_, page) = browser.open(&f.url).await.page();
    let (s, consent) = browser.login(&page, "ivy@example.com", PW).await.page();
    assert_eq!(s, 200);
    assert!(consent.contains("See your email address"), "{consent}");
    let denied = browser
        .submit(
            "/consent",
            &[("csrf", &hidden(&consent, "csrf")), ("flow", &hidden(&consent, "flow")), ("action", "deny")],
        )
        .await
        .redirect();
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    let f = start(&rp, &["email"], &[("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("consent_required"));
    let f = start(&rp, &["email"], &[]);
    let (_, consent) = browser.open(&f.url).await.page();
    let cb = browser
        .submit(
            "/consent",
            &[("csrf", &hidden(&consent, "csrf")), ("flow", &hidden(&consent, "flow")), ("action", "allow")],
        )
        .await
        .redirect();
    assert!(param(&cb, "code").is_some());
    let f = start(&rp, &["email"], &[("prompt", "none")]);
    assert!(param(&browser.open(&f.url).await.redirect(), "code").is_some(), "consent is remembered");
    let f = start(&rp, &["email"], &[("prompt", "consent")]);
    let (s, page) = browser.open(&f.url).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("wants to access your account"), "prompt=consent asks again: {page}");
    let f = start(&rp, &["openid", "https://authgear.com/scopes/full-access"], &[]);
    assert_eq!(
        param(&browser.open(&f.url).await.redirect(), "error").as_deref(),
        Some("invalid_scope"),
        "full-access is first-party only"
    );
    // The Admin API lists the consent and can withdraw it.
    let d = app.ok("query($u: ID!) { node(id: $u) { ... on User { authorizations { edges { node { id clientID scopes } } } } } }", json!({"u": user})).await;
    let consent = &d["node"]["authorizations"]["edges"][0]["node"];
    assert_eq!(consent["clientID"], id.as_str());
    assert_eq!(consent["scopes"], json!(["openid", "email"]));
    let d = app
        .ok("query($a: ID!) { node(id: $a) { ... on Authorization { clientID } } }", json!({"a": consent["id"]}))
        .await;
    assert_eq!(d["node"]["clientID"], id.as_str());
    app.ok("mutation($a: ID!) { deleteAuthorization(input: {authorizationID: $a}) { user { authorizations { totalCount } } } }", json!({"a": consent["id"]})).await;
    let f = start(&rp, &["email"], &[("prompt", "none")]);
    assert_eq!(param(&browser.open(&f.url).await.redirect(), "error").as_deref(), Some("consent_required"));
    app.err(
        "mutation($a: ID!) { deleteAuthorization(input: {authorizationID: $a}) { user { id } } }",
        json!({"a": consent["id"]}),
        "NOT_FOUND",
        None,
    )
    .await;
}

/// A sealed request cannot carry one user's consent or account choice to another browser:
/// the victim still sees the consent page.
#[tokio::test]
async fn consent_cannot_be_carried_to_another_user() {
    let app = spawn_app().await;
    app.create_user("mallory@example.com", Some(PW)).await;
    app.create_user("victim@example.com", Some(PW)).await;
    let (id, secret) = register(&app, "THIRD_PARTY_APP", CB).await;
    let rp = relying_party(&app, &id, secret.as_deref(), CB).await;
    let attacker = Browser::new(&app);
    let f = start(&rp, &["email"], &[]);
    let (_, consent) = attacker.open(&f.url).await.page();
    attacker.login(&consent, "mallory@example.com", PW).await.page();
    let f = start(&rp, &["email"], &[("prompt", "select_account")]);
    let res = attacker.client.get(&f.url).send().await.unwrap();
    let select = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(select.starts_with("/select_account?flow="), "{select}");
    let flow = param(&format!("http://x{select}"), "flow").unwrap();
    let (_, page) = attacker
        .open(&format!("/consent?flow={}", url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()))
        .await
        .page();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", hidden(&page, "csrf").as_str()), ("flow", &hidden(&page, "flow")), ("action", "allow")])
        .finish();
    let res = attacker
        .client
        .post(format!("{}/consent", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let carried = res.headers()["location"].to_str().unwrap().to_owned();
    let carried_flow = param(&format!("http://x{carried}"), "flow").unwrap();

    let victim = Browser::new(&app);
    let (_, login) = victim.open("/login").await.page();
    victim.login(&login, "victim@example.com", PW).await.page();
    let resume = format!(
        "/oauth2/authorize/resume?flow={}",
        url::form_urlencoded::byte_serialize(carried_flow.as_bytes()).collect::<String>()
    );
    // The victim logged in after the request was made, so no account choice is asked;
    // the attacker's consent does not count for the victim.
    let (s, page) = victim.open(&resume).await.page();
    assert_eq!(s, 200);
    assert!(page.contains("wants to access your account"), "the victim is asked for consent: {page}");
    assert!(page.contains("victim@example.com"));
}
