//! Counts, root fields and aliases are priced before an operation runs.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn refused(res: &Value, words: &str) {
    assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{res}");
    assert!(res["errors"][0]["message"].as_str().unwrap_or_default().contains(words), "{res}");
    assert!(res["data"].is_null(), "{res}");
}

#[tokio::test]
async fn repeated_counts_and_aliases_are_refused_before_any_query() {
    let app = spawn_app().await;
    let aliased = |n: usize| -> String {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: auditLogs {{ totalCount }}")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let before = app.services.statement_count();
    refused(&app.gql(&aliased(3000), json!({})).await, "aliases");
    refused(&app.gql(&aliased(60), json!({})).await, "too complex");
    assert!(app.services.statement_count() - before < 5, "no count ran");
    let res = app.gql(&aliased(10), json!({})).await;
    assert!(res.get("errors").is_none(), "{res}");
    assert_eq!(res["data"]["a9"]["totalCount"], 0);
}

#[tokio::test]
async fn a_count_inside_a_page_runs_once_per_item() {
    let app = spawn_app().await;
    // 100 roles x 11 counts of 100 each, plus the root field: over 100,000.
    let counts: String = (0..11).map(|i| format!("c{i}: users {{ totalCount }} ")).collect();
    let q = format!("query($n: Int) {{ roles(first: $n) {{ edges {{ node {{ {counts} }} }} }} }}");
    refused(&app.gql(&q, json!({"n": 100})).await, "too complex");
    refused(&app.gql(&q, json!({})).await, "too complex"); // the default page is 100
    let res = app.gql(&q, json!({"n": 10})).await;
    assert!(res.get("errors").is_none(), "{res}");
    // A dashboard's page of roles with their member counts is fine.
    let res = app.gql("{ roles { edges { node { users { totalCount } groups { totalCount } } } } }", json!({})).await;
    assert!(res.get("errors").is_none(), "{res}");
    // A count next to the page, even through a fragment, runs once.
    let res = app
        .gql(
            "{ users(first: 100) { ...Page } } fragment Page on UserConnection { totalCount edges { node { id } } }",
            json!({}),
        )
        .await;
    assert!(res.get("errors").is_none(), "{res}");
    // Fragments that expand exponentially are refused without being expanded.
    let mut doc = String::from("{ ...F0 } ");
    for i in 0..30 {
        doc.push_str(&format!("fragment F{i} on Query {{ ...F{n} ...F{n} }} ", n = i + 1));
    }
    doc.push_str("fragment F30 on Query { __typename }");
    refused(&app.gql(&doc, json!({})).await, "expand");
    // So are fragments that spread each other in a cycle.
    let cycle = "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }";
    refused(&app.gql(cycle, json!({})).await, "cycle");
}

#[tokio::test]
async fn long_fragment_chains_and_repeated_ids_are_refused() {
    let app = spawn_app().await;
    // A chain of 20,000 fragments: refused before any walk follows it (it overflowed the
    // stack of the request's thread).
    let mut doc = String::from("query { ...f0 }\n");
    for i in 0..20_000 {
        doc.push_str(&format!("fragment f{i} on Query {{ ...f{} }}\n", i + 1));
    }
    doc.push_str("fragment f20000 on Query { __typename }\n");
    refused(&app.gql(&doc, json!({})).await, "fragments");
    assert_eq!(app.gql("{ __typename }", json!({})).await["data"]["__typename"], "Query", "the server is still up");

    // `nodes(ids:)` runs its selection once per ID, duplicates included.
    let d = app.ok("mutation { createRole(input: {key: \"r\"}) { role { id } } }", json!({})).await;
    let role = d["createRole"]["role"]["id"].as_str().unwrap().to_owned();
    let ids: Vec<&str> = std::iter::repeat_n(role.as_str(), 100).collect();
    let fields: String = (0..10)
        .map(|i| format!("a{i}: nodes(ids: $ids) {{ ... on Role {{ users(first: 100) {{ totalCount }} }} }} "))
        .collect();
    let q = format!("query($ids: [ID!]!) {{ {fields} }}");
    refused(&app.gql(&q, json!({"ids": ids})).await, "too complex");
    let res = app.gql(&q, json!({"ids": [role]})).await;
    assert!(res.get("errors").is_none(), "{res}");
}
