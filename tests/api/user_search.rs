//! The users list's keyword search (issue #14): substrings of three or more characters
//! through the trigram index, shorter keywords as prefixes, the index kept in step with
//! every write (updates, identity changes, deletion, anonymization, imports), and paging.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_with};

const SEARCH: &str = "query($k: String, $n: Int, $a: String) { users(searchKeyword: $k, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";

/// An app whose searches plan as on a large database: any keyword matching more than one
/// user skips the general plan, and the PostgreSQL walk reads at most `window` users.
async fn spawn_planned(window: u64) -> TestApp {
    spawn_with(|c| {
        c.admin_api.search_broad_threshold = 1;
        c.admin_api.search_walk_window = window;
    })
    .await
}

/// IDs of the users the keyword finds, in list order (every page of `page` users).
async fn search_paged(app: &TestApp, kw: &str, page: i64) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = app.ok(SEARCH, json!({"k": kw, "n": page, "a": after})).await;
        let conn = &d["users"];
        let edges = conn["edges"].as_array().unwrap();
        ids.extend(edges.iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()));
        assert!(edges.len() as i64 <= page);
        if conn["pageInfo"]["hasNextPage"] == false {
            assert_eq!(conn["totalCount"], ids.len(), "totalCount agrees with the pages of {kw:?}");
            return ids;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

/// IDs of the users the keyword finds, sorted.
async fn search(app: &TestApp, kw: &str) -> Vec<String> {
    let mut ids = search_paged(app, kw, 100).await;
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&String>) -> Vec<String> {
    ids.sort();
    ids.into_iter().cloned().collect()
}

async fn add_username(app: &TestApp, user: &str, username: &str) {
    app.ok(
        "mutation($id: ID!, $v: String!) { createIdentity(input: {userID: $id, definition: {loginID: {key: \"username\", value: $v}}}) { identity { id } } }",
        json!({"id": user, "v": username}),
    )
    .await;
}

async fn set_name(app: &TestApp, user: &str, name: Value) {
    app.ok(
        "mutation($id: ID!, $n: String) { updateUser(input: {userID: $id, standardAttributes: {name: $n}}) { user { id } } }",
        json!({"id": user, "n": name}),
    )
    .await;
}

#[tokio::test]
async fn keywords_of_three_or_more_characters_match_substrings_case_insensitively() {
    let app = spawn_app().await;
    let alice = app.create_user("alice.liddell@wonder.example", None).await;
    let bob = app.create_user("bob@builder.example", None).await;
    let phone = app
        .ok(
            "mutation { createUser(input: {definition: {loginID: {key: \"phone\", value: \"+85291234567\"}}}) { user { id } } }",
            json!({}),
        )
        .await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let named = app.create_user("zed@example.com", None).await;
    set_name(&app, &named, json!("Alicia Keys")).await;

    assert_eq!(search(&app, "wonder").await, vec![alice.clone()], "the middle of an email");
    assert_eq!(search(&app, "WoNdEr.EX").await, vec![alice.clone()], "case-insensitive");
    assert_eq!(search(&app, "uild").await, vec![bob.clone()]);
    assert_eq!(search(&app, "9123").await, vec![phone.clone()], "the middle of a phone number");
    assert_eq!(search(&app, "cia k").await, vec![named.clone()], "the middle of a name, across a space");
    assert_eq!(search(&app, "KEYS").await, vec![named.clone()]);
    assert_eq!(search(&app, "ali").await, sorted(vec![&alice, &named]));
    assert_eq!(search(&app, ".example").await, sorted(vec![&alice, &bob]));
    assert_eq!(search(&app, "example").await, sorted(vec![&alice, &bob, &named]));
    assert_eq!(search(&app, "example.com").await, vec![named.clone()]);
    // A substring never spans two fields of one user.
    assert_eq!(search(&app, "keyszed").await, Vec::<String>::new());
    // LIKE and FTS syntax in a keyword is literal text.
    assert_eq!(search(&app, "b%r").await, Vec::<String>::new());
    assert_eq!(search(&app, "_@b").await, Vec::<String>::new());
    assert_eq!(search(&app, "\"bob").await, Vec::<String>::new());
    assert_eq!(search(&app, "bob OR alice").await, Vec::<String>::new());
    let odd = app.create_user("per%cent_x@odd.example", None).await;
    assert_eq!(search(&app, "per%cent_x").await, vec![odd.clone()], "LIKE's wildcards as text");
    assert_eq!(search(&app, "r%c").await, vec![odd.clone()], "a wildcard between single characters");
    assert_eq!(search(&app, "T_X@").await, vec![odd.clone()]);
    assert_eq!(search(&app, "per_cent").await, Vec::<String>::new(), "`_` is not any character");
    assert_eq!(search(&app, "per%").await, vec![odd.clone()]);
    assert_eq!(search(&app, "pe%t").await, Vec::<String>::new(), "`%` is not any run of characters");
    assert_eq!(search(&app, "nothing-like-it").await, Vec::<String>::new());
    // An exact user ID still matches (raw or as a node ID).
    let raw = authgraph::graphql::node::decode_any(&bob).unwrap().1.to_string();
    assert_eq!(search(&app, &raw).await, vec![bob.clone()]);
    assert_eq!(search(&app, &bob).await, vec![bob.clone()]);
}

#[tokio::test]
async fn keywords_of_one_or_two_characters_match_prefixes() {
    let app = spawn_app().await;
    let alice = app.create_user("alice@example.com", None).await;
    let al = app.create_user("al@example.com", None).await;
    let zed = app.create_user("zed@example.com", None).await;
    set_name(&app, &zed, json!("Alfred")).await;
    assert_eq!(search(&app, "AL").await, sorted(vec![&alice, &al, &zed]));
    assert_eq!(search(&app, "a").await, sorted(vec![&alice, &al, &zed]));
    assert_eq!(search(&app, "z").await, vec![zed.clone()]);
    assert_eq!(search(&app, "li").await, Vec::<String>::new(), "not a prefix");
    assert_eq!(search(&app, "@e").await, Vec::<String>::new(), "not a prefix");
}

#[tokio::test]
async fn pages_of_a_keyword_return_every_match_once_in_order() {
    // Tiny thresholds so that both plans (a walk in sort order, the candidate set) run.
    for (threshold, window) in [(2_000, 5_000), (5, 8)] {
        let app = spawn_with(|c| {
            c.admin_api.search_broad_threshold = threshold;
            c.admin_api.search_walk_window = window;
        })
        .await;
        let older = app.seed_users("old-xyz", 15).await;
        let others = app.seed_users("other", 15).await;
        let newer = app.seed_users("new-xyz", 15).await;
        let mut expect: Vec<String> = older.iter().chain(&newer).cloned().collect();
        expect.reverse();
        for page in [1, 4, 7, 100] {
            assert_eq!(search_paged(&app, "-XYZ", page).await, expect, "pages of {page}, threshold {threshold}");
        }
        let mut ascending: Vec<String> = older.iter().chain(&newer).cloned().collect();
        let q = "query($a: String) { users(searchKeyword: \"xyz001\", sortDirection: ASC, first: 4, after: $a) { pageInfo { hasNextPage endCursor } edges { node { id } } } }";
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let d = app.ok(q, json!({"a": after})).await;
            seen.extend(
                d["users"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
            );
            if d["users"]["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = d["users"]["pageInfo"]["endCursor"].clone();
        }
        ascending.retain(|id| seen.contains(id));
        assert_eq!(seen.len(), 10, "xyz0010..xyz0014 of old and new users");
        assert_eq!(seen, ascending, "ascending order, each once");
        // Backwards (`last`/`before`) from the end: the same list.
        let q = "query($b: String) { users(searchKeyword: \"-xyz\", last: 4, before: $b) { pageInfo { hasPreviousPage startCursor } edges { node { id } } } }";
        let mut back: Vec<String> = Vec::new();
        let mut before = Value::Null;
        loop {
            let d = app.ok(q, json!({"b": before})).await;
            let page: Vec<String> = d["users"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect();
            back.splice(0..0, page);
            if d["users"]["pageInfo"]["hasPreviousPage"] == false {
                break;
            }
            before = d["users"]["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(back, expect, "backward pages, threshold {threshold}");
        // Sorted by a nullable column (nobody has signed in): each match once, both ways.
        for dir in ["ASC", "DESC"] {
            let q = format!(
                "query($a: String) {{ users(searchKeyword: \"-xyz\", sortBy: LAST_LOGIN_AT, sortDirection: {dir}, first: 4, after: $a) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id }} }} }} }}"
            );
            let mut seen = Vec::new();
            let mut after = Value::Null;
            loop {
                let d = app.ok(&q, json!({"a": after})).await;
                seen.extend(
                    d["users"]["edges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
                );
                if d["users"]["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = d["users"]["pageInfo"]["endCursor"].clone();
            }
            let mut got = seen.clone();
            got.sort();
            got.dedup();
            assert_eq!(got.len(), seen.len(), "no match twice ({dir})");
            let mut want: Vec<String> = older.iter().chain(&newer).cloned().collect();
            want.sort();
            assert_eq!(got, want, "every match ({dir}, threshold {threshold})");
        }
        let mut all_others = others.clone();
        all_others.reverse();
        assert_eq!(search_paged(&app, "other0", 6).await, all_others);
    }
}

#[tokio::test]
async fn a_user_matching_through_several_login_ids_is_listed_once_on_every_page() {
    // Keywords matching more than one user walk at most two users first (PostgreSQL):
    // `filler` finds its pages there, `quoll` does not (the fillers are newer), so the
    // matches of each index are then sorted on their own rows. Each user's email and
    // username match `quoll` (two rows of one index for one user); the name matches `yurus`.
    let app = spawn_planned(2).await;
    let mut users = Vec::new();
    for i in 0..6 {
        let u = app.create_user(&format!("quoll-{i}@example.com"), None).await;
        add_username(&app, &u, &format!("quoll_{i}")).await;
        set_name(&app, &u, json!(format!("Dasyurus {i}"))).await;
        users.push(u);
    }
    let mut fillers = app.seed_users("filler", 30).await;
    fillers.reverse();
    let mut newest_first = users.clone();
    newest_first.reverse();
    assert_eq!(walk(&app, "filler", "", 1, false).await, fillers, "pages of one filler");
    for page in [1, 2, 3, 100] {
        assert_eq!(walk(&app, "quoll", "", page, false).await, newest_first, "forward, pages of {page}");
        assert_eq!(walk(&app, "QUOLL", "", page, true).await, newest_first, "backward, pages of {page}");
        assert_eq!(walk(&app, "quoll", ", sortDirection: ASC", page, false).await, users, "ascending, pages of {page}");
    }
    assert_eq!(search(&app, "oll_3").await, vec![users[3].clone()], "by username");
    assert_eq!(search(&app, "yurus 4").await, vec![users[4].clone()], "by name");
    assert_eq!(walk(&app, "yurus", "", 2, false).await, newest_first, "every name");
}

#[tokio::test]
async fn a_page_cut_short_by_one_users_login_ids_never_skips_a_user() {
    // PostgreSQL's step 2 reads each index's first matches up to a cut (the page's size and
    // one): four users with an email and a username matching `stoat` fill the login IDs'
    // cut with two users, and two older users matching by name only must not take the
    // places of the other two.
    let app = spawn_planned(1).await;
    let mut names = Vec::new();
    for i in 0..2 {
        let u = app.create_user(&format!("weasel-{i}@example.com"), None).await;
        set_name(&app, &u, json!(format!("Stoatly {i}"))).await;
        names.push(u);
    }
    let mut logins = Vec::new();
    for i in 0..4 {
        let u = app.create_user(&format!("stoat-{i}@example.com"), None).await;
        add_username(&app, &u, &format!("stoat_{i}")).await;
        logins.push(u);
    }
    app.seed_users("filler", 10).await;
    let expected: Vec<String> = logins.iter().rev().chain(names.iter().rev()).cloned().collect();
    for round in 0..2 {
        for page in [1, 2, 4, 5] {
            assert_eq!(walk(&app, "stoat", "", page, false).await, expected, "pages of {page}, round {round}");
        }
        // The second round with a sample of the tables (taken after the first search).
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

#[tokio::test]
async fn a_stale_sample_of_the_index_never_changes_a_search() {
    // PostgreSQL keeps a sample of login IDs to plan searches: it places the page of
    // `marten` among the newer matches, which are then deleted. Step 2 reads the matches
    // up to the sample's bound first, finds none, and must read on to the older ones.
    let app = spawn_planned(1).await;
    let mut kept = app.seed_users("martenold", 5).await;
    let gone = app.seed_users("martengone", 20).await;
    app.seed_users("filler", 10).await;
    // The first search has no sample and has one taken; tables this small are read whole.
    assert_eq!(search(&app, "marten").await.len(), 25);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for u in &gone {
        app.ok("mutation($u: ID!) { deleteUser(input: {userID: $u}) { deletedUserID } }", json!({"u": u})).await;
    }
    kept.reverse();
    assert_eq!(walk(&app, "marten", "", 2, false).await, kept, "pages of two, newest first");
    assert_eq!(walk(&app, "artenold0", "", 2, false).await, kept);
}

#[tokio::test]
async fn keywords_across_separators_find_their_users_and_the_joining_letter_only_itself() {
    // On PostgreSQL the trigram indexes read a stored copy of each key with its separators
    // (a space, `@`, `.`, `-`) written as the letter `q`, so that `x last` is one run of
    // trigrams. A key holding `q` where the keyword has a separator, or the reverse, comes
    // out of the index too and must be told apart by the check of the keyword itself.
    let app = spawn_planned(1).await;
    let mut users = Vec::new();
    for (email, name) in [
        ("john.doe@corp.example", "Max Last"),
        ("johnqdoe@corpqexample.test", "Maxqlast"),
        ("ann-marie@corp.example", "Max-Last"),
    ] {
        let u = app.create_user(email, None).await;
        set_name(&app, &u, json!(name)).await;
        users.push(u);
    }
    app.seed_users("plain", 20).await;
    let ids = |idx: &[usize]| -> Vec<String> { idx.iter().rev().map(|&i| users[i].clone()).collect() };
    let none = Vec::<String>::new();
    for round in 0..2 {
        for page in [1, 10] {
            let at = format!("round {round}, pages of {page}");
            assert_eq!(walk(&app, "x last", "", page, false).await, ids(&[0]), "{at}");
            assert_eq!(walk(&app, "xqlast", "", page, false).await, ids(&[1]), "{at}");
            assert_eq!(walk(&app, "MAX-LAST", "", page, false).await, ids(&[2]), "{at}");
            assert_eq!(walk(&app, "n.doe", "", page, false).await, ids(&[0]), "{at}");
            assert_eq!(walk(&app, "nqdoe", "", page, false).await, ids(&[1]), "{at}");
            assert_eq!(walk(&app, "e@corp.", "", page, false).await, ids(&[0, 2]), "{at}");
            assert_eq!(walk(&app, "@corpq", "", page, false).await, ids(&[1]), "{at}");
            assert_eq!(walk(&app, "x.l", "", page, false).await, none, "{at}");
            assert_eq!(walk(&app, "e@corp.", "", page, true).await, ids(&[0, 2]), "backward: {at}");
        }
        // `totalCount` agrees with the pages (checked by `search_paged`).
        assert_eq!(search(&app, "x last").await, vec![users[0].clone()], "round {round}");
        assert_eq!(search(&app, "e@corp.").await, sorted(vec![&users[0], &users[2]]), "round {round}");
        assert_eq!(search(&app, "x.l").await, none, "round {round}");
        // The second round with a sample of the tables (taken after the first search).
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

#[tokio::test]
async fn keywords_of_symbols_and_emoji_find_their_users_in_order() {
    // `pg_trgm` indexes letters and digits only: on PostgreSQL, once a sample of the
    // tables is taken, a keyword holding another character reads the rows holding one
    // (their own partial index) in list order. The first round runs before the sample.
    let app = spawn_planned(1).await;
    let mut users = Vec::new();
    for (i, name) in
        ["Bob 😀😀😀 Smith", "Ann (😀) Lee", "Zoë O'Neil", "Cat 100% Fun", "Dog 100%% fun", "Eel 100% Fun 😀😀😀"]
            .into_iter()
            .enumerate()
    {
        let u = app.create_user(&format!("symbol-{i}@example.com"), None).await;
        set_name(&app, &u, json!(name)).await;
        users.push(u);
    }
    let plus = app.create_user("first+tag@example.com", None).await;
    app.seed_users("plain", 20).await;
    let ids = |idx: &[usize]| -> Vec<String> { idx.iter().rev().map(|&i| users[i].clone()).collect() };
    for round in 0..2 {
        for page in [1, 2, 10] {
            let at = format!("round {round}, pages of {page}");
            assert_eq!(walk(&app, "😀😀😀", "", page, false).await, ids(&[0, 5]), "{at}");
            assert_eq!(walk(&app, "(😀)", "", page, false).await, ids(&[1]), "{at}");
            assert_eq!(walk(&app, "ë o'n", "", page, false).await, ids(&[2]), "{at}");
            assert_eq!(walk(&app, "0% f", "", page, false).await, ids(&[3, 5]), "{at}");
            assert_eq!(walk(&app, "0%", "", page, false).await, Vec::<String>::new(), "a prefix: {at}");
            assert_eq!(walk(&app, "%% F", "", page, false).await, ids(&[4]), "{at}");
            assert_eq!(walk(&app, "%%%", "", page, false).await, Vec::<String>::new(), "{at}");
            assert_eq!(walk(&app, "+TAG@", "", page, false).await, std::slice::from_ref(&plus), "{at}");
            assert_eq!(walk(&app, "😀😀😀", "", page, true).await, ids(&[0, 5]), "backward: {at}");
        }
        // `totalCount` agrees with the pages (checked by `search_paged`).
        assert_eq!(search(&app, "0% F").await, sorted(vec![&users[3], &users[5]]), "round {round}");
        assert_eq!(search(&app, "%%%").await, Vec::<String>::new(), "round {round}");
        assert_eq!(search(&app, "😀😀😀").await, sorted(vec![&users[0], &users[5]]), "round {round}");
        let mut by_login = walk(&app, "😀😀😀", ", sortBy: LAST_LOGIN_AT", 1, false).await;
        by_login.sort();
        assert_eq!(by_login, sorted(vec![&users[0], &users[5]]), "sorted by last login, round {round}");
        // The second round with a sample of the tables (taken after the first search).
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    // Rows leave and join the rows with a symbol as they change.
    set_name(&app, &users[1], json!("Ann Lee")).await;
    set_name(&app, &users[2], json!("Ann (😀) Lee")).await;
    assert_eq!(walk(&app, "(😀)", "", 1, false).await, ids(&[2]));
}

#[tokio::test]
async fn the_index_follows_updates_identities_deletion_and_anonymization() {
    let app = spawn_app().await;
    let user = app.create_user("first.mail@old-domain.example", None).await;
    let other = app.create_user("someone@else.example", None).await;
    assert_eq!(search(&app, "old-dom").await, vec![user.clone()]);

    // Change the email: the old substring no longer matches, the new one does.
    let ident = app
        .ok("query($id: ID!) { node(id: $id) { ... on User { loginIDs { id } } } }", json!({"id": user}))
        .await["node"]["loginIDs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "mutation($u: ID!, $i: ID!) { updateIdentity(input: {userID: $u, identityID: $i, definition: {loginID: {key: \"email\", value: \"second.mail@new-domain.example\"}}}) { identity { id } } }",
        json!({"u": user, "i": ident}),
    )
    .await;
    assert_eq!(search(&app, "old-dom").await, Vec::<String>::new());
    assert_eq!(search(&app, "new-dom").await, vec![user.clone()]);

    // A second login ID, then its removal.
    let d = app
        .ok(
            "mutation($id: ID!) { createIdentity(input: {userID: $id, definition: {loginID: {key: \"username\", value: \"quokka_fan\"}}}) { identity { id } } }",
            json!({"id": user}),
        )
        .await;
    let username = d["createIdentity"]["identity"]["id"].as_str().unwrap().to_owned();
    assert_eq!(search(&app, "okka_f").await, vec![user.clone()]);
    assert_eq!(search(&app, "new-dom").await, vec![user.clone()], "both login IDs are searchable");
    app.ok("mutation($i: ID!) { deleteIdentity(input: {identityID: $i}) { user { id } } }", json!({"i": username}))
        .await;
    assert_eq!(search(&app, "okka_f").await, Vec::<String>::new());

    // Names: set, changed, removed.
    set_name(&app, &user, json!("Grace Hopper")).await;
    assert_eq!(search(&app, "hopp").await, vec![user.clone()]);
    set_name(&app, &user, json!("Ada Lovelace")).await;
    assert_eq!(search(&app, "hopp").await, Vec::<String>::new());
    assert_eq!(search(&app, "lovel").await, vec![user.clone()]);

    // Anonymization removes the login IDs and the name from the index.
    set_name(&app, &other, json!("Ada Byron")).await;
    app.ok("mutation($u: ID!) { anonymizeUser(input: {userID: $u}) { anonymizedUserID } }", json!({"u": other})).await;
    assert_eq!(search(&app, "someone").await, Vec::<String>::new());
    assert_eq!(search(&app, "byron").await, Vec::<String>::new());
    assert_eq!(search(&app, "ada ").await, vec![user.clone()]);

    // Deletion.
    app.ok("mutation($u: ID!) { deleteUser(input: {userID: $u}) { deletedUserID } }", json!({"u": user})).await;
    assert_eq!(search(&app, "lovel").await, Vec::<String>::new());
    assert_eq!(search(&app, "new-dom").await, Vec::<String>::new());
    assert_eq!(app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"], 1);
}

#[tokio::test]
async fn imported_users_are_searchable() {
    let app = spawn_app().await;
    let records: Vec<Value> = (0..30)
        .map(|i| json!({"email": format!("imported{i:02}@bulk-load.example"), "name": format!("Bulk Person {i:02}")}))
        .collect();
    import(&app, records).await;
    assert_eq!(search(&app, "bulk-load").await.len(), 30);
    assert_eq!(search(&app, "person 0").await.len(), 10);
    assert_eq!(search(&app, "ted17@").await.len(), 1);
    assert_eq!(search(&app, "bulk person 29").await.len(), 1);
}

/// Runs an import of `records` through Authgear's endpoint to completion.
async fn import(app: &TestApp, records: Vec<Value>) {
    let token = app.token(&["user:write", "user:read"]);
    let n = records.len();
    let body = json!({"identifier": "email", "records": records}).to_string();
    let res: Value = app
        .client
        .post(format!("{}/_api/admin/users/import", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = res["result"]["id"].as_str().expect("an import job").to_owned();
    for _ in 0..600 {
        let j: Value = app
            .client
            .get(format!("{}/_api/admin/users/import/{id}", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !matches!(j["result"]["status"].as_str(), Some("pending" | "running")) {
            assert_eq!(j["result"]["status"], "completed", "{j:#}");
            assert_eq!(j["result"]["summary"]["inserted"], n, "{j:#}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

/// Every page of `users(searchKeyword:)` walked forward (`first`/`after`) or backward
/// (`last`/`before`) with `extra` arguments, as node IDs in list order.
async fn walk(app: &TestApp, kw: &str, extra: &str, page: i64, backward: bool) -> Vec<String> {
    let (size, cursor, more, next) = if backward {
        ("last", "before", "hasPreviousPage", "startCursor")
    } else {
        ("first", "after", "hasNextPage", "endCursor")
    };
    let q = format!(
        "query($k: String, $n: Int, $c: String) {{ users(searchKeyword: $k, {size}: $n, {cursor}: $c{extra}) {{ pageInfo {{ {more} {next} }} edges {{ node {{ id }} }} }} }}"
    );
    let mut ids: Vec<String> = Vec::new();
    let mut at = Value::Null;
    loop {
        let d = app.ok(&q, json!({"k": kw, "n": page, "c": at})).await;
        let page: Vec<String> = d["users"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        if backward {
            ids.splice(0..0, page);
        } else {
            ids.extend(page);
        }
        if d["users"]["pageInfo"][more] == false {
            return ids;
        }
        at = d["users"]["pageInfo"][next].clone();
    }
}

#[tokio::test]
async fn substring_pages_follow_creation_order_across_seconds_ties_and_distant_dates() {
    // Users created at chosen times with chosen IDs: ties within one microsecond (ordered
    // by ID), several in one second, seconds apart, before 1970 and beyond the index's
    // clamped range of time (before 1558 and after 2382). The index keeps the users of one
    // tenth of a second in arrival order, so the records arrive in an order unlike the list's.
    let times = [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.000001Z",
        "2026-01-01T00:00:00.5Z",
        "2026-01-01T00:00:00.999999Z",
        "2026-01-01T00:00:01Z",
        "2026-01-01T00:00:03Z",
        "2026-04-01T12:00:00Z",
        "1969-12-31T23:59:59.5Z",
        "1969-12-31T23:59:58Z",
        "1900-06-01T00:00:00Z",
        "1500-01-01T00:00:00Z",
        "1200-01-01T00:00:00Z",
        "2390-01-01T00:00:00Z",
        "2300-01-01T00:00:00Z",
        "2400-01-01T00:00:00Z",
        "2400-01-01T00:00:00Z",
    ];
    let mut records = Vec::new();
    let mut expected: Vec<(i128, String, String)> = Vec::new();
    for round in 0..3 {
        for (i, t) in times.iter().enumerate() {
            let k = round * times.len() + i;
            // IDs in an order unrelated to k, so ties are broken by something else than arrival.
            let sub = format!("{:08x}-0000-4000-8000-{:012x}", (k * 7919) % 1000, k);
            let matching = k % 3 != 2;
            let email = format!("{}-{k:02}@order.example", if matching { "wanted" } else { "other" });
            records.push(json!({"sub": sub, "email": email, "created_at": t}));
            if matching {
                let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
                expected.push((at.unix_timestamp_nanos() / 1000, sub.clone(), String::new()));
            }
        }
    }
    records.reverse();
    let app = spawn_app().await;
    import(&app, records).await;
    // Node IDs of the expected users, newest first (ties by ID, descending).
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let all = walk(&app, "", "", 100, false).await;
    for e in &mut expected {
        let raw = e.1.clone();
        e.2 = all
            .iter()
            .find(|id| authgraph::graphql::node::decode_any(id).unwrap().1.to_string() == raw)
            .unwrap()
            .clone();
    }
    let newest_first: Vec<String> = expected.iter().map(|e| e.2.clone()).collect();
    let oldest_first: Vec<String> = newest_first.iter().rev().cloned().collect();
    assert_eq!(newest_first.len(), 36);
    for page in [1, 2, 5, 7, 100] {
        assert_eq!(walk(&app, "wanted-", "", page, false).await, newest_first, "forward, pages of {page}");
        assert_eq!(walk(&app, "wanted-", "", page, true).await, newest_first, "backward, pages of {page}");
        let asc = ", sortDirection: ASC";
        assert_eq!(walk(&app, "WANTED", asc, page, false).await, oldest_first, "ascending, pages of {page}");
        assert_eq!(walk(&app, "WANTED", asc, page, true).await, oldest_first, "ascending backward, pages of {page}");
        // Another filter takes the general plan: the same list.
        let enabled = ", isDisabled: false";
        assert_eq!(walk(&app, "wanted-", enabled, page, false).await, newest_first, "general plan, pages of {page}");
    }
    // An exact user ID or login ID still matches on this path, and only that user.
    let (node, raw) = (&expected[3].2, &expected[3].1);
    assert_eq!(walk(&app, raw, "", 10, false).await, vec![node.clone()]);
    assert_eq!(walk(&app, "wanted-04@order.example", "", 10, false).await.len(), 1);
    assert_eq!(walk(&app, "nobody-at-all", "", 10, false).await, Vec::<String>::new());

    // An upgrade: the migration rebuilds the index of existing users in creation order
    // (back to the first version of the index, then forward again).
    use migration::MigratorTrait;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let applied = migration::Migrator::get_applied_migrations(&db).await.unwrap();
    let n = applied.iter().rev().position(|m| m.name() == "m20261206_000000_order_user_search_by_creation").unwrap();
    migration::Migrator::down(&db, Some(u32::try_from(n + 1).unwrap())).await.unwrap();
    migration::Migrator::up(&db, None).await.unwrap();
    assert_eq!(walk(&app, "wanted-", "", 5, false).await, newest_first, "after the rebuild");
    assert_eq!(walk(&app, "wanted-", ", sortDirection: ASC", 3, true).await, oldest_first, "after the rebuild");
}
