//! schema.graphql is the contract: it must match the running schema.

#[test]
fn schema_graphql_is_up_to_date() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap_or_default();
    let current = authgraph::graphql::sdl();
    assert!(
        committed == current,
        "schema.graphql is out of date; regenerate it with: cargo run -q -- schema > schema.graphql"
    );
}

#[tokio::test]
async fn every_type_field_argument_and_input_is_documented() {
    let schema = authgraph::graphql::build_schema(&authgraph::config::AdminApiConfig::default(), None)
        .expect("every declared scope is an Admin API scope");
    let q = "{ __schema { types { name kind description fields { name description args { name description } } inputFields { name description } enumValues { name description } } } }";
    let res = schema.execute(q).await.into_result().expect("introspection");
    let data = res.data.into_json().unwrap();
    let mut missing = Vec::new();
    let empty = |v: &serde_json::Value| v.as_str().is_none_or(|s| s.trim().is_empty());
    for t in data["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        // Built-in scalars and introspection types are documented by the GraphQL spec.
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name) {
            continue;
        }
        // Query, Mutation and the generated Relay connection types are described by
        // their fields.
        let generated = ["Query", "Mutation"].contains(&name) || name.ends_with("Connection");
        if empty(&t["description"]) && !generated {
            missing.push(name.to_owned());
        }
        for f in t["fields"].as_array().into_iter().flatten() {
            if empty(&f["description"]) {
                missing.push(format!("{name}.{}", f["name"]));
            }
            for a in f["args"].as_array().into_iter().flatten() {
                if empty(&a["description"]) {
                    missing.push(format!("{name}.{}({})", f["name"], a["name"]));
                }
            }
        }
        for f in
            t["inputFields"].as_array().into_iter().flatten().chain(t["enumValues"].as_array().into_iter().flatten())
        {
            if empty(&f["description"]) {
                missing.push(format!("{name}.{}", f["name"]));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
