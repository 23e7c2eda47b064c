//! Nobody gets more Admin API power than they hold, for themselves or for any client.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const GRANT: &str = "mutation($u: String!, $c: String!, $s: [String!]!) { addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: $s}) { scopes { scope } } }";

async fn m2m(app: &TestApp, name: &str) -> (String, String) {
    let d = app
        .ok(
            "mutation($n: String!) { createApplication(input: {name: $n, type: M2M}) { application { clientID } clientSecret } }",
            json!({"n": name}),
        )
        .await;
    let c = &d["createApplication"];
    (c["application"]["clientID"].as_str().unwrap().to_owned(), c["clientSecret"].as_str().unwrap().to_owned())
}

async fn client_token(app: &TestApp, id: &str, secret: &str, scope: &str) -> (u16, Value) {
    let admin = app.services.config().admin_resource_uri();
    app.token_request(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("resource", &admin),
        ("scope", scope),
    ])
    .await
}

fn escalation(res: &Value) {
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    assert_eq!(res["errors"][0]["extensions"]["reason"], "PrivilegeEscalation", "{res}");
}

#[tokio::test]
async fn a_narrow_token_cannot_widen_itself_or_another_client() {
    let app = spawn_app().await;
    let admin = app.services.config().admin_resource_uri();
    let (me, my_secret) = m2m(&app, "resource admin").await;
    let link = "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { resourceURI } } }";
    app.ok(link, json!({"u": admin, "c": me})).await;
    app.ok(GRANT, json!({"u": admin, "c": me, "s": ["resource:write"]})).await;
    let (status, body) = client_token(&app, &me, &my_secret, "resource:write").await;
    assert_eq!(status, 200, "{body}");
    let narrow = body["access_token"].as_str().unwrap().to_owned();
    let before = app.audit_count().await;

    // Granting itself user:write: refused, nothing changes, and its next token has no such scope.
    let res = app.gql_as(&narrow, GRANT, json!({"u": admin, "c": me, "s": ["user:write"]})).await;
    escalation(&res);
    let replace = "mutation($u: String!, $c: String!, $s: [String!]!) { replaceScopesOfClientID(input: {resourceURI: $u, clientID: $c, scopes: $s}) { scopes { scope } } }";
    let res = app.gql_as(&narrow, replace, json!({"u": admin, "c": me, "s": ["resource:write", "user:read"]})).await;
    escalation(&res);
    let (status, body) = client_token(&app, &me, &my_secret, "user:write").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope", "{body}");
    assert_eq!(app.audit_count().await, before, "refusals change and audit nothing");

    // Nor to another client, nor by linking the Admin API to a client that holds more.
    let (other, other_secret) = m2m(&app, "other").await;
    app.ok(link, json!({"u": admin, "c": other})).await;
    let res = app.gql_as(&narrow, GRANT, json!({"u": admin, "c": other, "s": ["user:write"]})).await;
    escalation(&res);
    app.ok(GRANT, json!({"u": admin, "c": other, "s": ["user:read"]})).await;
    let before_other = app.audit_count().await;
    let unlink = "mutation($u: String!, $c: String!) { removeResourceFromClientID(input: {resourceURI: $u, clientID: $c}) { resource { resourceURI } } }";
    let res = app.gql_as(&narrow, unlink, json!({"u": admin, "c": other})).await;
    escalation(&res);
    let remove = "mutation($u: String!, $c: String!, $s: [String!]!) { removeScopesFromClientID(input: {resourceURI: $u, clientID: $c, scopes: $s}) { scopes { scope } } }";
    let res = app.gql_as(&narrow, remove, json!({"u": admin, "c": other, "s": ["user:read"]})).await;
    escalation(&res);

    // What it holds, it may grant.
    let res = app.gql_as(&narrow, GRANT, json!({"u": admin, "c": other, "s": ["resource:write"]})).await;
    escalation(&res); // `other` holds user:read, which the narrow token lacks.
    assert_eq!(app.audit_count().await, before_other, "refusals change and audit nothing");
    let (third, _) = m2m(&app, "third").await;
    app.ok(link, json!({"u": admin, "c": third})).await;
    let res = app.gql_as(&narrow, GRANT, json!({"u": admin, "c": third, "s": ["resource:write"]})).await;
    assert!(res.get("errors").is_none(), "{res}");

    // A full token may still do it all.
    let d = app.ok(GRANT, json!({"u": admin, "c": other, "s": ["user:write"]})).await;
    assert_eq!(d["addScopesToClientID"]["scopes"].as_array().unwrap().len(), 2);
    let (status, _) = client_token(&app, &other, &other_secret, "user:write").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_application_writer_cannot_take_over_a_more_powerful_application() {
    let app = spawn_app().await;
    let admin = app.services.config().admin_resource_uri();
    let (strong, _) = m2m(&app, "strong").await;
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { resourceURI } } }",
        json!({"u": admin, "c": strong}),
    )
    .await;
    app.ok(GRANT, json!({"u": admin, "c": strong, "s": ["user:write", "user:read"]})).await;
    let writer = app.token(&["application:write", "application:read"]);
    let before = app.audit_count().await;

    let res = app
        .gql_as(
            &writer,
            "mutation($c: String!) { createApplicationSecret(input: {clientID: $c}) { clientSecret } }",
            json!({"c": strong}),
        )
        .await;
    escalation(&res);
    assert!(res["data"].is_null() || res["data"]["createApplicationSecret"].is_null(), "{res}");
    let res = app
        .gql_as(&writer, "mutation($c: String!) { updateApplication(input: {clientID: $c, name: \"mine\"}) { application { name } } }", json!({"c": strong}))
        .await;
    escalation(&res);
    let res = app
        .gql_as(
            &writer,
            "mutation($c: String!) { deleteApplication(input: {clientID: $c}) { ok } }",
            json!({"c": strong}),
        )
        .await;
    escalation(&res);
    let d = app
        .ok(
            "query($c: String!) { getApplicationByClientID(clientID: $c) { name secrets { id } } }",
            json!({"c": strong}),
        )
        .await;
    let secret_id = d["getApplicationByClientID"]["secrets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(d["getApplicationByClientID"]["name"], "strong");
    let res = app
        .gql_as(
            &writer,
            "mutation($c: String!, $s: ID!) { revokeApplicationSecret(input: {clientID: $c, secretID: $s}) { application { name } } }",
            json!({"c": strong, "s": secret_id}),
        )
        .await;
    escalation(&res);
    assert_eq!(app.audit_count().await, before, "nothing was audited");

    // Applications without Admin API scopes stay the writer's to manage.
    let (weak, _) = m2m(&app, "weak").await;
    let res = app
        .gql_as(
            &writer,
            "mutation($c: String!) { createApplicationSecret(input: {clientID: $c}) { clientSecret } }",
            json!({"c": weak}),
        )
        .await;
    assert!(res.get("errors").is_none(), "{res}");
    // A writer that holds every scope involved may change the strong one.
    let peer = app.token(&["application:write", "user:write", "user:read"]);
    let res = app
        .gql_as(&peer, "mutation($c: String!) { updateApplication(input: {clientID: $c, name: \"renamed\"}) { application { clientID } } }", json!({"c": strong}))
        .await;
    assert!(res.get("errors").is_none(), "{res}");
}

#[tokio::test]
async fn create_session_refuses_m2m_and_third_party_apps() {
    let app = spawn_app().await;
    let user = app.create_user("s@example.com", None).await;
    let d = app
        .ok(
            "mutation { createApplication(input: {name: \"partner\", type: THIRD_PARTY_APP, redirectURIs: [\"https://partner.example/cb\"]}) { application { clientID } } }",
            json!({}),
        )
        .await;
    let partner = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let res = app
        .gql(
            "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { accessToken } }",
            json!({"u": user, "c": partner}),
        )
        .await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{res}");
    assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidApplication", "{res}");
}
