//! The clean-up of abandoned anonymous users (`anonymous.delete_inactive_after_days`).

use serde_json::json;

use crate::device_key::{DeviceKey, challenge};
use crate::helpers::{TestApp, jwt_claims, spawn_with};
use crate::login_helpers::CB;
use crate::rp::register;

/// A new anonymous user of `client_id`; returns the user's global ID.
async fn anonymous_user(app: &TestApp, client_id: &str) -> String {
    let c = challenge(app, "anonymous_request").await;
    let (status, body) = app
        .token_request(&[
            ("grant_type", "urn:authgear:params:oauth:grant-type:anonymous-request"),
            ("client_id", client_id),
            ("jwt", &DeviceKey::es256().anonymous_jwt(&c)),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    let sub = jwt_claims(body["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned();
    authgraph::crypto::b64(format!("User:{sub}"))
}

/// Makes `user`'s last sign-in 40 days old and ends their sessions.
async fn abandon(app: &TestApp, user: &str) {
    let id: authgraph::domain::ids::UserId = {
        let raw = String::from_utf8(authgraph::crypto::b64_decode(user).unwrap()).unwrap();
        raw.trim_start_matches("User:").parse::<uuid::Uuid>().unwrap().into()
    };
    let old = time::OffsetDateTime::now_utc() - time::Duration::days(40);
    app.services.users().set_last_login_at(id, old).await.unwrap();
    app.ok("mutation($id: ID!) { revokeAllSessions(input: {userID: $id}) { user { id } } }", json!({"id": user})).await;
}

async fn exists(app: &TestApp, user: &str) -> bool {
    let d = app.ok("query($id: ID!) { node(id: $id) { id } }", json!({"id": user})).await;
    !d["node"].is_null()
}

#[tokio::test]
async fn abandoned_anonymous_users_are_deleted_and_others_stay() {
    let app = spawn_with(|c| {
        c.anonymous.enabled = true;
        c.anonymous.delete_inactive_after_days = 30;
    })
    .await;
    let (client_id, _) = register(&app, "NATIVE", CB).await;
    let gone = anonymous_user(&app, &client_id).await;
    let active = anonymous_user(&app, &client_id).await;
    let refreshing = anonymous_user(&app, &client_id).await;
    // Signed in today, sessions ended since (signed out): not abandoned either.
    let signed_out = anonymous_user(&app, &client_id).await;
    app.ok("mutation($id: ID!) { revokeAllSessions(input: {userID: $id}) { user { id } } }", json!({"id": signed_out}))
        .await;
    let person = app.create_user("real@example.com", None).await;
    abandon(&app, &gone).await;
    abandon(&app, &person).await;
    // An old sign-in, but a session still in use: not abandoned.
    let old = time::OffsetDateTime::now_utc() - time::Duration::days(40);
    let raw = String::from_utf8(authgraph::crypto::b64_decode(&refreshing).unwrap()).unwrap();
    let id: authgraph::domain::ids::UserId = raw.trim_start_matches("User:").parse::<uuid::Uuid>().unwrap().into();
    app.services.users().set_last_login_at(id, old).await.unwrap();

    app.services.maintenance().cleanup().await.unwrap();
    assert!(!exists(&app, &gone).await, "the abandoned anonymous user is deleted");
    assert!(exists(&app, &active).await);
    assert!(exists(&app, &refreshing).await, "a session in use keeps the user");
    assert!(exists(&app, &signed_out).await, "a recent sign-in keeps the user");
    assert!(exists(&app, &person).await, "only anonymous users are cleaned up");
    let d = app.ok("{ auditLogs(activityTypes: [USER_DELETED]) { totalCount } }", json!({})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 1);

    // Off by default: nothing is deleted.
    let off = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, _) = register(&off, "NATIVE", CB).await;
    let kept = anonymous_user(&off, &client_id).await;
    abandon(&off, &kept).await;
    off.services.maintenance().cleanup().await.unwrap();
    assert!(exists(&off, &kept).await);
}
