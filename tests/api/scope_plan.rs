//! Scopes are decided for the whole operation before anything runs: a refused operation
//! changes nothing and audits nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn forbidden(res: &Value, scope: &str) {
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    assert!(res["errors"][0]["message"].as_str().unwrap_or_default().contains(scope), "{res}");
    assert!(res["data"].is_null(), "a refused operation returns no data: {res}");
}

async fn post_gql(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.client.post(app.endpoint()).bearer_auth(token).json(&body).send().await.unwrap();
    res.json().await.unwrap()
}

async fn role_keys(app: &TestApp, user: &str) -> Vec<String> {
    let data = app
        .ok("query($u: ID!) { node(id: $u) { ... on User { roles { edges { node { key } } } } } }", json!({"u": user}))
        .await;
    data["node"]["roles"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_mutation_whose_payload_is_not_allowed_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("plan@example.com", None).await;
    app.ok("mutation { createRole(input: {key: \"w\"}) { role { id } } createGroup(input: {key: \"g\"}) { group { id } } }", json!({}))
        .await;
    let role_writer = app.token(&["role:write"]);
    let before = app.audit_count().await;

    // The payload asks for the user, directly, through a named fragment, through an
    // inline fragment, and under an alias: each is refused whole.
    for query in [
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { user { standardAttributes } } }",
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { ...P } } fragment P on AddUserToRolesPayload { user { lastLoginAt } }",
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { ... on AddUserToRolesPayload { user { sessions { totalCount } } } } }",
        "mutation($u: ID!) { x: addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { u: user { createdAt } } }",
        "mutation($u: ID!) { removeUserFromRoles(input: {userID: $u, roleKeys: [\"w\"]}) { user { standardAttributes } } }",
    ] {
        let res = app.gql_as(&role_writer, query, json!({"u": user})).await;
        forbidden(&res, "user:read");
    }
    assert!(role_keys(&app, &user).await.is_empty(), "no role was assigned");
    assert_eq!(app.audit_count().await, before, "nothing was audited");

    // A second mutation in the same document that needs another scope stops the first.
    let res = app
        .gql_as(
            &role_writer,
            "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { user { id } } addUserToGroups(input: {userID: $u, groupKeys: [\"g\"]}) { user { id } } }",
            json!({"u": user}),
        )
        .await;
    forbidden(&res, "group:write");
    assert!(role_keys(&app, &user).await.is_empty());
    assert_eq!(app.audit_count().await, before);

    // Asking only for the ID runs it.
    let res = app
        .gql_as(
            &role_writer,
            "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { user { id } } }",
            json!({"u": user}),
        )
        .await;
    assert!(res.get("errors").is_none(), "{res}");
    assert_eq!(res["data"]["addUserToRoles"]["user"]["id"], user);
    assert_eq!(role_keys(&app, &user).await, vec!["w".to_owned()]);
    assert_eq!(app.audit_count().await, before + 1);
}

#[tokio::test]
async fn write_scopes_do_not_read_personal_data_through_payloads() {
    let app = spawn_app().await;
    let user = app.create_user("quiet@example.com", None).await;
    let user_writer = app.token(&["user:write"]);
    let before = app.audit_count().await;
    for selection in [
        "standardAttributes",
        "lastLoginAt",
        "sessions { edges { node { lastAccessedByIP } } }",
        "identities { claims }",
    ] {
        let query = format!("mutation($u: ID!) {{ updateUser(input: {{userID: $u}}) {{ user {{ {selection} }} }} }}");
        let res = app.gql_as(&user_writer, &query, json!({"u": user})).await;
        forbidden(&res, "user:read");
    }
    assert_eq!(app.audit_count().await, before);
    // The same mutation with the ID only is allowed, and with user:read too, everything.
    let res = app
        .gql_as(
            &user_writer,
            "mutation($u: ID!) { updateUser(input: {userID: $u}) { user { id } } }",
            json!({"u": user}),
        )
        .await;
    assert!(res.get("errors").is_none(), "{res}");
    let both = app.token(&["user:write", "user:read"]);
    let res = app
        .gql_as(
            &both,
            "mutation($u: ID!) { updateUser(input: {userID: $u}) { user { standardAttributes } } }",
            json!({"u": user}),
        )
        .await;
    assert_eq!(res["data"]["updateUser"]["user"]["standardAttributes"]["email"], "quiet@example.com", "{res}");
}

#[tokio::test]
async fn reads_need_every_area_they_touch() {
    let app = spawn_app().await;
    app.ok("mutation { createRole(input: {key: \"r\"}) { role { id } } }", json!({})).await;
    let role_reader = app.token(&["role:read"]);
    // Counting a role's users reveals users: needs user:read even without user fields.
    let res = app.gql_as(&role_reader, "{ roles { edges { node { key users { totalCount } } } } }", json!({})).await;
    forbidden(&res, "user:read");
    let res = app.gql_as(&role_reader, "{ roles { edges { node { key } } } }", json!({})).await;
    assert_eq!(res["data"]["roles"]["edges"][0]["node"]["key"], "r", "{res}");
    // A selection that reaches audit logs through a fragment needs audit-log:read.
    let res = app
        .gql_as(
            &role_reader,
            "{ roles { totalCount } ...A } fragment A on Query { auditLogs { totalCount } }",
            json!({}),
        )
        .await;
    forbidden(&res, "audit-log:read");
    // Introspection needs no scope.
    let res = app.gql_as(&role_reader, "{ __typename __schema { queryType { name } } }", json!({})).await;
    assert_eq!(res["data"]["__schema"]["queryType"]["name"], "Query", "{res}");
    // Only the operation that runs is checked.
    let res = post_gql(
        &app,
        &role_reader,
        json!({"query": "query A { roles { totalCount } } query B { users { totalCount } }", "operationName": "A"}),
    )
    .await;
    assert_eq!(res["data"]["roles"]["totalCount"], 1, "{res}");
    let res = post_gql(
        &app,
        &role_reader,
        json!({"query": "query A { roles { totalCount } } query B { users { totalCount } }", "operationName": "B"}),
    )
    .await;
    forbidden(&res, "user:read");
}

#[test]
fn every_root_field_but_node_declares_its_scopes() {
    let mut unscoped = authgraph::graphql::unscoped_root_fields();
    unscoped.sort();
    assert_eq!(unscoped, vec!["Query.node".to_owned(), "Query.nodes".to_owned()]);
}
