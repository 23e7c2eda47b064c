//! Identity mutations and how standard attributes follow login IDs.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn create_update_and_delete_identities() {
    let app = spawn_app().await;
    let id = app.create_user("gina@example.com", None).await;
    let create = "mutation($id: ID!, $k: String!, $v: String!, $p: String) { createIdentity(input: {userID: $id, definition: {loginID: {key: $k, value: $v}}, password: $p}) { identity { id type claims } user { standardAttributes loginIDs { id } authenticators { totalCount } } } }";
    let d = app.ok(create, json!({"id": id, "k": "username", "v": "Gina", "p": "long enough pw"})).await;
    let c = &d["createIdentity"];
    assert_eq!(c["identity"]["type"], "LOGIN_ID");
    assert_eq!(c["identity"]["claims"]["preferred_username"], "Gina");
    assert_eq!(c["identity"]["claims"]["https://authgear.com/claims/login_id/type"], "username");
    assert_eq!(c["user"]["standardAttributes"]["preferred_username"], "Gina");
    assert_eq!(c["user"]["loginIDs"].as_array().unwrap().len(), 2);
    assert_eq!(c["user"]["authenticators"]["totalCount"], 1, "password added because the user had none");
    let username_id = c["identity"]["id"].as_str().unwrap().to_owned();

    let other = app.create_user("hank@example.com", None).await;
    app.err(create, json!({"id": other, "k": "username", "v": "GINA"}), "CONFLICT", Some("DuplicatedIdentity")).await;
    app.err(create, json!({"id": other, "k": "email", "v": "nope"}), "BAD_USER_INPUT", Some("InvalidEmail")).await;

    let update = "mutation($u: ID!, $i: ID!, $k: String!, $v: String!) { updateIdentity(input: {userID: $u, identityID: $i, definition: {loginID: {key: $k, value: $v}}}) { identity { claims } user { standardAttributes } } }";
    let d = app.ok(update, json!({"u": id, "i": username_id, "k": "username", "v": "gina_k"})).await;
    assert_eq!(d["updateIdentity"]["user"]["standardAttributes"]["preferred_username"], "gina_k");
    app.err(
        update,
        json!({"u": id, "i": username_id, "k": "email", "v": "g@example.com"}),
        "BAD_USER_INPUT",
        Some("IdentityTypeMismatch"),
    )
    .await;
    app.err(
        update,
        json!({"u": other, "i": username_id, "k": "username", "v": "x1"}),
        "NOT_FOUND",
        Some("IdentityNotFound"),
    )
    .await;
    let hank_login =
        app.ok("query($id: ID!) { node(id: $id) { ... on User { loginIDs { id } } } }", json!({"id": other})).await;
    let hank_email = hank_login["node"]["loginIDs"][0]["id"].as_str().unwrap().to_owned();
    app.err(
        update,
        json!({"u": other, "i": hank_email, "k": "email", "v": "GINA@example.com"}),
        "CONFLICT",
        Some("DuplicatedIdentity"),
    )
    .await;

    let delete =
        "mutation($i: ID!) { deleteIdentity(input: {identityID: $i}) { user { standardAttributes loginIDs { id } } } }";
    let d = app.ok(delete, json!({"i": username_id})).await;
    assert!(d["deleteIdentity"]["user"]["standardAttributes"].get("preferred_username").is_none());
    assert_eq!(d["deleteIdentity"]["user"]["loginIDs"].as_array().unwrap().len(), 1);
    let last = d["deleteIdentity"]["user"]["loginIDs"][0]["id"].as_str().unwrap().to_owned();
    app.err(delete, json!({"i": last}), "BAD_USER_INPUT", Some("RemoveLastIdentity")).await;
    app.err(delete, json!({"i": username_id}), "NOT_FOUND", Some("IdentityNotFound")).await;
}

#[tokio::test]
async fn identity_and_user_connections_page() {
    let app = spawn_app().await;
    let id = app.create_user("ivy@example.com", None).await;
    for v in ["ivy1", "ivy2"] {
        app.ok(
            "mutation($id: ID!, $v: String!) { createIdentity(input: {userID: $id, definition: {loginID: {key: \"username\", value: $v}}}) { identity { id } } }",
            json!({"id": id, "v": v}),
        )
        .await;
    }
    let q = "query($id: ID!, $a: String) { node(id: $id) { ... on User { identities(first: 2, after: $a) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { claims } } } } } }";
    let p1 = app.ok(q, json!({"id": id})).await;
    let c = &p1["node"]["identities"];
    assert_eq!(c["totalCount"], 3);
    assert_eq!(c["pageInfo"]["hasNextPage"], true);
    assert_eq!(c["edges"][0]["node"]["claims"]["email"], "ivy@example.com");
    let p2 = app.ok(q, json!({"id": id, "a": c["pageInfo"]["endCursor"]})).await;
    let c = &p2["node"]["identities"];
    assert_eq!(c["pageInfo"]["hasNextPage"], false);
    assert_eq!(c["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(c["edges"].as_array().unwrap().len(), 1);
    assert_eq!(c["edges"][0]["node"]["claims"]["preferred_username"], "ivy2");
    let filtered = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { identities(identityType: OAUTH) { totalCount } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(filtered["node"]["identities"]["totalCount"], 0);
}

#[tokio::test]
async fn nested_lists_page_backwards_and_refuse_foreign_cursors() {
    let app = spawn_app().await;
    let id = app.create_user("nest@example.com", None).await;
    let keys: Vec<String> = (0..5).map(|i| format!("role{i}")).collect();
    for k in &keys {
        app.ok("mutation($k: String!) { createRole(input: {key: $k}) { role { id } } }", json!({"k": k})).await;
    }
    app.ok(
        "mutation($u: ID!, $k: [String!]!) { addUserToRoles(input: {userID: $u, roleKeys: $k}) { user { id } } }",
        json!({"u": id, "k": keys}),
    )
    .await;
    let q = "query($id: ID!, $n: Int, $b: String, $a: String) { node(id: $id) { ... on User { roles(last: $n, before: $b, after: $a) { pageInfo { hasPreviousPage hasNextPage startCursor } edges { cursor node { key } } } } } }";
    let d = app.ok(q, json!({"id": id, "n": 2})).await;
    let c = &d["node"]["roles"];
    let got: Vec<&str> = c["edges"].as_array().unwrap().iter().map(|e| e["node"]["key"].as_str().unwrap()).collect();
    assert_eq!(got, ["role3", "role4"]);
    assert_eq!(c["pageInfo"]["hasPreviousPage"], true);
    let d = app.ok(q, json!({"id": id, "n": 2, "b": c["pageInfo"]["startCursor"]})).await;
    let got: Vec<String> = d["node"]["roles"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ["role1", "role2"]);
    assert_eq!(d["node"]["roles"]["pageInfo"]["hasNextPage"], true);

    // A cursor stays a position when its item goes away.
    let after_role2 = d["node"]["roles"]["edges"][1]["cursor"].clone();
    app.ok(
        "mutation($u: ID!) { removeUserFromRoles(input: {userID: $u, roleKeys: [\"role2\"]}) { user { id } } }",
        json!({"u": id}),
    )
    .await;
    let d = app.ok("query($id: ID!, $a: String) { node(id: $id) { ... on User { roles(first: 10, after: $a) { edges { node { key } } } } } }", json!({"id": id, "a": after_role2})).await;
    let got: Vec<&str> =
        d["node"]["roles"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["key"].as_str().unwrap()).collect();
    assert_eq!(got, ["role3", "role4"]);

    // A users cursor is refused by a roles list, and the other way round.
    let users = app.ok("{ users { edges { cursor } } }", json!({})).await;
    let user_cursor = users["users"]["edges"][0]["cursor"].clone();
    app.err(
        "query($a: String) { roles(after: $a) { totalCount } }",
        json!({"a": user_cursor}),
        "BAD_USER_INPUT",
        Some("InvalidCursor"),
    )
    .await;
    app.err(q, json!({"id": id, "a": user_cursor}), "BAD_USER_INPUT", Some("InvalidCursor")).await;
    app.err(
        "query($a: String) { users(after: $a) { totalCount } }",
        json!({"a": after_role2}),
        "BAD_USER_INPUT",
        Some("InvalidCursor"),
    )
    .await;

    // Entity interface.
    let d =
        app.ok("query($id: ID!) { node(id: $id) { ... on Entity { createdAt updatedAt } } }", json!({"id": id})).await;
    assert!(d["node"]["createdAt"].is_string());
}
