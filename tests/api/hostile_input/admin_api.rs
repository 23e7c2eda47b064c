//! Hostile bytes in Admin API arguments, variables, directives, fragments and defaults.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Admin API operations with one string argument `$v` of the given type, as templates
/// where `{V}` stands for the value (a variable or a literal).
fn admin_ops(user_id: &str) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("query", "String!", "getUserByLoginID(loginIDKey: \"email\", loginIDValue: {V}) { id }".to_owned()),
        ("query", "String!", "getUserByLoginID(loginIDKey: {V}, loginIDValue: \"a@example.com\") { id }".to_owned()),
        ("query", "String", "users(searchKeyword: {V}) { totalCount }".to_owned()),
        ("query", "String", "roles(searchKeyword: {V}) { totalCount }".to_owned()),
        ("query", "String", "resources(searchKeyword: {V}) { totalCount }".to_owned()),
        ("query", "String", "fraudProtectionLogs(search: {V}) { totalCount }".to_owned()),
        ("query", "String!", "fraudProtectionLogs(reasonCodes: [{V}]) { totalCount }".to_owned()),
        ("query", "ID!", "node(id: {V}) { id }".to_owned()),
        ("query", "ID!", "nodes(ids: [{V}]) { id }".to_owned()),
        (
            "mutation",
            "String!",
            "createUser(input: {definition: {loginID: {key: \"email\", value: {V}}}}) { user { id } }".to_owned(),
        ),
        (
            "mutation",
            "String!",
            format!(
                "updateUser(input: {{userID: \"{user_id}\", standardAttributes: {{given_name: {{V}}}}}}) {{ user {{ id }} }}"
            ),
        ),
        ("mutation", "String!", "createRole(input: {key: {V}}) { role { id } }".to_owned()),
        ("mutation", "String!", "createRole(input: {key: \"fine\", name: {V}}) { role { id } }".to_owned()),
        ("mutation", "String!", "createApplication(input: {name: {V}, type: SPA}) { application { id } }".to_owned()),
        ("mutation", "String!", "createResource(input: {resourceURI: {V}}) { resource { id } }".to_owned()),
        ("mutation", "ID!", "resetAccountLockout(input: {userID: {V}}) { user { id } }".to_owned()),
        ("mutation", "String!", "generateOOBOTPCode(input: {target: {V}}) { code }".to_owned()),
        ("mutation", "ID!", "sendResetPasswordMessage(input: {loginID: {V}})".to_owned()),
    ]
}

async fn admin_post(app: &TestApp, body: String) -> (u16, Value) {
    let token = app.token(authgraph::service::admin::signing_keys::ADMIN_SCOPES);
    let res = app
        .client
        .post(app.endpoint())
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn nul_in_admin_api_arguments_and_variables_is_refused_before_anything_runs() {
    let app = spawn_app().await;
    let user_id = app.create_user("admin-hostile@example.com", None).await;
    let audit_before = app.audit_count().await;
    for (kind, ty, template) in admin_ops(&user_id) {
        let with_var = format!("{kind}($v: {ty}) {{ {} }}", template.replace("{V}", "$v"));
        for v in [json!("a\u{0}b"), json!("\u{0}")] {
            let res = app.gql(&with_var, json!({"v": v})).await;
            assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{with_var}: {res:#}");
            assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidCharacter", "{with_var}: {res:#}");
            assert!(res["data"].is_null(), "nothing ran: {res:#}");
        }
        for literal in [r#""\u0000""#, r#""ok\u0000""#] {
            let doc = format!("{kind} {{ {} }}", template.replace("{V}", literal));
            let res = app.gql(&doc, json!({})).await;
            assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{doc}: {res:#}");
            assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidCharacter", "{doc}: {res:#}");
            assert!(res["data"].is_null(), "nothing ran: {res:#}");
        }
    }
    // NUL in a JSON object key of a variable, in a directive argument, in a fragment and
    // in a variable's default value.
    for (doc, vars) in [
        (
            format!("mutation($a: UserStandardAttributes) {{ updateUser(input: {{userID: \"{user_id}\", standardAttributes: $a}}) {{ user {{ id }} }} }}"),
            json!({"a": {"given_name\u{0}": "x"}}),
        ),
        ("query { users @skip(if: false) { totalCount } roles(searchKeyword: \"x\") @include(if: true) { totalCount } __typename @skip(if: \"\\u0000\") }".to_owned(), json!({})),
        ("query { ...F } fragment F on Query { users(searchKeyword: \"\\u0000\") { totalCount } }".to_owned(), json!({})),
        ("query($v: String = \"\\u0000\") { users(searchKeyword: $v) { totalCount } }".to_owned(), json!({})),
        ("mutation { createRole(input: {key: \"ok\"}) { role { id } } b: createRole(input: {key: \"\\u0000\"}) { role { id } } }".to_owned(), json!({})),
    ] {
        let res = app.gql(&doc, vars).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{doc}: {res:#}");
        assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidCharacter", "{doc}: {res:#}");
        assert!(res["data"].is_null(), "nothing ran: {res:#}");
    }
    assert_eq!(app.audit_count().await, audit_before, "no refused request changed anything");
    let d = app
        .ok(
            "{ roles { totalCount } applications { totalCount } resources { totalCount } users { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["roles"]["totalCount"], 0, "{d}");
    assert_eq!(d["users"]["totalCount"], 1, "{d}");

    // Everything else hostile is a clean answer, never an internal error.
    let others = [
        json!("%00"),
        json!("\u{1}\u{1f}\u{7f}"),
        json!("\r\nX: y"),
        json!("'\"\\"),
        json!("\u{fffd}\u{202e}😀"),
        json!("a".repeat(100_000)),
        json!(""),
    ];
    for (kind, ty, template) in admin_ops(&user_id) {
        let with_var = format!("{kind}($v: {ty}) {{ {} }}", template.replace("{V}", "$v"));
        for v in &others {
            let body = json!({"query": with_var, "variables": {"v": v}}).to_string();
            let (status, res) = admin_post(&app, body).await;
            assert!(status == 200 || status == 400, "{with_var} {status}");
            for e in res["errors"].as_array().into_iter().flatten() {
                assert_ne!(e["extensions"]["code"], "INTERNAL", "{with_var}: {res:#}");
                // A long bad value is quoted clipped, not echoed whole.
                let message = e["message"].as_str().unwrap_or_default();
                assert!(message.len() < 1_000, "{with_var}: a {}-byte message: {}", message.len(), &message[..120]);
            }
        }
        // A lone surrogate escaped in the JSON body, and in a GraphQL string literal.
        let body = format!(r#"{{"query": {}, "variables": {{"v": "\ud800"}}}}"#, json!(with_var));
        let (status, res) = admin_post(&app, body).await;
        assert!(status == 200 || status == 400, "{with_var} with a lone surrogate: {status} {res}");
        let doc = format!("{kind} {{ {} }}", template.replace("{V}", r#""\uD800x""#));
        let (status, res) = admin_post(&app, json!({"query": doc}).to_string()).await;
        assert!(status == 200 || status == 400, "{doc}: {status} {res}");
        assert_ne!(res["errors"][0]["extensions"]["code"], "INTERNAL", "{doc}: {res:#}");
    }
    let health = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
