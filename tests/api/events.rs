//! The event catalogue: each Admin API mutation and sign-in flow records Authgear's
//! lifecycle events (type, `context.triggered_by`, payload keys) in its transaction, and a
//! handler subscribed to `*` receives the `ForHook` ones and not the audit-only ones.

use std::time::Duration;

use authgraph::config::{NonBlockingHandler, Secret};
use openidconnect::{AuthorizationCode, TokenResponse};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::login_helpers::{PW, spa, start};
use crate::rp::{Browser, http_client, param};
use crate::webhook_receiver::{Mode, Receiver};

/// `user.profile.updated` -> `USER_PROFILE_UPDATED`.
fn enum_name(event_type: &str) -> String {
    event_type.replace('.', "_").to_uppercase()
}

/// The `data` of every audit row of `event_type`, oldest first.
async fn events(app: &TestApp, event_type: &str) -> Vec<Value> {
    let q = format!(
        "{{ auditLogs(activityTypes: [{}], sortDirection: ASC) {{ edges {{ node {{ activityType data }} }} }} }}",
        enum_name(event_type)
    );
    let d = app.ok(&q, json!({})).await;
    d["auditLogs"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["data"].clone()).collect()
}

/// The one event of `event_type`, checked for its type, trigger and payload keys.
async fn one(app: &TestApp, event_type: &str, triggered_by: &str, keys: &[&str]) -> Value {
    let all = events(app, event_type).await;
    assert_eq!(all.len(), 1, "one {event_type}: {all:#?}");
    let e = all[0].clone();
    assert_eq!(e["type"], event_type);
    assert_eq!(e["context"]["triggered_by"], triggered_by, "{event_type}: {e:#}");
    for k in keys {
        assert!(e["payload"].get(*k).is_some_and(|v| !v.is_null()), "{event_type} has payload.{k}: {e:#}");
    }
    e
}

#[tokio::test]
async fn admin_api_mutations_record_the_lifecycle_events_beside_their_own() {
    let app = spawn_app().await;
    let user = app.create_user("life@example.com", None).await;
    one(&app, "user.created", "admin_api", &["user"]).await;

    app.ok(
        "mutation($u: ID!) { updateUser(input: {userID: $u, standardAttributes: {email: \"life@example.com\", name: \"Life\"}}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    let e = one(&app, "user.profile.updated", "admin_api", &["user"]).await;
    assert_eq!(e["payload"]["user"]["standard_attributes"]["name"], "Life");

    let disable =
        "mutation($u: ID!, $d: Boolean!) { setDisabledStatus(input: {userID: $u, isDisabled: $d}) { user { id } } }";
    app.ok(disable, json!({"u": user, "d": true})).await;
    let e = one(&app, "user.disabled", "admin_api", &["user"]).await;
    assert_eq!(e["payload"]["user"]["is_disabled"], true);
    app.ok(disable, json!({"u": user, "d": false})).await;
    one(&app, "user.reenabled", "admin_api", &["user"]).await;

    let d = app
        .ok(
            "mutation($u: ID!) { createIdentity(input: {userID: $u, definition: {loginID: {key: \"email\", value: \"second@example.com\"}}}) { identity { id } } }",
            json!({"u": user}),
        )
        .await;
    let ident = d["createIdentity"]["identity"]["id"].as_str().unwrap().to_owned();
    let e = one(&app, "identity.email.added", "admin_api", &["user", "identity"]).await;
    let i = &e["payload"]["identity"];
    for k in ["id", "created_at", "updated_at", "type", "user_id", "claims"] {
        assert!(i.get(k).is_some(), "Authgear's identity model has `{k}`: {i:#}");
    }
    assert_eq!(i["claims"]["email"], "second@example.com");

    app.ok(
        "mutation($u: ID!, $i: ID!) { updateIdentity(input: {userID: $u, identityID: $i, definition: {loginID: {key: \"email\", value: \"third@example.com\"}}}) { identity { id } } }",
        json!({"u": user, "i": ident}),
    )
    .await;
    let e = one(&app, "identity.email.updated", "admin_api", &["user", "old_identity", "new_identity"]).await;
    assert_eq!(e["payload"]["old_identity"]["claims"]["email"], "second@example.com");
    assert_eq!(e["payload"]["new_identity"]["claims"]["email"], "third@example.com");

    let verify = "mutation($u: ID!, $v: Boolean!) { setVerifiedStatus(input: {userID: $u, claimName: \"email\", claimValue: \"third@example.com\", isVerified: $v}) { user { id } } }";
    app.ok(verify, json!({"u": user, "v": true})).await;
    let e = one(&app, "identity.email.verified", "admin_api", &["user", "identity"]).await;
    assert_eq!(e["payload"]["identity"]["claims"]["email"], "third@example.com");
    app.ok(verify, json!({"u": user, "v": false})).await;
    one(&app, "identity.email.unverified", "admin_api", &["user", "identity"]).await;
    // Setting the same status again changes nothing and records no identity event.
    app.ok(verify, json!({"u": user, "v": false})).await;
    assert_eq!(events(&app, "identity.email.unverified").await.len(), 1);

    app.ok("mutation($i: ID!) { deleteIdentity(input: {identityID: $i}) { user { id } } }", json!({"i": ident})).await;
    let e = one(&app, "identity.email.removed", "admin_api", &["user", "identity"]).await;
    assert_eq!(e["payload"]["identity"]["claims"]["email"], "third@example.com");

    app.ok(
        "mutation($u: ID!) { createIdentity(input: {userID: $u, definition: {loginID: {key: \"username\", value: \"lifey\"}}}) { identity { id } } }",
        json!({"u": user}),
    )
    .await;
    one(&app, "identity.username.added", "admin_api", &["user", "identity"]).await;

    let client = app.create_spa("SPA").await;
    let create = "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }";
    app.ok(create, json!({"u": user, "c": client})).await;
    app.ok(create, json!({"u": user, "c": client})).await;
    let q = "query($u: ID!) { node(id: $u) { ... on User { sessions { edges { node { id } } } } } }";
    let s = app.ok(q, json!({"u": user})).await;
    let session = s["node"]["sessions"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
    app.ok("mutation($s: ID!) { revokeSession(input: {sessionID: $s}) { user { id } } }", json!({"s": session})).await;
    let e = one(&app, "user.session.terminated", "admin_api", &["user", "sessions", "termination_type"]).await;
    assert_eq!(e["payload"]["termination_type"], "individual");
    assert_eq!(e["payload"]["sessions"].as_array().unwrap().len(), 1);
    app.ok("mutation($u: ID!) { revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;
    let all = events(&app, "user.session.terminated").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["payload"]["termination_type"], "all");
    assert_eq!(all[1]["payload"]["sessions"].as_array().unwrap().len(), 1, "the one session still live");

    app.ok(
        "mutation($u: ID!) { deleteUser(input: {userID: $u, reason: \"test\"}) { deletedUserID } }",
        json!({"u": user}),
    )
    .await;
    let e = one(&app, "user.deleted", "admin_api", &["user"]).await;
    assert_eq!(e["payload"]["user"]["standard_attributes"]["email"], "life@example.com");
    // Each mutation's own row is still there.
    assert_eq!(events(&app, "admin_api.mutation.delete_user.executed").await.len(), 1);
}

#[tokio::test]
async fn a_sign_in_records_user_authenticated_with_user_and_session_and_logout_user_signed_out() {
    let app = spawn_app().await;
    app.create_user("signin@example.com", Some(PW)).await;
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let cb = browser.authorize_with_login(&f.url, "signin@example.com", PW).await;
    let e = one(&app, "user.authenticated", "user", &["user", "session"]).await;
    assert_eq!(e["payload"]["user"]["standard_attributes"]["email"], "signin@example.com");
    assert_eq!(e["payload"]["session"]["type"], "idp");
    assert!(e["payload"]["session"]["amr"].as_array().is_some_and(|a| a.iter().any(|m| m == "pwd")), "{e:#}");

    let http = http_client(reqwest::Client::new());
    let tokens = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap().to_string();
    browser.open(&format!("{}/oauth2/end_session?id_token_hint={id_token}", app.url)).await;
    let e = one(&app, "user.signed_out", "user", &["user", "sessions"]).await;
    assert!(!e["payload"]["sessions"].as_array().unwrap().is_empty(), "{e:#}");
}

#[tokio::test]
async fn the_activity_type_enum_holds_authgears_user_activity_types() {
    let app = spawn_app().await;
    let d = app.ok("{ __type(name: \"AuditLogActivityType\") { enumValues { name } } }", json!({})).await;
    let names: Vec<&str> =
        d["__type"]["enumValues"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    for want in [
        "USER_CREATED",
        "USER_DISABLED",
        "USER_REENABLED",
        "USER_DELETION_SCHEDULED",
        "USER_DELETION_UNSCHEDULED",
        "USER_ANONYMIZED",
        "USER_ANONYMIZATION_SCHEDULED",
        "USER_ANONYMIZATION_UNSCHEDULED",
        "USER_SESSION_TERMINATED",
        "USER_SIGNED_OUT",
        "IDENTITY_EMAIL_ADDED",
        "IDENTITY_PHONE_UNVERIFIED",
        "IDENTITY_USERNAME_UPDATED",
        "AUTHENTICATION_SECONDARY_PASSWORD_FAILED",
        "AUTHENTICATION_BLOCKED",
        "BOT_PROTECTION_VERIFICATION_FAILED",
        "RATE_LIMIT_BLOCKED",
        "EMAIL_SUPPRESSED",
        "SMS_SUPPRESSED",
        "WHATSAPP_SENT",
        "WHATSAPP_OTP_VERIFIED",
        "FRAUD_PROTECTION_DECISION_RECORDED",
        "M2M_TOKEN_CREATED",
        "USAGE_ALERT_TRIGGERED",
        "ADMIN_API_MUTATION_ANONYMIZE_USER_EXECUTED",
        "ADMIN_API_MUTATION_SCHEDULE_ACCOUNT_DELETION_EXECUTED",
        "ADMIN_API_MUTATION_ADD_RESOURCE_TO_CLIENTID_EXECUTED",
    ] {
        assert!(names.contains(&want), "AuditLogActivityType has {want}");
    }
}

#[tokio::test]
async fn a_star_handler_gets_the_hook_events_and_not_the_audit_only_ones() {
    let rx = Receiver::start(Mode::Up).await;
    let url = rx.url.clone();
    let app = spawn_with(move |c| {
        c.hook.webhook_secret = Some(Secret::new("star-secret"));
        c.hook.non_blocking_handlers = vec![NonBlockingHandler { events: vec!["*".into()], url }];
    })
    .await;
    let user = app.create_user("star@example.com", None).await;
    app.ok(
        "mutation($u: ID!) { updateUser(input: {userID: $u, standardAttributes: {email: \"star@example.com\", name: \"S\"}}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    app.ok(
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    app.ok(
        "mutation($u: ID!) { createIdentity(input: {userID: $u, definition: {loginID: {key: \"username\", value: \"starry\"}}}) { identity { id } } }",
        json!({"u": user}),
    )
    .await;
    app.ok("mutation($u: ID!) { revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;
    let want = ["user.created", "user.profile.updated", "user.disabled", "identity.username.added"];
    let got = rx
        .wait_for(Duration::from_secs(15), "the hook events", |r| {
            want.iter().all(|w| r.iter().any(|e| e.json["type"] == *w))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got_after = rx.received();
    assert_eq!(got_after.len(), got.len(), "nothing else arrives");
    let types: Vec<&str> = got.iter().map(|e| e.json["type"].as_str().unwrap()).collect();
    assert_eq!(types.len(), want.len(), "only the hook events: {types:?}");
    for e in &got {
        let t = e.json["type"].as_str().unwrap();
        assert!(!t.starts_with("admin_api."), "audit-only {t}");
        assert_ne!(t, "user.session.terminated", "audit-only");
        assert_eq!(e.json["context"]["triggered_by"], "admin_api");
        assert_eq!(e.json["payload"]["user"]["id"].as_str().map(str::len), Some(36), "{:#}", e.json);
    }
    // The audit log has both kinds.
    assert_eq!(events(&app, "user.session.terminated").await.len(), 1);
}
