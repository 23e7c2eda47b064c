//! Global IDs, `node` and `nodes`.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn node_and_nodes_resolve_every_type() {
    let app = spawn_app().await;
    let user = app.create_user("jo@example.com", None).await;
    let role = app.ok("mutation { createRole(input: {key: \"r\"}) { role { id } } }", json!({})).await["createRole"]["role"]["id"].clone();
    let group = app.ok("mutation { createGroup(input: {key: \"g\"}) { group { id } } }", json!({})).await["createGroup"]["group"]["id"].clone();
    let ident = app
        .ok("query($id: ID!) { node(id: $id) { ... on User { loginIDs { id } } } }", json!({"id": user}))
        .await["node"]["loginIDs"][0]["id"]
        .clone();
    let log = app.ok("{ auditLogs(first: 1) { edges { node { id } } } }", json!({})).await["auditLogs"]["edges"][0]["node"]["id"].clone();

    // Global IDs are base64url (no padding) of "Type:uuid".
    let raw = String::from_utf8(base64_decode(user.as_str())).unwrap();
    assert!(raw.starts_with("User:"), "{raw}");

    let unknown = authgraph::graphql::node::encode(authgraph::domain::ids::UserId::generate()).0;
    let d = app
        .ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({"ids": [user, role, group, ident, log, unknown]}),
        )
        .await;
    let types: Vec<Value> =
        d["nodes"].as_array().unwrap().iter().map(|n| n.get("__typename").cloned().unwrap_or(Value::Null)).collect();
    assert_eq!(
        types,
        vec![json!("User"), json!("Role"), json!("Group"), json!("Identity"), json!("AuditLog"), Value::Null]
    );
    assert_eq!(d["nodes"][0]["id"], user);

    app.err("{ node(id: \"%%%\") { id } }", json!({}), "BAD_USER_INPUT", Some("InvalidID")).await;
    let reader = app.token(&["user:read"]);
    let res = app.gql_as(&reader, "query($id: ID!) { node(id: $id) { id } }", json!({"id": role})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN");
    // A mistyped ID in a mutation input is bad input.
    app.err(
        "mutation($id: ID!) { deleteUser(input: {userID: $id}) { deletedUserID } }",
        json!({"id": role}),
        "BAD_USER_INPUT",
        Some("InvalidID"),
    )
    .await;
}

fn base64_decode(s: &str) -> Vec<u8> {
    authgraph::crypto::b64_decode(s).expect("base64url without padding")
}
