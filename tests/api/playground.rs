//! Runs every playground operation in order against a fresh server.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_playground_operation_runs_without_errors() {
    let app = spawn_app().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/playground");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "graphql"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "playground has its examples");
    let mut user_id = Value::Null;
    for file in files {
        let query = std::fs::read_to_string(&file).unwrap();
        let vars_path = file.with_extension("json");
        let mut vars: Value =
            std::fs::read_to_string(&vars_path).map(|s| serde_json::from_str(&s).unwrap()).unwrap_or(json!({}));
        if query.contains("$userID") {
            vars["userID"] = user_id.clone();
        }
        let res = app.gql(&query, vars).await;
        assert!(res.get("errors").is_none(), "{}: {res:#}", file.display());
        assert!(res["data"].is_object(), "{}", file.display());
        if let Some(id) = res["data"]["createUser"]["user"]["id"].as_str() {
            user_id = json!(id);
        }
    }
    let d = app
        .ok("{ getUserByLoginID(loginIDKey: \"email\", loginIDValue: \"ada@example.com\") { effectiveRoles { totalCount } } }", json!({}))
        .await;
    assert_eq!(d["getUserByLoginID"]["effectiveRoles"]["totalCount"], 1);
}

/// GraphiQL, JSON endpoints, the Auth UI and errors all forbid framing and sniffing;
/// a page's own policy keeps its directives and gets `frame-ancestors` once.
#[tokio::test]
async fn every_response_forbids_framing() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: &str| client.get(format!("{}{path}", app.url)).send();
    let responses = vec![
        ("GraphiQL", get("/graphiql").await.unwrap()),
        ("GraphiQL at the endpoint", get("/_api/admin/graphql").await.unwrap()),
        ("GraphiQL script", get("/_api/admin/graphiql/graphiql.js").await.unwrap()),
        ("discovery", get("/.well-known/openid-configuration").await.unwrap()),
        ("JWKS", get("/oauth2/jwks").await.unwrap()),
        ("unknown route", get("/nope").await.unwrap()),
        ("health", get("/healthz").await.unwrap()),
        ("login page", get("/login").await.unwrap()),
        (
            "Admin API",
            client
                .post(app.endpoint())
                .bearer_auth(app.token(&["user:read"]))
                .json(&json!({"query": "{ users { totalCount } }"}))
                .send()
                .await
                .unwrap(),
        ),
        (
            "Admin API without a token",
            client.post(app.endpoint()).json(&json!({"query": "{ __typename }"})).send().await.unwrap(),
        ),
        (
            "token endpoint error",
            client
                .post(format!("{}/oauth2/token", app.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=nope")
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (what, res) in &responses {
        let h = res.headers();
        assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{what}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{what}");
        let csp: Vec<&str> = h.get_all("content-security-policy").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(csp.len(), 1, "{what}: {csp:?}");
        assert_eq!(csp[0].matches("frame-ancestors 'none'").count(), 1, "{what}: {csp:?}");
    }
    let login = &responses.iter().find(|(w, _)| *w == "login page").unwrap().1;
    assert!(login.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
}
