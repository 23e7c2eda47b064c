//! Keyset paging through 250 users, forwards and backwards, with no gap or duplicate.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn walk(app: &crate::helpers::TestApp, sort: &str, dir: &str, backward: bool) -> Vec<String> {
    let q = format!(
        "query($n: Int, $c: String) {{ users(sortBy: {sort}, sortDirection: {dir}, {}) {{ totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ id }} }} }} }}",
        if backward { "last: $n, before: $c" } else { "first: $n, after: $c" }
    );
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let d = app.ok(&q, json!({"n": 100, "c": cursor})).await;
        let conn = &d["users"];
        assert_eq!(conn["totalCount"], 250);
        let mut ids: Vec<String> =
            conn["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect();
        pages += 1;
        let info = &conn["pageInfo"];
        if backward {
            ids.reverse();
            seen.extend(ids);
            if info["hasPreviousPage"] == false {
                break;
            }
            cursor = info["startCursor"].clone();
        } else {
            seen.extend(ids);
            if info["hasNextPage"] == false {
                break;
            }
            cursor = info["endCursor"].clone();
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    if backward {
        seen.reverse();
    }
    seen
}

#[tokio::test]
async fn paging_forwards_and_backwards_through_250_users() {
    let app = spawn_app().await;
    let created = app.seed_users("page", 250).await;
    // Give some users a last login time so both the null and non-null regions are walked.
    for (i, id) in created.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let raw = authgraph::graphql::node::decode_any(id).unwrap().1;
        app.services
            .set_last_login_at(raw, time::OffsetDateTime::now_utc() - time::Duration::minutes(i as i64))
            .await
            .unwrap();
    }
    for sort in ["CREATED_AT", "LAST_LOGIN_AT"] {
        for dir in ["ASC", "DESC"] {
            let fwd = walk(&app, sort, dir, false).await;
            let bwd = walk(&app, sort, dir, true).await;
            let unique: HashSet<&String> = fwd.iter().collect();
            assert_eq!(fwd.len(), 250, "{sort} {dir}");
            assert_eq!(unique.len(), 250, "no duplicates in {sort} {dir}");
            assert_eq!(fwd, bwd, "backwards paging gives the same order for {sort} {dir}");
            if sort == "CREATED_AT" {
                let mut expect = created.clone();
                if dir == "DESC" {
                    expect.reverse();
                }
                assert_eq!(fwd, expect);
            }
        }
    }
    let d = app.ok("{ users(first: 1000) { edges { cursor } } }", json!({})).await;
    assert_eq!(d["users"]["edges"].as_array().unwrap().len(), 100, "page size is capped at 100");
    let d = app.ok("{ users { edges { cursor } } }", json!({})).await;
    assert_eq!(d["users"]["edges"].as_array().unwrap().len(), 100, "default page size is 100");
    app.err("{ users(first: 1, last: 1) { totalCount } }", json!({}), "BAD_USER_INPUT", Some("InvalidPagination"))
        .await;
    app.err("{ users(after: \"bogus\") { totalCount } }", json!({}), "BAD_USER_INPUT", Some("InvalidCursor")).await;
    app.err("{ users(first: -1) { totalCount } }", json!({}), "BAD_USER_INPUT", Some("InvalidPagination")).await;
}
