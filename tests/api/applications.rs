//! Applications (OAuth clients) and their secrets in the Admin API.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

const CREATE: &str = "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { application { id clientID name type redirectURIs grantTypes accessTokenLifetimeSeconds refreshTokenRotationEnabled accessTokenSigningAlgorithm secrets { id hint revokedAt } } clientSecret } }";

#[tokio::test]
async fn create_update_and_delete_applications() {
    let app = spawn_app().await;
    let spa = app.ok(CREATE, json!({"i": {"name": "Web", "type": "SPA", "redirectURIs": ["https://web.example.com/cb", "http://localhost:5173/cb"]}})).await;
    let spa = &spa["createApplication"];
    assert_eq!(spa["clientSecret"], Value::Null, "public clients have no secret");
    assert_eq!(spa["application"]["grantTypes"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(spa["application"]["accessTokenLifetimeSeconds"], 1800);
    assert_eq!(spa["application"]["accessTokenSigningAlgorithm"], "RS256");
    let client_id = spa["application"]["clientID"].as_str().unwrap().to_owned();

    let m2m =
        app.ok(CREATE, json!({"i": {"name": "Worker", "type": "M2M", "accessTokenSigningAlgorithm": "ES256"}})).await;
    let m2m = &m2m["createApplication"];
    let secret = m2m["clientSecret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256-bit secret");
    assert_eq!(m2m["application"]["grantTypes"], json!(["client_credentials"]));
    assert_eq!(m2m["application"]["secrets"][0]["hint"], &secret[secret.len() - 4..]);

    for (input, reason) in [
        (json!({"name": "x", "type": "M2M", "redirectURIs": ["https://a.example.com/cb"]}), "InvalidApplication"),
        (json!({"name": "x", "type": "SPA", "redirectURIs": ["http://a.example.com/cb"]}), "InvalidRedirectURI"),
        (json!({"name": "x", "type": "SPA", "redirectURIs": ["https://a.example.com/cb#frag"]}), "InvalidRedirectURI"),
        (json!({"name": "x", "type": "SPA", "grantTypes": ["client_credentials"]}), "InvalidGrantType"),
        (json!({"name": "x", "type": "SPA", "allowedOrigins": ["https://a.example.com/path"]}), "InvalidOrigin"),
        (json!({"name": "x", "type": "CONFIDENTIAL", "accessTokenLifetimeSeconds": 5}), "InvalidLifetime"),
        (json!({"name": " ", "type": "NATIVE"}), "InvalidApplication"),
    ] {
        app.err(CREATE, json!({"i": input}), "BAD_USER_INPUT", Some(reason)).await;
    }

    let upd = "mutation($i: UpdateApplicationInput!) { updateApplication(input: $i) { application { name redirectURIs allowedOrigins refreshTokenRotationEnabled } } }";
    let d = app
        .ok(upd, json!({"i": {"clientID": client_id, "name": "Web app", "allowedOrigins": ["https://web.example.com"], "refreshTokenRotationEnabled": false}}))
        .await;
    let a = &d["updateApplication"]["application"];
    assert_eq!(a["name"], "Web app");
    assert_eq!(a["redirectURIs"].as_array().unwrap().len(), 2, "omitted lists are kept");
    assert_eq!(a["allowedOrigins"], json!(["https://web.example.com"]));
    assert_eq!(a["refreshTokenRotationEnabled"], false);
    app.err(upd, json!({"i": {"clientID": "nope", "name": "x"}}), "NOT_FOUND", Some("ApplicationNotFound")).await;

    let list =
        app.ok("{ applications(searchKeyword: \"wor\") { totalCount edges { node { id name } } } }", json!({})).await;
    assert_eq!(list["applications"]["totalCount"], 1);
    let id = list["applications"]["edges"][0]["node"]["id"].clone();
    let node = app.ok("query($id: ID!) { node(id: $id) { ... on Application { clientID } } }", json!({"id": id})).await;
    assert_eq!(node["node"]["clientID"], m2m["application"]["clientID"]);
    let by_id =
        app.ok("query($c: String!) { getApplicationByClientID(clientID: $c) { name } }", json!({"c": client_id})).await;
    assert_eq!(by_id["getApplicationByClientID"]["name"], "Web app");

    let reader = app.token(&["user:read"]);
    let res = app.gql_as(&reader, "{ applications { totalCount } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN");

    app.ok("mutation($c: String!) { deleteApplication(input: {clientID: $c}) { ok } }", json!({"c": client_id})).await;
    app.err(
        "mutation($c: String!) { deleteApplication(input: {clientID: $c}) { ok } }",
        json!({"c": client_id}),
        "NOT_FOUND",
        Some("ApplicationNotFound"),
    )
    .await;
    let audit = app.ok("{ auditLogs(activityTypes: [ADMIN_API_MUTATION_CREATE_APPLICATION_EXECUTED, ADMIN_API_MUTATION_DELETE_APPLICATION_EXECUTED]) { totalCount } }", json!({})).await;
    assert_eq!(audit["auditLogs"]["totalCount"], 3);
}

#[tokio::test]
async fn secrets_rotate_with_two_active_at_most() {
    let app = spawn_app().await;
    let d = app
        .ok(
            CREATE,
            json!({"i": {"name": "Backend", "type": "CONFIDENTIAL", "redirectURIs": ["https://b.example.com/cb"]}}),
        )
        .await;
    let client_id = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let first = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();

    let create = "mutation($c: String!) { createApplicationSecret(input: {clientID: $c}) { clientSecret application { secrets { id revokedAt } } } }";
    let d = app.ok(create, json!({"c": client_id})).await;
    let second = d["createApplicationSecret"]["clientSecret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let secrets = d["createApplicationSecret"]["application"]["secrets"].as_array().unwrap().clone();
    assert_eq!(secrets.len(), 2);
    app.err(create, json!({"c": client_id}), "CONFLICT", Some("TooManySecrets")).await;

    let svc = &app.services;
    assert!(
        svc.applications().authenticate_client(&client_id, &first).await.unwrap().is_some(),
        "the old secret works"
    );
    assert!(
        svc.applications().authenticate_client(&client_id, &second).await.unwrap().is_some(),
        "the new secret works"
    );
    assert!(svc.applications().authenticate_client(&client_id, "wrong").await.unwrap().is_none());
    assert!(svc.applications().authenticate_client("unknown", &first).await.unwrap().is_none());

    // Secrets are newest first: revoke the old one.
    let old_id = secrets[1]["id"].clone();
    let revoke = "mutation($c: String!, $s: ID!) { revokeApplicationSecret(input: {clientID: $c, secretID: $s}) { application { secrets { revokedAt } } } }";
    let d = app.ok(revoke, json!({"c": client_id, "s": old_id})).await;
    assert!(d["revokeApplicationSecret"]["application"]["secrets"][1]["revokedAt"].is_string());
    assert!(
        svc.applications().authenticate_client(&client_id, &first).await.unwrap().is_none(),
        "a revoked secret fails"
    );
    assert!(svc.applications().authenticate_client(&client_id, &second).await.unwrap().is_some());
    app.ok(create, json!({"c": client_id})).await;

    let spa = app.ok(CREATE, json!({"i": {"name": "SPA", "type": "SPA"}})).await;
    let spa_id = spa["createApplication"]["application"]["clientID"].clone();
    app.err(create, json!({"c": spa_id}), "BAD_USER_INPUT", Some("ApplicationHasNoSecrets")).await;
    app.err(revoke, json!({"c": spa_id, "s": old_id}), "NOT_FOUND", Some("SecretNotFound")).await;
}
