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
