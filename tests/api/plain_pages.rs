//! A page of users whose selection is plain is built straight into the response
//! (`graphql/plain.rs`); any other selection goes through async-graphql's executor. Both
//! must answer the same: each document here is sent as it is and again with an inline
//! fragment that sends it to the executor, and the metrics say which path each one took.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_with};

const TOKEN: &str = "metrics-scraper-secret-plain-pages";

/// Every field a plain page builds, at every level, with `__typename` and cursors.
const EVERYTHING: &str = "users(first: 20, sortBy: CREATED_AT, sortDirection: ASC) { __typename
  pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
  nodes { id rawID }
  edges { __typename cursor node { __typename id rawID createdAt updatedAt lastLoginAt
    standardAttributes customAttributes formattedName endUserAccountID isAnonymous isDisabled
    disableReason isDeactivated isAnonymized deleteAt deleteReason anonymizeAt
    temporarilyDisabledFrom temporarilyDisabledUntil accountValidFrom accountValidUntil
    roles { __typename totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { __typename cursor node { __typename id key name description createdAt updatedAt } }
      nodes { key } }
    groups { totalCount nodes { id key name description } edges { cursor node { key } } } } } }";

/// The number of pages built each way so far.
async fn built(app: &TestApp) -> (f64, f64) {
    let text = app.client.get(format!("{}/metrics", app.url)).bearer_auth(TOKEN).send().await.unwrap();
    let text = text.text().await.unwrap();
    let count = |how: &str| {
        let series = format!("authgraph_admin_pages_total{{built=\"{how}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(series.as_str())).map_or(0.0, |v| v.parse().unwrap())
    };
    (count("plain"), count("executor"))
}

/// `users` as the executor resolves it: the same selection with one more field in an
/// inline fragment (`@skip` and `@include` would not do: async-graphql applies them to
/// the document before anything runs), taken out of the answer again.
fn through_executor(users: &str) -> String {
    let open = users.find('{').unwrap();
    format!("{} {{ ... {{ slowPath: __typename }} {}", &users[..open], &users[open + 1..])
}

/// Sends `{ <users> }` both ways; asserts equal answers and the path each took.
async fn same_both_ways(app: &TestApp, users: &str, plain: bool) -> Value {
    let (p0, e0) = built(app).await;
    let direct = app.ok(&format!("{{ {users} }}"), json!({})).await;
    let (p1, e1) = built(app).await;
    assert_eq!((p1 - p0, e1 - e0), if plain { (1.0, 0.0) } else { (0.0, 1.0) }, "path of {users}");
    let mut slow = app.ok(&format!("{{ {} }}", through_executor(users)), json!({})).await;
    let (p2, e2) = built(app).await;
    assert_eq!((p2 - p1, e2 - e1), (0.0, 1.0), "the fragment sends {users} to the executor");
    slow["users"].as_object_mut().unwrap().remove("slowPath");
    assert_eq!(direct, slow, "{users}");
    direct
}

#[tokio::test]
async fn a_plain_page_answers_as_the_executor_does() {
    let app = spawn_with(|c| c.metrics.bearer_token = Some(authgraph::config::Secret::new(TOKEN))).await;
    let ids = app.seed_users("plain", 25).await;
    app.ok(
        "mutation { a: createRole(input: {key: \"zeta\", name: \"Zeta \\\"Z\\\"\", description: \"last\"}) { role { id } }
          b: createRole(input: {key: \"alpha\"}) { role { id } }
          g: createGroup(input: {key: \"ops\", name: \"Ops\"}) { group { id } } }",
        json!({}),
    )
    .await;
    app.ok(
        "mutation($all: [ID!]!, $some: [ID!]!) { a: addRoleToUsers(input: {roleKey: \"zeta\", userIDs: $all}) { role { id } }
          b: addRoleToUsers(input: {roleKey: \"alpha\", userIDs: $some}) { role { id } }
          g: addGroupToUsers(input: {groupKey: \"ops\", userIDs: $some}) { group { id } } }",
        json!({"all": ids[..20], "some": ids[..7]}),
    )
    .await;
    // Users that differ in every field a plain page reads.
    app.ok(
        "mutation($a: ID!, $b: ID!, $c: ID!) {
          updateUser(input: {userID: $a, standardAttributes: {name: \"Ünïcode \\\"quoted\\\" \\\\ name\", given_name: \"Ann\", address: {locality: \"Oslo\"}}, customAttributes: {}}) { user { id } }
          setDisabledStatus(input: {userID: $b, isDisabled: true, reason: \"policy\\nline\"}) { user { id } }
          scheduleAccountDeletion(input: {userID: $c, reason: \"asked\"}) { user { id } } }",
        json!({"a": ids[0], "b": ids[1], "c": ids[2]}),
    )
    .await;

    let d = same_both_ways(&app, EVERYTHING, true).await;
    let edges = d["users"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    let first = &edges[0]["node"];
    assert_eq!(first["id"], ids[0]);
    assert_eq!(first["standardAttributes"]["address"]["locality"], "Oslo");
    assert_eq!(first["roles"]["nodes"], json!([{"key": "alpha"}, {"key": "zeta"}]));
    assert_eq!(first["roles"]["edges"][1]["node"]["name"], "Zeta \"Z\"");
    assert_eq!(first["groups"]["nodes"][0]["name"], "Ops");
    assert_eq!(edges[1]["node"]["isDisabled"], true);
    assert_eq!(edges[1]["node"]["disableReason"], "policy\nline");
    assert_eq!(edges[2]["node"]["deleteReason"], "asked");
    assert_eq!(edges[19]["node"]["groups"]["totalCount"], 0);
    assert_eq!(d["users"]["pageInfo"]["hasNextPage"], true);

    // The next page from a cursor of the plain one, and a page from the end.
    let after = d["users"]["pageInfo"]["endCursor"].as_str().unwrap();
    let next = format!(
        "users(first: 10, sortDirection: ASC, after: \"{after}\") {{ edges {{ node {{ id roles {{ nodes {{ key }} }} }} }} pageInfo {{ hasPreviousPage }} }}"
    );
    let d = same_both_ways(&app, &next, true).await;
    assert_eq!(d["users"]["edges"][0]["node"]["id"], ids[20]);
    assert_eq!(d["users"]["edges"].as_array().unwrap().len(), 5);
    same_both_ways(&app, "users(last: 3) { nodes { id isDisabled } pageInfo { hasPreviousPage startCursor } }", true)
        .await;
    // An empty page, and a search.
    same_both_ways(&app, "users(first: 5, searchKeyword: \"nobody-here\") { edges { node { id } } }", true).await;
    same_both_ways(&app, "users(first: 5, searchKeyword: \"plain000\") { nodes { id formattedName } }", true).await;
    // `@skip` and `@include` are applied to the document before it runs.
    let d = same_both_ways(
        &app,
        "users(first: 2) { nodes { id isDisabled @skip(if: true) createdAt @include(if: true) } }",
        true,
    )
    .await;
    assert_eq!(d["users"]["nodes"][0].as_object().unwrap().len(), 2);
    // The same list under two aliases: the executor reads the second through the
    // DataLoader, the plain page from the lists read with the page.
    same_both_ways(
        &app,
        "users(first: 8) { nodes { id a: roles { nodes { key } } b: roles { nodes { key } } } }",
        true,
    )
    .await;

    // Not plain: the executor answers, and the same as it does with the directive.
    for users in [
        "users(first: 5) { totalCount nodes { id } }",
        "users(first: 5) { nodes { id identities { edges { node { id } } } } }",
        "users(first: 5) { nodes { id roles(first: 1) { nodes { key } } } }",
        "users(first: 5) { nodes { id id } }",
        "users(first: 5) { nodes { ... on User { id } } }",
        // (The oldest users, which have roles: a role that is never reached is no obstacle.)
        "users(first: 5, sortDirection: ASC) { nodes { id roles { nodes { key users { nodes { id } } } } } }",
    ] {
        same_both_ways(&app, users, false).await;
    }
}

/// A page's roles and groups are read as one range of the link tables when the page's
/// users are adjacent (`lookups::link_range`), else user by user. Either way each user has
/// exactly their own, whoever else the range holds.
#[tokio::test]
async fn a_page_has_the_roles_and_groups_of_its_own_users_only() {
    let app = crate::helpers::spawn_app().await;
    let ids = app.seed_users("ranged", 40).await;
    app.ok(
        "mutation { a: createRole(input: {key: \"all\"}) { role { id } }
          b: createRole(input: {key: \"even\"}) { role { id } }
          g: createGroup(input: {key: \"fifth\"}) { group { id } } }",
        json!({}),
    )
    .await;
    let even: Vec<&String> = ids.iter().step_by(2).collect();
    let fifth: Vec<&String> = ids.iter().step_by(5).collect();
    app.ok(
        "mutation($all: [ID!]!, $even: [ID!]!, $fifth: [ID!]!) {
          a: addRoleToUsers(input: {roleKey: \"all\", userIDs: $all}) { role { id } }
          b: addRoleToUsers(input: {roleKey: \"even\", userIDs: $even}) { role { id } }
          g: addGroupToUsers(input: {groupKey: \"fifth\", userIDs: $fifth}) { group { id } } }",
        json!({"all": ids, "even": even, "fifth": fifth}),
    )
    .await;
    // Every fourth user (from the second) is disabled: they sit among the enabled ones.
    let disabled: String = (1..40)
        .step_by(4)
        .map(|i| {
            format!(
                "d{i}: setDisabledStatus(input: {{userID: \"{}\", isDisabled: true}}) {{ user {{ id }} }}\n",
                ids[i]
            )
        })
        .collect();
    app.ok(&format!("mutation {{ {disabled} }}"), json!({})).await;

    let expect = |id: &str| {
        let i = ids.iter().position(|x| x == id).expect("a seeded user");
        let roles = if i % 2 == 0 { json!([{"key": "all"}, {"key": "even"}]) } else { json!([{"key": "all"}]) };
        let groups = if i % 5 == 0 { json!([{"key": "fifth"}]) } else { json!([]) };
        (roles, groups)
    };
    // Enabled users, newest and oldest first: a range holds the disabled users' rows too
    // (under its cap). Disabled users: a range as wide would hold more rows than its cap,
    // so they are read one by one. A page of a search and a page of a few users.
    for (filter, n) in [
        ("first: 40", 40),
        ("sortDirection: ASC, first: 11", 11),
        ("isDisabled: false", 30),
        ("isDisabled: false, sortDirection: ASC", 30),
        ("isDisabled: true", 10),
        ("isDisabled: true, sortDirection: ASC, first: 3", 3),
        ("searchKeyword: \"ranged001\"", 10),
    ] {
        let d = app
            .ok(
                &format!("{{ users({filter}) {{ nodes {{ id roles {{ nodes {{ key }} }} groups {{ nodes {{ key }} }} }} }} }}"),
                json!({}),
            )
            .await;
        let nodes = d["users"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n, "{filter}");
        for node in nodes {
            let (roles, groups) = expect(node["id"].as_str().unwrap());
            assert_eq!(node["roles"]["nodes"], roles, "{filter}: {}", node["id"]);
            assert_eq!(node["groups"]["nodes"], groups, "{filter}: {}", node["id"]);
        }
    }
}

/// A page's users' roles and groups read with the page (on PostgreSQL in the page's own
/// statement, as JSON) carry every field as the DataLoader reads them one list at a time:
/// the second alias of the same list goes to the DataLoader.
#[tokio::test]
async fn the_lists_read_with_a_page_equal_those_read_by_the_dataloader() {
    let app = crate::helpers::spawn_app().await;
    let ids = app.seed_users("fields", 6).await;
    app.ok(
        "mutation { a: createRole(input: {key: \"zz\", name: \"Ünïcode \\\"q\\\" \\\\ \\n 🙂\", description: \"<b>&'\"}) { role { id } }
          b: createRole(input: {key: \"aa\", description: \"\"}) { role { id } }
          g: createGroup(input: {key: \"mid\", name: \"Group \\t tab\", description: \"d\"}) { group { id } }
          h: createGroup(input: {key: \"abc\"}) { group { id } } }",
        json!({}),
    )
    .await;
    app.ok(
        "mutation($some: [ID!]!, $few: [ID!]!) {
          a: addRoleToUsers(input: {roleKey: \"zz\", userIDs: $some}) { role { id } }
          b: addRoleToUsers(input: {roleKey: \"aa\", userIDs: $few}) { role { id } }
          g: addGroupToUsers(input: {groupKey: \"mid\", userIDs: $few}) { group { id } }
          h: addGroupToUsers(input: {groupKey: \"abc\", userIDs: $some}) { group { id } } }",
        json!({"some": ids[..4], "few": ids[2..]}),
    )
    .await;
    let fields = "id key name description createdAt updatedAt";
    let d = app
        .ok(
            &format!(
                "{{ users(first: 10) {{ nodes {{ id
                  r1: roles {{ nodes {{ {fields} }} }} r2: roles {{ nodes {{ {fields} }} }}
                  g1: groups {{ nodes {{ {fields} }} }} g2: groups {{ nodes {{ {fields} }} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    let nodes = d["users"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    for node in nodes {
        assert_eq!(node["r1"], node["r2"], "{}", node["id"]);
        assert_eq!(node["g1"], node["g2"], "{}", node["id"]);
        let i = ids.iter().position(|x| x == node["id"].as_str().unwrap()).unwrap();
        let keys = |list: &Value| -> Vec<String> {
            list["nodes"].as_array().unwrap().iter().map(|n| n["key"].as_str().unwrap().to_owned()).collect()
        };
        let (roles, groups): (&[&str], &[&str]) = match i {
            0 | 1 => (&["zz"], &["abc"]),
            2 | 3 => (&["aa", "zz"], &["abc", "mid"]),
            _ => (&["aa"], &["mid"]),
        };
        assert_eq!(keys(&node["r1"]), roles, "{i}");
        assert_eq!(keys(&node["g1"]), groups, "{i}");
    }
    let zz = nodes.iter().find_map(|n| n["r1"]["nodes"].as_array().unwrap().iter().find(|r| r["key"] == "zz").cloned());
    let zz = zz.expect("a user with role zz");
    assert_eq!(zz["name"], "Ünïcode \"q\" \\ \n 🙂");
    assert_eq!(zz["description"], "<b>&'");
}

/// Users with more roles than a page's range of the link table holds (four rows per user):
/// the range gives up and the users' roles are read user by user, all of them.
#[tokio::test]
async fn users_with_many_roles_get_all_of_them_on_a_page() {
    let app = crate::helpers::spawn_app().await;
    let ids = app.seed_users("many", 10).await;
    let keys: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    let create: String =
        keys.iter().map(|k| format!("{k}: createRole(input: {{key: \"{k}\"}}) {{ role {{ id }} }}\n")).collect();
    app.ok(&format!("mutation {{ {create} }}"), json!({})).await;
    let add: String = keys
        .iter()
        .map(|k| format!("{k}: addRoleToUsers(input: {{roleKey: \"{k}\", userIDs: $ids}}) {{ role {{ id }} }}\n"))
        .collect();
    app.ok(&format!("mutation($ids: [ID!]!) {{ {add} }}"), json!({"ids": ids})).await;
    for order in ["DESC", "ASC"] {
        let d = app
            .ok(
                &format!(
                    "{{ users(first: 10, sortDirection: {order}) {{ nodes {{ id roles {{ nodes {{ key }} }} }} }} }}"
                ),
                json!({}),
            )
            .await;
        let nodes = d["users"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 10);
        for node in nodes {
            assert_eq!(
                node["roles"]["nodes"],
                json!(keys.iter().map(|k| json!({"key": k})).collect::<Vec<_>>()),
                "{}",
                node["id"]
            );
        }
    }
}
