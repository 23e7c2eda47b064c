//! API resources, scopes and their grants to applications.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_admin_api_is_a_builtin_resource() {
    let app = spawn_app().await;
    let uri = app.services.config().admin_resource_uri();
    let d = app
        .ok("query($k: String) { resources(searchKeyword: $k) { totalCount edges { node { resourceURI isBuiltin scopes { totalCount edges { node { scope description } } } } } } }", json!({"k": uri}))
        .await;
    let r = &d["resources"]["edges"][0]["node"];
    assert_eq!(r["resourceURI"], uri.as_str());
    assert_eq!(r["isBuiltin"], true);
    assert_eq!(r["scopes"]["totalCount"], authgraph::domain::scope::AdminScope::ALL.len());
    let scopes: Vec<&str> =
        r["scopes"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["scope"].as_str().unwrap()).collect();
    assert!(scopes.contains(&"user:read") && scopes.contains(&"application:write"));
    app.err(
        "mutation($u: String!) { deleteResource(input: {resourceURI: $u}) { ok } }",
        json!({"u": uri}),
        "BAD_USER_INPUT",
        Some("BuiltinResource"),
    )
    .await;
    app.err(
        "mutation($u: String!) { createScope(input: {resourceURI: $u, scope: \"x\"}) { scope { id } } }",
        json!({"u": uri}),
        "BAD_USER_INPUT",
        Some("BuiltinResource"),
    )
    .await;
}

#[tokio::test]
async fn resources_scopes_and_grants() {
    let app = spawn_app().await;
    let api = "https://api.example.com/orders";
    let d = app.ok("mutation($u: String!) { createResource(input: {resourceURI: $u, name: \"Orders\"}) { resource { id resourceURI name clientIDs } } }", json!({"u": api})).await;
    assert_eq!(d["createResource"]["resource"]["clientIDs"], json!([]));
    app.err(
        "mutation($u: String!) { createResource(input: {resourceURI: $u}) { resource { id } } }",
        json!({"u": api}),
        "CONFLICT",
        Some("DuplicatedResource"),
    )
    .await;
    app.err(
        "mutation { createResource(input: {resourceURI: \"not a uri\"}) { resource { id } } }",
        json!({}),
        "BAD_USER_INPUT",
        Some("InvalidResourceURI"),
    )
    .await;
    let d = app.ok("mutation($u: String!) { updateResource(input: {resourceURI: $u, name: \"Order API\"}) { resource { name } } }", json!({"u": api})).await;
    assert_eq!(d["updateResource"]["resource"]["name"], "Order API");

    let scope = "mutation($u: String!, $s: String!) { createScope(input: {resourceURI: $u, scope: $s, description: \"d\"}) { scope { scope resourceID } } }";
    for s in ["read:orders", "write:orders", "admin"] {
        app.ok(scope, json!({"u": api, "s": s})).await;
    }
    app.err(scope, json!({"u": api, "s": "read:orders"}), "CONFLICT", Some("DuplicatedScope")).await;
    app.err(scope, json!({"u": api, "s": "bad scope"}), "BAD_USER_INPUT", Some("InvalidScope")).await;
    app.err(scope, json!({"u": "https://nope.example.com", "s": "x"}), "NOT_FOUND", Some("ResourceNotFound")).await;
    let d = app.ok("mutation($u: String!) { updateScope(input: {resourceURI: $u, scope: \"admin\", description: \"everything\"}) { scope { description } } }", json!({"u": api})).await;
    assert_eq!(d["updateScope"]["scope"]["description"], "everything");

    let m2m = app
        .ok(
            "mutation { createApplication(input: {name: \"Worker\", type: M2M}) { application { clientID } } }",
            json!({}),
        )
        .await;
    let client = m2m["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let add = "mutation($u: String!, $c: String!, $s: [String!]!) { addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: $s}) { scopes { scope } } }";
    app.err(add, json!({"u": api, "c": client, "s": ["read:orders"]}), "BAD_USER_INPUT", Some("ResourceNotLinked"))
        .await;
    let d = app.ok("mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { clientIDs } } }", json!({"u": api, "c": client})).await;
    assert_eq!(d["addResourceToClientID"]["resource"]["clientIDs"], json!([client]));
    let d = app.ok(add, json!({"u": api, "c": client, "s": ["read:orders", "write:orders"]})).await;
    assert_eq!(d["addScopesToClientID"]["scopes"], json!([{"scope": "read:orders"}, {"scope": "write:orders"}]));
    app.err(add, json!({"u": api, "c": client, "s": ["nope"]}), "NOT_FOUND", Some("ScopeNotFound")).await;
    let d = app.ok("mutation($u: String!, $c: String!) { removeScopesFromClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"write:orders\"]}) { scopes { scope } } }", json!({"u": api, "c": client})).await;
    assert_eq!(d["removeScopesFromClientID"]["scopes"], json!([{"scope": "read:orders"}]));
    let d = app.ok("mutation($u: String!, $c: String!) { replaceScopesOfClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"admin\"]}) { scopes { scope } } }", json!({"u": api, "c": client})).await;
    assert_eq!(d["replaceScopesOfClientID"]["scopes"], json!([{"scope": "admin"}]));

    let d = app
        .ok("query($c: String!) { resources(clientID: $c) { totalCount edges { node { resourceURI scopes(clientID: $c) { edges { node { scope } } } all: scopes { totalCount } } } } }", json!({"c": client}))
        .await;
    assert_eq!(d["resources"]["totalCount"], 1);
    let r = &d["resources"]["edges"][0]["node"];
    assert_eq!(r["scopes"]["edges"], json!([{"node": {"scope": "admin"}}]));
    assert_eq!(r["all"]["totalCount"], 3);

    app.ok("mutation($u: String!, $c: String!) { removeResourceFromClientID(input: {resourceURI: $u, clientID: $c}) { resource { clientIDs } } }", json!({"u": api, "c": client})).await;
    let d = app.ok("query($c: String!) { resources(clientID: $c) { totalCount } }", json!({"c": client})).await;
    assert_eq!(d["resources"]["totalCount"], 0);
    app.err("query($u: String) { resources(searchKeyword: $u) { edges { node { scopes(clientID: \"nope\") { totalCount } } } } }", json!({"u": api}), "NOT_FOUND", Some("ApplicationNotFound")).await;

    app.ok(
        "mutation($u: String!) { deleteScope(input: {resourceURI: $u, scope: \"admin\"}) { ok } }",
        json!({"u": api}),
    )
    .await;
    app.err(
        "mutation($u: String!) { deleteScope(input: {resourceURI: $u, scope: \"admin\"}) { ok } }",
        json!({"u": api}),
        "NOT_FOUND",
        Some("ScopeNotFound"),
    )
    .await;
    app.ok("mutation($u: String!) { deleteResource(input: {resourceURI: $u}) { ok } }", json!({"u": api})).await;
    let audit = app.ok("{ auditLogs(activityTypes: [ADMIN_API_MUTATION_CREATE_SCOPE_EXECUTED, ADMIN_API_MUTATION_ADD_RESOURCE_TO_CLIENTID_EXECUTED]) { totalCount } }", json!({})).await;
    assert_eq!(audit["auditLogs"]["totalCount"], 4);
}
