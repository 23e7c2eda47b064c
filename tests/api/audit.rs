//! The audit log: one entry per mutation, written with the change, and its filters.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::rp::Browser;

#[tokio::test]
async fn mutations_are_audited_with_actor_and_filters_work() {
    let app = spawn_app().await;
    let u1 = app.create_user("audit1@example.com", None).await;
    let u2 = app.create_user("audit2@example.com", None).await;
    app.ok("mutation($id: ID!) { updateUser(input: {userID: $id, standardAttributes: {nickname: \"A\"}}) { user { id } } }", json!({"id": u1})).await;
    app.ok("mutation { createRole(input: {key: \"auditor\"}) { role { id } } }", json!({})).await;

    let all = app.ok("{ auditLogs { totalCount edges { node { activityType createdAt user { id } data ipAddress clientID } } } }", json!({})).await;
    // Each createUser is also `user.created`, the updateUser also `user.profile.updated`.
    assert_eq!(all["auditLogs"]["totalCount"], 7);
    let first = &all["auditLogs"]["edges"][0]["node"];
    assert_eq!(first["activityType"], "ADMIN_API_MUTATION_CREATE_ROLE_EXECUTED", "newest first");
    assert_eq!(first["data"]["context"]["actor"], "test-admin");
    assert_eq!(first["ipAddress"], "127.0.0.1");
    let edges = all["auditLogs"]["edges"].as_array().unwrap();
    let update =
        &edges.iter().find(|e| e["node"]["activityType"] == "ADMIN_API_MUTATION_UPDATE_USER_EXECUTED").unwrap()["node"];
    assert_eq!(update["user"]["id"], u1);
    assert_eq!(update["data"]["payload"]["user"]["standard_attributes"]["nickname"], "A");

    let q = "query($t: [AuditLogActivityType!], $u: [ID!], $e: [String!], $d: SortDirection, $from: DateTime, $to: DateTime) { auditLogs(activityTypes: $t, userIDs: $u, emailAddresses: $e, sortDirection: $d, rangeFrom: $from, rangeTo: $to) { totalCount edges { node { activityType user { id } } } } }";
    let d = app.ok(q, json!({"t": ["ADMIN_API_MUTATION_CREATE_USER_EXECUTED"]})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 2);
    let d = app.ok(q, json!({"u": [u1]})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 4);
    let d = app.ok(q, json!({"e": ["AUDIT2@example.com"]})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 2);
    assert_eq!(d["auditLogs"]["edges"][0]["node"]["user"]["id"], u2);
    let d = app.ok(q, json!({"u": [u1], "e": ["audit2@example.com"]})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 6, "user and email filters are OR-ed");
    let d = app.ok(q, json!({"d": "ASC"})).await;
    assert_eq!(d["auditLogs"]["edges"][0]["node"]["activityType"], "ADMIN_API_MUTATION_CREATE_USER_EXECUTED");
    let d = app.ok(q, json!({"from": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 0);
    let d = app.ok(q, json!({"to": "2999-01-01T00:00:00Z", "from": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 7);

    // Deleting a user keeps their audit trail.
    app.ok("mutation($id: ID!) { deleteUser(input: {userID: $id}) { deletedUserID } }", json!({"id": u1})).await;
    let d = app.ok(q, json!({"u": [u1]})).await;
    assert_eq!(d["auditLogs"]["totalCount"], 6, "and `user.deleted`");
    assert!(d["auditLogs"]["edges"][0]["node"]["user"].is_null());
}

#[tokio::test]
async fn link_mutations_without_users_are_still_audited_and_times_are_text() {
    let app = spawn_app().await;
    app.ok("mutation { createRole(input: {key: \"empty\"}) { role { id } } }", json!({})).await;
    let before = app.audit_count().await;
    app.ok("mutation { addRoleToUsers(input: {roleKey: \"empty\", userIDs: []}) { role { id } } }", json!({})).await;
    assert_eq!(app.audit_count().await, before + 1);

    let id = app.create_user("times@example.com", None).await;
    app.ok("mutation($id: ID!) { setAccountValidUntil(input: {userID: $id, accountValidUntil: \"2999-01-01T00:00:00Z\"}) { user { id } } }", json!({"id": id})).await;
    let d = app.ok("{ auditLogs(first: 1) { edges { node { data } } } }", json!({})).await;
    assert_eq!(
        d["auditLogs"]["edges"][0]["node"]["data"]["payload"]["user"]["account_valid_until"],
        "2999-01-01T00:00:00Z"
    );
}

#[tokio::test]
async fn user_supplied_strings_are_bounded_in_the_audit_log() {
    let app = spawn_app().await;
    let agent = format!("agent-{}", "u".repeat(20_000));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(agent)
        .build()
        .unwrap();
    let browser = Browser { client, base: app.url.clone() };
    let (_, login) = browser.open("/login").await.page();
    let huge = format!("{}@example.com", "é".repeat(150_000));
    let (s, _) = browser.login(&login, &huge, "wrong password").await.page();
    assert_eq!(s, 401);
    let d = app
        .ok(
            "{ auditLogs(activityTypes: [AUTHENTICATION_IDENTITY_LOGIN_ID_FAILED]) { edges { node { userAgent data } } } }",
            json!({}),
        )
        .await;
    let node = &d["auditLogs"]["edges"][0]["node"];
    let login_id = node["data"]["payload"]["login_id"].as_str().unwrap();
    assert!(login_id.chars().count() < 300, "bounded: {} characters", login_id.chars().count());
    assert!(login_id.starts_with("éé") && login_id.ends_with("[truncated]"), "{login_id}");
    let agent = node["userAgent"].as_str().unwrap();
    assert!(agent.len() < 600 && agent.starts_with("agent-uu") && agent.ends_with("[truncated]"), "{agent}");
    assert_eq!(node["data"]["context"]["user_agent"], agent);
}
