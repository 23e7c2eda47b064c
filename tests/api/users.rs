//! User queries and mutations: happy paths, bad input, and nothing changed on failure.

use authgraph::config::{CustomAttribute, CustomAttributeType};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_with};

const CREATE: &str = "mutation($k: String!, $v: String!, $p: String) { createUser(input: {definition: {loginID: {key: $k, value: $v}}, password: $p}) { user { id standardAttributes authenticators { totalCount edges { node { type kind } } } } } }";
const USER: &str = "query($id: ID!) { node(id: $id) { ... on User { id standardAttributes customAttributes isDisabled disableReason temporarilyDisabledFrom temporarilyDisabledUntil accountValidFrom accountValidUntil formattedName endUserAccountID verifiedClaims { name value } authenticators { edges { node { type expireAfter } } } } } }";

async fn user(app: &crate::helpers::TestApp, id: &str) -> Value {
    app.ok(USER, json!({"id": id})).await["node"].clone()
}

#[tokio::test]
async fn create_user_normalises_login_ids_and_refuses_duplicates() {
    let app = spawn_app().await;
    let data = app.ok(CREATE, json!({"k": "email", "v": "Alice@Example.COM", "p": "correct horse"})).await;
    let u = &data["createUser"]["user"];
    assert_eq!(u["standardAttributes"]["email"], "Alice@example.com");
    assert_eq!(u["standardAttributes"]["email_verified"], false);
    assert_eq!(u["authenticators"]["totalCount"], 1);
    assert_eq!(u["authenticators"]["edges"][0]["node"]["type"], "PASSWORD");
    assert_eq!(u["authenticators"]["edges"][0]["node"]["kind"], "PRIMARY");

    let before = app.audit_count().await;
    let err =
        app.err(CREATE, json!({"k": "email", "v": "alice@example.com"}), "CONFLICT", Some("DuplicatedIdentity")).await;
    assert_eq!(err["extensions"]["errorName"], "AlreadyExists");
    assert_eq!(app.audit_count().await, before, "a failed mutation writes no audit row");
    assert_eq!(app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"], 1);

    let phone = app.ok(CREATE, json!({"k": "phone", "v": "+14155550100"})).await;
    assert_eq!(phone["createUser"]["user"]["standardAttributes"]["phone_number"], "+14155550100");
    assert_eq!(phone["createUser"]["user"]["authenticators"]["totalCount"], 0);
    let name = app.ok(CREATE, json!({"k": "username", "v": "Bob.Smith"})).await;
    assert_eq!(name["createUser"]["user"]["standardAttributes"]["preferred_username"], "Bob.Smith");
    app.err(CREATE, json!({"k": "username", "v": "bob.smith"}), "CONFLICT", Some("DuplicatedIdentity")).await;
}

#[tokio::test]
async fn create_user_rejects_bad_input() {
    let app = spawn_app().await;
    for (k, v, p, reason) in [
        ("email", "not-an-email", None, "InvalidEmail"),
        ("phone", "5550100", None, "InvalidPhoneNumber"),
        ("username", "has space", None, "InvalidUsername"),
        ("username", "admin", None, "UsernameReserved"),
        ("username", "x".repeat(41).leak() as &str, None, "InvalidUsername"),
        ("fax", "123", None, "InvalidLoginIDKey"),
        ("email", "ok@example.com", Some("short"), "PasswordPolicyViolated"),
    ] {
        app.err(CREATE, json!({"k": k, "v": v, "p": p}), "BAD_USER_INPUT", Some(reason)).await;
    }
    assert_eq!(app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"], 0);
    assert_eq!(app.audit_count().await, 0);
}

#[tokio::test]
async fn password_policy_comes_from_config() {
    let app = spawn_with(|c| {
        c.password_policy.min_length = 12;
        c.password_policy.digit_required = true;
    })
    .await;
    let err =
        app.err(CREATE, json!({"k": "email", "v": "a@example.com", "p": "abcdefghijk"}), "BAD_USER_INPUT", None).await;
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("12 characters") && msg.contains("digit"), "{msg}");
    app.ok(CREATE, json!({"k": "email", "v": "a@example.com", "p": "abcdefghijk1"})).await;
}

#[tokio::test]
async fn update_user_replaces_attributes_and_validates_them() {
    let app = spawn_with(|c| {
        c.custom_attributes = vec![
            CustomAttribute {
                pointer: "/age".into(),
                kind: CustomAttributeType::Integer,
                minimum: Some(0.0),
                maximum: Some(150.0),
                values: vec![],
            },
            CustomAttribute {
                pointer: "/plan".into(),
                kind: CustomAttributeType::Enum,
                minimum: None,
                maximum: None,
                values: vec!["free".into(), "pro".into()],
            },
            CustomAttribute {
                pointer: "/country".into(),
                kind: CustomAttributeType::CountryCode,
                minimum: None,
                maximum: None,
                values: vec![],
            },
        ]
    })
    .await;
    let id = app.create_user("carol@example.com", None).await;
    let q = "mutation($id: ID!, $s: UserStandardAttributes, $c: UserCustomAttributes) { updateUser(input: {userID: $id, standardAttributes: $s, customAttributes: $c}) { user { standardAttributes customAttributes formattedName } } }";
    let data = app
        .ok(q, json!({"id": id, "s": {"given_name": "Carol", "family_name": "Jones", "birthdate": "1990-05-01", "address": {"country": "HK"}}, "c": {"age": 30, "plan": "pro", "country": "HK"}}))
        .await;
    let u = &data["updateUser"]["user"];
    assert_eq!(u["standardAttributes"]["given_name"], "Carol");
    assert_eq!(u["standardAttributes"]["email"], "carol@example.com", "email follows the login ID");
    assert_eq!(u["customAttributes"], json!({"age": 30, "plan": "pro", "country": "HK"}));
    assert_eq!(u["formattedName"], "Carol Jones");

    // Replacing the whole object drops what is not given.
    let data = app.ok(q, json!({"id": id, "s": {"nickname": "CJ"}})).await;
    let u = &data["updateUser"]["user"];
    assert!(u["standardAttributes"].get("given_name").is_none());
    assert_eq!(u["standardAttributes"]["nickname"], "CJ");
    assert_eq!(u["customAttributes"]["age"], 30, "custom attributes kept when omitted");

    let before = user(&app, &id).await;
    for (s, c, reason) in [
        (json!({"birthdate": "1990-13-01"}), Value::Null, "InvalidStandardAttributes"),
        (json!({"website": "not a url"}), Value::Null, "InvalidStandardAttributes"),
        (json!({"unknown": "x"}), Value::Null, "InvalidStandardAttributes"),
        (json!({"email": "someone-else@example.com"}), Value::Null, "InvalidStandardAttributes"),
        (json!({"email_verified": true}), Value::Null, "InvalidStandardAttributes"),
        (Value::Null, json!({"age": 200}), "InvalidCustomAttributes"),
        (Value::Null, json!({"age": 1.5}), "InvalidCustomAttributes"),
        (Value::Null, json!({"plan": "gold"}), "InvalidCustomAttributes"),
        (Value::Null, json!({"country": "XX"}), "InvalidCustomAttributes"),
        (Value::Null, json!({"undeclared": 1}), "InvalidCustomAttributes"),
    ] {
        app.err(q, json!({"id": id, "s": s, "c": c}), "BAD_USER_INPUT", Some(reason)).await;
    }
    assert_eq!(user(&app, &id).await, before, "failed updates change nothing");

    let missing = authgraph::graphql::node::encode(authgraph::domain::ids::UserId::generate());
    app.err(q, json!({"id": missing.0, "s": {}}), "NOT_FOUND", Some("UserNotFound")).await;
    app.err(q, json!({"id": "garbage", "s": {}}), "BAD_USER_INPUT", Some("InvalidID")).await;
}

#[tokio::test]
async fn disabled_status_windows_and_valid_period() {
    let app = spawn_app().await;
    let id = app.create_user("dave@example.com", None).await;
    let set = "mutation($id: ID!, $d: Boolean!, $r: String, $f: DateTime, $u: DateTime) { setDisabledStatus(input: {userID: $id, isDisabled: $d, reason: $r, temporarilyDisabledFrom: $f, temporarilyDisabledUntil: $u}) { user { isDisabled disableReason temporarilyDisabledFrom } } }";
    let d = app.ok(set, json!({"id": id, "d": true, "r": "fraud check"})).await;
    assert_eq!(d["setDisabledStatus"]["user"]["isDisabled"], true);
    assert_eq!(d["setDisabledStatus"]["user"]["disableReason"], "fraud check");
    let q = "{ users(isDisabled: true) { totalCount } enabled: users(isDisabled: false) { totalCount } }";
    let counts = app.ok(q, json!({})).await;
    assert_eq!((counts["users"]["totalCount"].clone(), counts["enabled"]["totalCount"].clone()), (json!(1), json!(0)));

    let d = app.ok(set, json!({"id": id, "d": false})).await;
    assert_eq!(d["setDisabledStatus"]["user"]["isDisabled"], false);
    assert_eq!(d["setDisabledStatus"]["user"]["disableReason"], Value::Null);

    // A window around now disables; a future window does not (yet).
    let d = app.ok(set, json!({"id": id, "d": true, "f": "2020-01-01T00:00:00Z", "u": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(d["setDisabledStatus"]["user"]["isDisabled"], true);
    let counts = app.ok(q, json!({})).await;
    assert_eq!(counts["users"]["totalCount"], 1, "the filter sees a temporary window too");
    let d = app.ok(set, json!({"id": id, "d": true, "f": "2998-01-01T00:00:00Z", "u": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(d["setDisabledStatus"]["user"]["isDisabled"], false);
    assert_eq!(d["setDisabledStatus"]["user"]["temporarilyDisabledFrom"], "2998-01-01T00:00:00.000000Z");

    app.err(
        set,
        json!({"id": id, "d": true, "f": "2020-01-01T00:00:00Z"}),
        "BAD_USER_INPUT",
        Some("InvalidDisabledStatus"),
    )
    .await;
    app.err(
        set,
        json!({"id": id, "d": true, "f": "2999-01-01T00:00:00Z", "u": "2020-01-01T00:00:00Z"}),
        "BAD_USER_INPUT",
        Some("InvalidDisabledStatus"),
    )
    .await;
    app.ok(set, json!({"id": id, "d": false})).await;

    let from = "mutation($id: ID!, $t: DateTime) { setAccountValidFrom(input: {userID: $id, accountValidFrom: $t}) { user { isDisabled accountValidFrom } } }";
    let until = "mutation($id: ID!, $t: DateTime) { setAccountValidUntil(input: {userID: $id, accountValidUntil: $t}) { user { isDisabled accountValidUntil } } }";
    let period = "mutation($id: ID!, $f: DateTime, $u: DateTime) { setAccountValidPeriod(input: {userID: $id, accountValidFrom: $f, accountValidUntil: $u}) { user { isDisabled accountValidFrom accountValidUntil } } }";
    assert_eq!(
        app.ok(from, json!({"id": id, "t": "2999-01-01T00:00:00Z"})).await["setAccountValidFrom"]["user"]["isDisabled"],
        true
    );
    assert_eq!(app.ok(from, json!({"id": id, "t": null})).await["setAccountValidFrom"]["user"]["isDisabled"], false);
    assert_eq!(
        app.ok(until, json!({"id": id, "t": "2001-01-01T00:00:00Z"})).await["setAccountValidUntil"]["user"]["isDisabled"],
        true
    );
    let counts = app.ok(q, json!({})).await;
    assert_eq!(counts["users"]["totalCount"], 1, "the filter sees the end of the valid period");
    let p = app.ok(period, json!({"id": id, "f": "2001-01-01T00:00:00Z", "u": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(p["setAccountValidPeriod"]["user"]["isDisabled"], false);
    app.err(
        period,
        json!({"id": id, "f": "2999-01-01T00:00:00Z", "u": "2001-01-01T00:00:00Z"}),
        "BAD_USER_INPUT",
        Some("InvalidAccountValidPeriod"),
    )
    .await;
    app.err(until, json!({"id": id, "t": "2000-01-01T00:00:00Z"}), "BAD_USER_INPUT", Some("InvalidAccountValidPeriod"))
        .await;
}

#[tokio::test]
async fn passwords_verification_and_deletion() {
    let app = spawn_app().await;
    let id = app.create_user("erin@example.com", None).await;
    let reset = "mutation($id: ID!, $p: String) { resetPassword(input: {userID: $id, password: $p}) { user { id } } }";
    app.err(reset, json!({"id": id, "p": "short"}), "BAD_USER_INPUT", Some("PasswordPolicyViolated")).await;
    let expire = "mutation($id: ID!, $e: Boolean!) { setPasswordExpired(input: {userID: $id, expired: $e}) { user { authenticators { edges { node { expireAfter } } } } } }";
    app.err(expire, json!({"id": id, "e": true}), "NOT_FOUND", Some("PasswordAuthenticatorNotFound")).await;
    app.ok(reset, json!({"id": id, "p": "a much better password"})).await;
    let u = user(&app, &id).await;
    assert_eq!(u["authenticators"]["edges"][0]["node"]["type"], "PASSWORD");
    let e = app.ok(expire, json!({"id": id, "e": true})).await;
    assert!(e["setPasswordExpired"]["user"]["authenticators"]["edges"][0]["node"]["expireAfter"].is_string());
    let e = app.ok(expire, json!({"id": id, "e": false})).await;
    assert!(e["setPasswordExpired"]["user"]["authenticators"]["edges"][0]["node"]["expireAfter"].is_null());

    let verify = "mutation($id: ID!, $n: String!, $v: String!, $b: Boolean!) { setVerifiedStatus(input: {userID: $id, claimName: $n, claimValue: $v, isVerified: $b}) { user { standardAttributes verifiedClaims { name value } } } }";
    let v = app.ok(verify, json!({"id": id, "n": "email", "v": "erin@example.com", "b": true})).await;
    assert_eq!(v["setVerifiedStatus"]["user"]["standardAttributes"]["email_verified"], true);
    assert_eq!(
        v["setVerifiedStatus"]["user"]["verifiedClaims"],
        json!([{"name": "email", "value": "erin@example.com"}])
    );
    let v = app.ok(verify, json!({"id": id, "n": "email", "v": "erin@example.com", "b": false})).await;
    assert_eq!(v["setVerifiedStatus"]["user"]["standardAttributes"]["email_verified"], false);
    app.err(
        verify,
        json!({"id": id, "n": "nickname", "v": "x", "b": true}),
        "BAD_USER_INPUT",
        Some("InvalidClaimName"),
    )
    .await;

    let del = "mutation($id: ID!) { deleteUser(input: {userID: $id, reason: \"requested\"}) { deletedUserID } }";
    assert_eq!(app.ok(del, json!({"id": id})).await["deleteUser"]["deletedUserID"], id);
    assert_eq!(app.ok(USER, json!({"id": id})).await["node"], Value::Null);
    app.err(del, json!({"id": id}), "NOT_FOUND", Some("UserNotFound")).await;
    // The login ID is free again.
    app.create_user("erin@example.com", None).await;
}

#[tokio::test]
async fn lookups_by_login_id_and_standard_attribute_see_writes_at_once() {
    let app = spawn_app().await;
    let id = app.create_user("Frank@Example.com", None).await;
    let q = "query($k: String!, $v: String!) { getUserByLoginID(loginIDKey: $k, loginIDValue: $v) { id } }";
    assert_eq!(app.ok(q, json!({"k": "email", "v": "FRANK@example.COM"})).await["getUserByLoginID"]["id"], id);
    assert_eq!(app.ok(q, json!({"k": "email", "v": "nobody@example.com"})).await["getUserByLoginID"], Value::Null);
    app.err(q, json!({"k": "email", "v": "bad"}), "BAD_USER_INPUT", Some("InvalidEmail")).await;
    let q =
        "query($n: String!, $v: String!) { getUsersByStandardAttribute(attributeName: $n, attributeValue: $v) { id } }";
    assert_eq!(
        app.ok(q, json!({"n": "email", "v": "frank@example.com"})).await["getUsersByStandardAttribute"],
        json!([{"id": id}])
    );
    app.err(q, json!({"n": "nickname", "v": "x"}), "BAD_USER_INPUT", Some("GetUsersInvalidArgument")).await;
}

#[tokio::test]
async fn users_search_matches_ids_login_ids_and_prefixes() {
    let app = spawn_app().await;
    let alice = app.create_user("alice.liddell@wonder.example", None).await;
    let _bob = app.create_user("bob@builder.example", None).await;
    let phone = app.ok(CREATE, json!({"k": "phone", "v": "+85291234567"})).await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let named = app.create_user("zed@example.com", None).await;
    app.ok(
        "mutation($id: ID!) { updateUser(input: {userID: $id, standardAttributes: {name: \"Alicia Keys\"}}) { user { id } } }",
        json!({"id": named}),
    )
    .await;
    let search = |kw: &'static str| {
        let app = &app;
        async move {
            let d = app
                .ok(
                    "query($k: String) { users(searchKeyword: $k) { totalCount edges { node { id } } } }",
                    json!({"k": kw}),
                )
                .await;
            let mut ids: Vec<String> = d["users"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![alice.clone(), named.clone()];
    both.sort();
    assert_eq!(search("ALI").await, both, "prefix of email or name, case-insensitive");
    assert_eq!(search("alice.liddell@wonder.example").await, vec![alice.clone()]);
    assert_eq!(search("+852").await, vec![phone.clone()]);
    assert_eq!(search("alicia k").await, vec![named.clone()]);
    assert_eq!(search("wonder").await, vec![alice.clone()], "three or more characters: a substring");
    assert_eq!(search("on").await, Vec::<String>::new(), "one or two characters: only a prefix");
    let raw = authgraph::graphql::node::decode_any(&alice).unwrap().1.to_string();
    let raw: &'static str = raw.leak();
    assert_eq!(search(raw).await, vec![alice.clone()]);
    let gid: &'static str = alice.clone().leak();
    assert_eq!(search(gid).await, vec![alice]);
    assert_eq!(search("100%").await, Vec::<String>::new());
}

#[tokio::test]
async fn concurrent_writes_on_sqlite_never_fail_with_database_locked() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let endpoint = app.endpoint();
        let token = app.token(&["user:write", "role:write"]);
        tasks.push(tokio::spawn(async move {
            let q = format!(
                "mutation {{ createUser(input: {{definition: {{loginID: {{key: \"email\", value: \"c{i}@example.com\"}}}}}}) {{ user {{ id }} }} r: createRole(input: {{key: \"r{i}\"}}) {{ role {{ id }} }} }}"
            );
            let res: Value = client.post(endpoint).bearer_auth(token).json(&json!({"query": q})).send().await.unwrap().json().await.unwrap();
            res
        }));
    }
    for t in tasks {
        let res = t.await.unwrap();
        assert!(res.get("errors").is_none(), "{res}");
    }
    assert_eq!(app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"], 24);
}

#[tokio::test]
async fn broad_keywords_walk_or_fall_back_and_agree_with_the_candidate_plan() {
    // Tiny thresholds so that 60 users exercise both broad-search paths.
    let app = spawn_with(|c| {
        c.admin_api.search_broad_threshold = 10;
        c.admin_api.search_walk_window = 20;
    })
    .await;
    let older = app.seed_users("aaa", 30).await;
    let newer = app.seed_users("zzz", 30).await;
    let q = "query($k: String, $n: Int, $a: String) { users(searchKeyword: $k, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";
    let walk = |kw: &'static str, n: i64| {
        let app = &app;
        async move {
            let mut ids = Vec::new();
            let mut after = serde_json::Value::Null;
            loop {
                let d = app.ok(q, json!({"k": kw, "n": n, "a": after})).await;
                let conn = &d["users"];
                assert_eq!(conn["totalCount"], 30);
                ids.extend(
                    conn["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
                );
                if conn["pageInfo"]["hasNextPage"] == false {
                    break ids;
                }
                after = conn["pageInfo"]["endCursor"].clone();
            }
        }
    };
    let mut expect_newer = newer.clone();
    expect_newer.reverse();
    let mut expect_older = older.clone();
    expect_older.reverse();
    // "zzz" users are the newest: the walk over the 20 newest users fills each page.
    assert_eq!(walk("zzz", 10).await, expect_newer);
    // "aaa" users are older than the whole window: the search falls back to sorting matches.
    assert_eq!(walk("aaa", 10).await, expect_older);
    assert_eq!(walk("aaa", 100).await, expect_older);
}

#[tokio::test]
async fn create_user_options_generated_passwords_and_text_limits() {
    let app = spawn_app().await;
    let q = "mutation($v: String!, $p: String, $x: Boolean, $s: Boolean, $f: DateTime, $u: DateTime) { createUser(input: {definition: {loginID: {key: \"email\", value: $v}}, password: $p, setPasswordExpired: $x, sendPassword: $s, accountValidFrom: $f, accountValidUntil: $u}) { user { isDisabled accountValidFrom authenticators { edges { node { type expireAfter } } } } } }";
    let d = app.ok(q, json!({"v": "gen@example.com", "p": "", "x": true, "f": "2999-01-01T00:00:00Z"})).await;
    let u = &d["createUser"]["user"];
    assert_eq!(u["authenticators"]["edges"][0]["node"]["type"], "PASSWORD", "an empty password generates one");
    assert!(u["authenticators"]["edges"][0]["node"]["expireAfter"].is_string());
    assert_eq!(u["isDisabled"], true, "not yet valid");
    assert_eq!(u["accountValidFrom"], "2999-01-01T00:00:00.000000Z");
    app.err(q, json!({"v": "send@example.com", "s": true}), "BAD_USER_INPUT", Some("SendPasswordInvalid")).await;
    app.err(
        q,
        json!({"v": "p@example.com", "f": "2999-01-01T00:00:00Z", "u": "2001-01-01T00:00:00Z"}),
        "BAD_USER_INPUT",
        Some("InvalidAccountValidPeriod"),
    )
    .await;
    // Malformed scalars are the client's mistake and carry a code too.
    app.err(q, json!({"v": "t@example.com", "f": "yesterday"}), "BAD_USER_INPUT", None).await;
    assert_eq!(app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"], 1);

    // Control characters in free text are bad input (NUL is refused earlier, for the
    // whole request: see hostile_input.rs).
    let id = app.create_user("nul@example.com", None).await;
    app.err(
        "mutation($id: ID!, $s: UserStandardAttributes) { updateUser(input: {userID: $id, standardAttributes: $s}) { user { id } } }",
        json!({"id": id, "s": {"nickname": "a\u{1}b"}}),
        "BAD_USER_INPUT",
        Some("InvalidText"),
    )
    .await;
    app.err(
        "query($k: String) { users(searchKeyword: $k) { totalCount } }",
        json!({"k": "x\u{1}"}),
        "BAD_USER_INPUT",
        Some("InvalidText"),
    )
    .await;
    app.err(
        "mutation { createRole(input: {key: \"r\", name: \"a\\u0001\"}) { role { id } } }",
        json!({}),
        "BAD_USER_INPUT",
        Some("InvalidText"),
    )
    .await;
    // Lists are capped.
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    app.err(
        "query($r: [String!]) { users(roleKeys: $r) { totalCount } }",
        json!({"r": many}),
        "BAD_USER_INPUT",
        Some("TooManyItems"),
    )
    .await;
    let ids: Vec<String> = (0..1001).map(|_| id.clone()).collect();
    app.err(
        "mutation($u: [ID!]!) { addRoleToUsers(input: {roleKey: \"x\", userIDs: $u}) { role { id } } }",
        json!({"u": ids}),
        "BAD_USER_INPUT",
        Some("TooManyItems"),
    )
    .await;
}

#[tokio::test]
async fn case_sensitive_emails_are_found_as_typed() {
    let app = spawn_with(|c| c.login_id.email_case_sensitive = true).await;
    let upper = app.create_user("Zoe@example.com", None).await;
    let lower = app.create_user("zoe@example.com", None).await;
    let d = app.ok("{ a: users(searchKeyword: \"Zoe\") { edges { node { id } } } b: users(searchKeyword: \"zoe\") { totalCount } c: users(searchKeyword: \"Zo\") { totalCount } d: users(searchKeyword: \"zo\") { totalCount } }", json!({})).await;
    assert_eq!(d["a"]["edges"].as_array().unwrap().len(), 2, "the typed and the folded keyword both match");
    assert!(d["a"]["edges"].as_array().unwrap().iter().any(|e| e["node"]["id"] == upper.as_str()));
    assert_eq!(d["b"]["totalCount"], 2, "a substring search is case-insensitive");
    assert_eq!(d["c"]["totalCount"], 2, "the typed and the folded prefix both match");
    assert_eq!(d["d"]["totalCount"], 1, "a prefix compares the stored key byte-wise");
    let by_login = app
        .ok("{ getUserByLoginID(loginIDKey: \"email\", loginIDValue: \"zoe@example.com\") { id } }", json!({}))
        .await;
    assert_eq!(by_login["getUserByLoginID"]["id"], lower.as_str());
}

/// Every timestamp comes out in UTC with six fractional digits, whatever the input's
/// offset and precision, in the list (built without the executor) and through `node`
/// alike: timestamps of one length sort as text in time order.
#[tokio::test]
async fn timestamps_are_utc_with_microseconds_in_lists_and_nodes() {
    let app = spawn_app().await;
    let id = app.create_user("tess@example.com", None).await;
    let set = "mutation($id: ID!, $t: DateTime) { setAccountValidFrom(input: {userID: $id, accountValidFrom: $t}) { user { accountValidFrom } } }";
    let data = app.ok(set, json!({"id": id, "t": "2030-01-12T07:00:19.5+03:00"})).await;
    assert_eq!(data["setAccountValidFrom"]["user"]["accountValidFrom"], "2030-01-12T04:00:19.500000Z");

    let fields = "id createdAt updatedAt lastLoginAt accountValidFrom";
    let node = app
        .ok(&format!("query($id: ID!) {{ node(id: $id) {{ ... on User {{ {fields} }} }} }}"), json!({"id": id}))
        .await;
    let list = app.ok(&format!("{{ users(first: 50) {{ edges {{ node {{ {fields} }} }} }} }}"), json!({})).await;
    assert_eq!(list["users"]["edges"][0]["node"], node["node"], "the list and the node agree");
    let node = &node["node"];
    assert_eq!(node["accountValidFrom"], "2030-01-12T04:00:19.500000Z");
    assert!(node["lastLoginAt"].is_null());
    for field in ["createdAt", "updatedAt"] {
        let t = node[field].as_str().unwrap();
        let shape = t.len() == 27 && &t[10..11] == "T" && &t[19..20] == "." && t.ends_with('Z');
        assert!(shape && t[20..26].bytes().all(|b| b.is_ascii_digit()), "{field}: {t}");
    }

    let bad = app.gql(set, json!({"id": id, "t": "next tuesday"})).await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{bad}");
    assert!(bad["errors"][0]["message"].as_str().unwrap().contains("RFC 3339"), "{bad}");
}
