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
            .users()
            .set_last_login_at(raw.into(), time::OffsetDateTime::now_utc() - time::Duration::minutes(i as i64))
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

#[tokio::test]
async fn a_cursor_is_bound_to_its_list_and_order() {
    let app = spawn_app().await;
    let users = app.seed_users("bound", 3).await;
    app.ok(
        "mutation($u: ID!) { a: createRole(input: {key: \"a\"}) { role { id } } b: createRole(input: {key: \"b\"}) { role { id } } g: createGroup(input: {key: \"g\"}) { group { id } } addUserToRoles(input: {userID: $u, roleKeys: [\"a\", \"b\"]}) { user { id } } addUserToGroups(input: {userID: $u, groupKeys: [\"g\"]}) { user { id } } }",
        json!({"u": users[0]}),
    )
    .await;
    let first_cursor = |d: &Value, list: &str| d[list]["edges"][0]["cursor"].as_str().unwrap().to_owned();
    let d = app.ok("{ users(sortBy: CREATED_AT, first: 1) { edges { cursor } } }", json!({})).await;
    let by_created = first_cursor(&d, "users");
    let d = app.ok("{ roles(first: 1) { edges { cursor } } }", json!({})).await;
    let role = first_cursor(&d, "roles");
    let d = app
        .ok(
            "query($u: ID!) { node(id: $u) { ... on User { roles(first: 1) { edges { cursor } } } } }",
            json!({"u": users[0]}),
        )
        .await;
    let users_role = first_cursor(&d["node"], "roles");

    let refused = [
        ("query($c: String) { users(sortBy: LAST_LOGIN_AT, after: $c) { totalCount } }", &by_created),
        ("query($c: String) { users(sortBy: CREATED_AT, sortDirection: ASC, after: $c) { totalCount } }", &by_created),
        ("query($c: String) { roles(after: $c) { totalCount } }", &by_created),
        ("query($c: String) { auditLogs(after: $c) { totalCount } }", &by_created),
        ("query($c: String) { applications(before: $c) { totalCount } }", &by_created),
        ("query($c: String) { groups(after: $c) { totalCount } }", &role),
        ("query($c: String) { resources(after: $c) { totalCount } }", &role),
        ("query($c: String) { users(after: $c) { totalCount } }", &role),
        ("query($c: String) { roles(after: $c) { totalCount } }", &users_role),
    ];
    for (q, cursor) in refused {
        let err = app.err(q, json!({"c": cursor}), "BAD_USER_INPUT", Some("InvalidCursor")).await;
        assert_eq!(err["message"], "the cursor belongs to another list or order", "{q}");
    }
    let err = app
        .err(
            "query($u: ID!, $c: String) { node(id: $u) { ... on User { groups(after: $c) { totalCount } } } }",
            json!({"u": users[0], "c": users_role}),
            "BAD_USER_INPUT",
            Some("InvalidCursor"),
        )
        .await;
    assert_eq!(err["message"], "the cursor belongs to another list or order");

    // In its own list and order a cursor pages as before, either way.
    let d = app
        .ok(
            "query($c: String) { a: users(sortBy: CREATED_AT, after: $c) { edges { node { id } } } b: users(sortBy: CREATED_AT, before: $c) { edges { node { id } } } }",
            json!({"c": by_created}),
        )
        .await;
    assert_eq!(d["a"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(d["b"]["edges"].as_array().unwrap().len(), 0);
    let d = app.ok("query($c: String) { roles(after: $c) { edges { node { key } } } }", json!({"c": role})).await;
    assert_eq!(d["roles"]["edges"][0]["node"]["key"], "b");
    let d = app
        .ok(
            "query($u: ID!, $c: String) { node(id: $u) { ... on User { roles(after: $c) { edges { node { key } } } } } }",
            json!({"u": users[0], "c": users_role}),
        )
        .await;
    assert_eq!(d["node"]["roles"]["edges"][0]["node"]["key"], "b");
}
