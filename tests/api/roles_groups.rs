//! Roles, groups, the 18 mutations and the effective-role filters.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn keys(app: &TestApp, user: &str, field: &str) -> Vec<String> {
    let q =
        format!("query($id: ID!) {{ node(id: $id) {{ ... on User {{ {field} {{ edges {{ node {{ key }} }} }} }} }} }}");
    let d = app.ok(&q, json!({"id": user})).await;
    d["node"][field]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn role_and_group_crud() {
    let app = spawn_app().await;
    let d = app.ok("mutation { createRole(input: {key: \"editor\", name: \"Editor\", description: \"Edits\"}) { role { id key name description } } }", json!({})).await;
    let role = d["createRole"]["role"].clone();
    assert_eq!(role["name"], "Editor");
    app.err(
        "mutation { createRole(input: {key: \"editor\"}) { role { id } } }",
        json!({}),
        "CONFLICT",
        Some("RoleDuplicateKey"),
    )
    .await;
    for bad in ["1abc", "has-dash", "", "authgear:x"] {
        app.err(
            "mutation($k: String!) { createRole(input: {key: $k}) { role { id } } }",
            json!({"k": bad}),
            "BAD_USER_INPUT",
            None,
        )
        .await;
    }
    let upd = "mutation($id: ID!, $k: String, $n: String, $d: String) { updateRole(input: {id: $id, key: $k, name: $n, description: $d}) { role { key name description } } }";
    let d = app.ok(upd, json!({"id": role["id"], "n": "Writer"})).await;
    assert_eq!(d["updateRole"]["role"], json!({"key": "editor", "name": "Writer", "description": "Edits"}));
    let d = app.ok(upd, json!({"id": role["id"], "k": "writer", "d": ""})).await;
    assert_eq!(d["updateRole"]["role"], json!({"key": "writer", "name": "Writer", "description": null}));
    app.ok("mutation { createRole(input: {key: \"other\"}) { role { id } } }", json!({})).await;
    app.err(upd, json!({"id": role["id"], "k": "other"}), "CONFLICT", Some("RoleDuplicateKey")).await;

    let g = app
        .ok("mutation { createGroup(input: {key: \"staff\", name: \"Staff\"}) { group { id key } } }", json!({}))
        .await;
    let gid = g["createGroup"]["group"]["id"].clone();
    app.err(
        "mutation { createGroup(input: {key: \"staff\"}) { group { id } } }",
        json!({}),
        "CONFLICT",
        Some("GroupDuplicateKey"),
    )
    .await;
    let d = app.ok("mutation($id: ID!) { updateGroup(input: {id: $id, description: \"All staff\"}) { group { key description } } }", json!({"id": gid})).await;
    assert_eq!(d["updateGroup"]["group"]["description"], "All staff");

    let d = app.ok("{ roles(searchKeyword: \"WRI\") { totalCount edges { node { key } } } }", json!({})).await;
    assert_eq!(d["roles"]["totalCount"], 1);
    let d = app
        .ok("query($ex: [ID!]) { roles(excludedIDs: $ex) { edges { node { key } } } }", json!({"ex": [role["id"]]}))
        .await;
    assert_eq!(d["roles"]["edges"], json!([{"node": {"key": "other"}}]));
    app.err(
        "query($ex: [ID!]) { roles(excludedIDs: $ex) { totalCount } }",
        json!({"ex": [gid]}),
        "BAD_USER_INPUT",
        Some("InvalidID"),
    )
    .await;
    let d = app.ok("{ groups(searchKeyword: \"sta\") { totalCount } }", json!({})).await;
    assert_eq!(d["groups"]["totalCount"], 1);

    assert_eq!(
        app.ok("mutation($id: ID!) { deleteRole(input: {id: $id}) { ok } }", json!({"id": role["id"]})).await["deleteRole"]
            ["ok"],
        true
    );
    app.err(
        "mutation($id: ID!) { deleteRole(input: {id: $id}) { ok } }",
        json!({"id": role["id"]}),
        "NOT_FOUND",
        Some("RoleNotFound"),
    )
    .await;
    assert_eq!(
        app.ok("mutation($id: ID!) { deleteGroup(input: {id: $id}) { ok } }", json!({"id": gid})).await["deleteGroup"]
            ["ok"],
        true
    );
}

#[tokio::test]
async fn links_effective_roles_and_filters() {
    let app = spawn_app().await;
    let u1 = app.create_user("u1@example.com", None).await;
    let u2 = app.create_user("u2@example.com", None).await;
    let u3 = app.create_user("u3@example.com", None).await;
    for k in ["admin", "viewer", "billing"] {
        app.ok("mutation($k: String!) { createRole(input: {key: $k}) { role { id } } }", json!({"k": k})).await;
    }
    for k in ["ops", "finance"] {
        app.ok("mutation($k: String!) { createGroup(input: {key: $k}) { group { id } } }", json!({"k": k})).await;
    }
    let m = |q: &'static str, v: Value| {
        let app = &app;
        async move { app.ok(q, v).await }
    };
    m(
        "mutation($u: [ID!]!) { addRoleToUsers(input: {roleKey: \"admin\", userIDs: $u}) { role { key } } }",
        json!({"u": [u1, u2]}),
    )
    .await;
    m("mutation { addRoleToGroups(input: {roleKey: \"viewer\", groupKeys: [\"ops\"]}) { role { key } } }", json!({}))
        .await;
    m(
        "mutation($u: [ID!]!) { addGroupToUsers(input: {groupKey: \"ops\", userIDs: $u}) { group { key } } }",
        json!({"u": [u2, u3]}),
    )
    .await;
    m(
        "mutation { addGroupToRoles(input: {groupKey: \"finance\", roleKeys: [\"billing\"]}) { group { key } } }",
        json!({}),
    )
    .await;
    m(
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"viewer\"]}) { user { id } } }",
        json!({"u": u1}),
    )
    .await;
    m(
        "mutation($u: ID!) { addUserToGroups(input: {userID: $u, groupKeys: [\"finance\"]}) { user { id } } }",
        json!({"u": u3}),
    )
    .await;
    // Adding twice is harmless.
    m(
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"viewer\"]}) { user { id } } }",
        json!({"u": u1}),
    )
    .await;

    assert_eq!(keys(&app, &u1, "roles").await, ["admin", "viewer"]);
    assert_eq!(keys(&app, &u2, "effectiveRoles").await, ["admin", "viewer"]);
    assert_eq!(keys(&app, &u3, "effectiveRoles").await, ["billing", "viewer"]);
    assert_eq!(keys(&app, &u3, "groups").await, ["finance", "ops"]);

    let filter = "query($r: [String!], $g: [String!]) { users(roleKeys: $r, groupKeys: $g) { totalCount } }";
    let count = |r: Value, g: Value| {
        let app = &app;
        async move { app.ok(filter, json!({"r": r, "g": g})).await["users"]["totalCount"].as_i64().unwrap() }
    };
    assert_eq!(count(json!(["viewer"]), Value::Null).await, 3, "direct or through a group");
    assert_eq!(count(json!(["admin", "viewer"]), Value::Null).await, 2, "all keys required");
    assert_eq!(count(json!(["billing"]), Value::Null).await, 1);
    assert_eq!(count(Value::Null, json!(["ops"])).await, 2);
    assert_eq!(count(Value::Null, json!(["ops", "finance"])).await, 1);
    assert_eq!(count(json!(["admin"]), json!(["ops"])).await, 1);
    assert_eq!(count(json!(["nope"]), Value::Null).await, 0);

    let d = app.ok("{ roles(searchKeyword: \"admin\") { edges { node { users { totalCount edges { node { id } } } groups { totalCount } } } } }", json!({})).await;
    assert_eq!(d["roles"]["edges"][0]["node"]["users"]["totalCount"], 2);
    let d = app.ok("{ groups(searchKeyword: \"ops\") { edges { node { users { totalCount } roles { edges { node { key } } } } } } }", json!({})).await;
    assert_eq!(d["groups"]["edges"][0]["node"]["users"]["totalCount"], 2);
    assert_eq!(d["groups"]["edges"][0]["node"]["roles"]["edges"], json!([{"node": {"key": "viewer"}}]));
    let d = app
        .ok("{ roles(searchKeyword: \"viewer\") { edges { node { groups { edges { node { key } } } } } } }", json!({}))
        .await;
    assert_eq!(d["roles"]["edges"][0]["node"]["groups"]["edges"], json!([{"node": {"key": "ops"}}]));

    // Unknown keys and users fail and change nothing.
    app.err(
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"viewer\", \"ghost\"]}) { user { id } } }",
        json!({"u": u2}),
        "NOT_FOUND",
        Some("RoleNotFound"),
    )
    .await;
    let ghost = authgraph::graphql::node::encode(authgraph::domain::ids::UserId::generate()).0;
    app.err(
        "mutation($u: [ID!]!) { addRoleToUsers(input: {roleKey: \"billing\", userIDs: $u}) { role { key } } }",
        json!({"u": [u2, ghost]}),
        "NOT_FOUND",
        Some("UserNotFound"),
    )
    .await;
    assert_eq!(count(json!(["billing"]), Value::Null).await, 1);

    // The remove mutations undo each link.
    m(
        "mutation($u: [ID!]!) { removeRoleFromUsers(input: {roleKey: \"admin\", userIDs: $u}) { role { key } } }",
        json!({"u": [u2]}),
    )
    .await;
    m(
        "mutation { removeRoleFromGroups(input: {roleKey: \"viewer\", groupKeys: [\"ops\"]}) { role { key } } }",
        json!({}),
    )
    .await;
    m(
        "mutation($u: [ID!]!) { removeGroupFromUsers(input: {groupKey: \"ops\", userIDs: $u}) { group { key } } }",
        json!({"u": [u3]}),
    )
    .await;
    m(
        "mutation { removeGroupFromRoles(input: {groupKey: \"finance\", roleKeys: [\"billing\"]}) { group { key } } }",
        json!({}),
    )
    .await;
    m(
        "mutation($u: ID!) { removeUserFromRoles(input: {userID: $u, roleKeys: [\"viewer\"]}) { user { id } } }",
        json!({"u": u1}),
    )
    .await;
    m(
        "mutation($u: ID!) { removeUserFromGroups(input: {userID: $u, groupKeys: [\"finance\"]}) { user { id } } }",
        json!({"u": u3}),
    )
    .await;
    assert_eq!(keys(&app, &u1, "effectiveRoles").await, ["admin"]);
    assert!(keys(&app, &u2, "effectiveRoles").await.is_empty());
    assert!(keys(&app, &u3, "effectiveRoles").await.is_empty());
    assert_eq!(keys(&app, &u2, "groups").await, ["ops"]);

    // Deleting a role removes its links.
    let admin = app.ok("{ roles(searchKeyword: \"admin\") { edges { node { id } } } }", json!({})).await["roles"]["edges"][0]["node"]["id"].clone();
    app.ok("mutation($id: ID!) { deleteRole(input: {id: $id}) { ok } }", json!({"id": admin})).await;
    assert!(keys(&app, &u1, "roles").await.is_empty());
}
