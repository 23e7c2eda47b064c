//! User exports: Authgear's REST endpoints (`POST /_api/admin/users/export`,
//! `GET /_api/admin/users/export/{id}`), the signed download link, `exportUsers` /
//! `userExport` in GraphQL, and `authgraph export`.

use std::process::Command;

use authgraph::config::{CustomAttribute, CustomAttributeType};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_with};

const PW: &str = "correct horse battery";

impl TestApp {
    /// POSTs an export request with `token`; returns the status and the JSON body.
    async fn export_as(&self, token: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/_api/admin/users/export", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        (res.status().as_u16(), res.json().await.expect("JSON body"))
    }

    async fn export(&self, body: Value) -> Value {
        let token = self.token(authgraph::service::admin::signing_keys::ADMIN_SCOPES);
        let (status, res) = self.export_as(&token, body).await;
        assert_eq!(status, 200, "{res:#}");
        res["result"].clone()
    }

    /// Fetches a download link; returns the status, the content type and the body.
    async fn fetch(&self, url: &str) -> (u16, String, String) {
        let res = self.client.get(url).send().await.expect("download");
        let status = res.status().as_u16();
        let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, ct, res.text().await.expect("body"))
    }

    /// Exports with `body` and downloads the file.
    async fn export_file(&self, body: Value) -> String {
        let job = self.export(body).await;
        let (status, _, text) = self.fetch(job["download_url"].as_str().expect("download_url")).await;
        assert_eq!(status, 200, "{text}");
        text
    }
}

fn ndjson(text: &str) -> Vec<Value> {
    assert!(text.is_empty() || text.ends_with('\n'), "every line ends with a newline");
    text.lines().map(|l| serde_json::from_str(l).expect("one JSON record per line")).collect()
}

fn by_email<'a>(records: &'a [Value], email: &str) -> &'a Value {
    records.iter().find(|r| r["email"] == email).unwrap_or_else(|| panic!("no record of {email} in {records:#?}"))
}

/// Builds: ann (email, password, role `admin`, groups `staff`, TOTP, a secondary email
/// code, name and address, a custom attribute), bob (username, disabled), cat (phone).
async fn people(app: &TestApp) -> (String, String, Vec<u8>) {
    let (browser, csrf, ann) = crate::totp::signed_in(app, "ann@example.com").await;
    let (secret, _) = crate::totp::enrol(&browser, &csrf, "Phone").await;
    app.ok(
        "mutation($u: ID!) { createRole(input: {key: \"admin\"}) { role { id } } createGroup(input: {key: \"staff\"}) { group { id } }
           addUserToRoles(input: {userID: $u, roleKeys: [\"admin\"]}) { user { id } }
           addUserToGroups(input: {userID: $u, groupKeys: [\"staff\"]}) { user { id } }
           createAuthenticator(input: {userID: $u, definition: {kind: SECONDARY, type: OOB_OTP_EMAIL, oobOtpEmail: {email: \"ann.mfa@example.com\"}}}) { authenticator { id } }
           updateUser(input: {userID: $u, standardAttributes: {given_name: \"Ann\", family_name: \"Lee\", address: {formatted: \"1 Road, Central\", country: \"HK\"}}, customAttributes: {plan: \"gold\"}}) { user { id } } }",
        json!({"u": ann}),
    )
    .await;
    let bob = app
        .ok(
            "mutation { createUser(input: {definition: {loginID: {key: \"username\", value: \"Bob_1\"}}}) { user { id } } }",
            json!({}),
        )
        .await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true, reason: \"left\"}) { user { id } } }",
        json!({"u": bob}),
    )
    .await;
    app.ok(
        "mutation { createUser(input: {definition: {loginID: {key: \"phone\", value: \"+85298765432\"}}}) { user { id } } }",
        json!({}),
    )
    .await;
    (ann, bob, secret)
}

async fn with_plan() -> TestApp {
    spawn_with(|c| {
        c.custom_attributes = vec![CustomAttribute {
            pointer: "/plan".into(),
            kind: CustomAttributeType::String,
            minimum: None,
            maximum: None,
            values: vec![],
        }];
    })
    .await
}

async fn raw_id(app: &TestApp, user: &str) -> String {
    let d = app.ok("query($id: ID!) { node(id: $id) { ... on User { rawID } } }", json!({"id": user})).await;
    d["node"]["rawID"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn ndjson_records_are_authgears_export_records() {
    let app = with_plan().await;
    let (ann, bob, secret) = people(&app).await;
    let job = app.export(json!({"format": "ndjson"})).await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["request"], json!({"format": "ndjson"}));
    assert!(job["created_at"].is_string() && job["completed_at"].is_string(), "{job}");
    assert!(job["failed_at"].is_null() && job["error"].is_null(), "{job}");

    // GET describes the same export with a fresh link.
    let (status, got) = app.export_get(job["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["result"]["id"], job["id"]);
    assert_eq!(got["result"]["request"], job["request"]);

    let (status, ct, text) = app.fetch(got["result"]["download_url"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(ct, "application/x-ndjson");
    let records = ndjson(&text);
    assert_eq!(records.len(), 3);

    let a = by_email(&records, "ann@example.com");
    assert_eq!(a["sub"], raw_id(&app, &ann).await);
    assert_eq!(a["email_verified"], false);
    assert_eq!(a["phone_number_verified"], false);
    assert_eq!(a["given_name"], "Ann");
    assert_eq!(a["family_name"], "Lee");
    assert_eq!(a["address"], json!({"formatted": "1 Road, Central", "country": "HK"}));
    assert_eq!(a["custom_attributes"], json!({"plan": "gold"}));
    assert_eq!(a["roles"], json!(["admin"]));
    assert_eq!(a["groups"], json!(["staff"]));
    assert_eq!(a["disabled"], false);
    assert_eq!(a["is_anonymized"], false);
    let created = a["created_at"].as_str().unwrap();
    assert!(created.len() == 27 && &created[19..20] == "." && created.ends_with('Z'), "{a}");
    assert!(a["last_login_at"].is_string(), "ann signed in: {a}");
    assert_eq!(
        a["identities"],
        json!([{
            "type": "login_id",
            "login_id": {"key": "email", "type": "email", "value": "ann@example.com", "original_value": "ann@example.com"},
            "claims": {"email": "ann@example.com"},
        }])
    );
    assert_eq!(a["mfa"]["emails"], json!(["ann.mfa@example.com"]));
    let totps = a["mfa"]["totps"].as_array().unwrap();
    assert_eq!(totps.len(), 1);
    assert_eq!(totps[0]["secret"], data_encoding::BASE32_NOPAD.encode(&secret));
    let uri = totps[0]["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/authgraph:ann%40example.com?secret="), "{uri}");
    assert_eq!(a["biometric_count"], 0);
    assert_eq!(a["passkey_count"], 0);
    assert!(a.get("password").is_none(), "no hashes without the option: {a}");

    let b = records.iter().find(|r| r["preferred_username"] == "Bob_1").expect("bob");
    assert_eq!(b["sub"], raw_id(&app, &bob).await);
    assert_eq!(b["disabled"], true);
    assert_eq!(b["identities"][0]["login_id"]["original_value"], "Bob_1");
    assert!(b.get("roles").is_none() && b.get("email").is_none(), "empty fields are left out: {b}");
    assert_eq!(b["mfa"], json!({}));
    let c = records.iter().find(|r| r["phone_number"] == "+85298765432").expect("cat");
    assert_eq!(c["identities"][0]["claims"], json!({"phone_number": "+85298765432"}));

    // Created once, downloaded once: an audit row each.
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_EXPORT_USERS_EXECUTED").await, 1);
    assert_eq!(app.audit_count_of("ADMIN_API_USER_EXPORT_DOWNLOADED").await, 1);
    assert_eq!(app.audit_count_of("ADMIN_API_USER_EXPORT_PASSWORD_HASHES_EXPORTED").await, 0);
}

/// Several roles and groups come sorted by key, and only direct roles count as the
/// user's roles (a group's roles stay with the group).
#[tokio::test]
async fn role_and_group_keys_are_sorted_and_roles_are_direct_ones() {
    let app = spawn_app().await;
    let mut users = Vec::new();
    for i in 0..5 {
        let d = app
            .ok(
                "mutation($e: String!) { createUser(input: {definition: {loginID: {key: \"email\", value: $e}}}) { user { id } } }",
                json!({"e": format!("u{i}@example.com")}),
            )
            .await;
        users.push(d["createUser"]["user"]["id"].as_str().unwrap().to_owned());
    }
    for key in ["zeta", "alpha", "mid", "via_group"] {
        app.ok("mutation($k: String!) { createRole(input: {key: $k}) { role { id } } }", json!({"k": key})).await;
    }
    for key in ["crew", "able"] {
        app.ok("mutation($k: String!) { createGroup(input: {key: $k}) { group { id } } }", json!({"k": key})).await;
    }
    app.ok(
        "mutation { addRoleToGroups(input: {roleKey: \"via_group\", groupKeys: [\"crew\"]}) { role { id } } }",
        json!({}),
    )
    .await;
    for u in [&users[1], &users[4]] {
        app.ok(
            "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"zeta\", \"alpha\", \"mid\"]}) { user { id } }
               addUserToGroups(input: {userID: $u, groupKeys: [\"crew\", \"able\"]}) { user { id } } }",
            json!({"u": u}),
        )
        .await;
    }
    app.ok(
        "mutation($u: ID!) { addUserToGroups(input: {userID: $u, groupKeys: [\"crew\"]}) { user { id } } }",
        json!({"u": users[2]}),
    )
    .await;
    let records = ndjson(&app.export_file(json!({"format": "ndjson"})).await);
    assert_eq!(records.len(), 5);
    for (i, _) in users.iter().enumerate() {
        let r = by_email(&records, &format!("u{i}@example.com"));
        match i {
            1 | 4 => {
                assert_eq!(r["roles"], json!(["alpha", "mid", "zeta"]), "{r}");
                assert_eq!(r["groups"], json!(["able", "crew"]), "{r}");
            }
            2 => {
                assert!(r.get("roles").is_none(), "a group's roles are not the user's: {r}");
                assert_eq!(r["groups"], json!(["crew"]), "{r}");
            }
            _ => assert!(r.get("roles").is_none() && r.get("groups").is_none(), "{r}"),
        }
    }
}

impl TestApp {
    async fn export_get(&self, id: &str) -> (u16, Value) {
        let token = self.token(&["user:read"]);
        self.export_get_as(&token, id).await
    }

    async fn export_get_as(&self, token: &str, id: &str) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}/_api/admin/users/export/{id}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        (res.status().as_u16(), res.json().await.expect("JSON body"))
    }
}

#[tokio::test]
async fn csv_writes_the_chosen_columns_or_the_defaults() {
    let app = with_plan().await;
    let (ann, _, _) = people(&app).await;
    let ann_id = raw_id(&app, &ann).await;
    let text = app
        .export_file(json!({"format": "csv", "search_keyword": "ann@", "csv": {"fields": [
            {"pointer": "/sub", "field_name": "user_id"},
            {"pointer": "/email"},
            {"pointer": "/roles"},
            {"pointer": "/address"},
            {"pointer": "/address/formatted", "field_name": "address_formatted"},
            {"pointer": "/mfa/totps/0/secret"},
            {"pointer": "/no/such"},
            {"pointer": "/disabled"},
        ]}}))
        .await;
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("user_id,email,roles,address,address_formatted,mfa.totps.0.secret,no.such,disabled"));
    let row = lines.next().expect("ann's row");
    assert!(lines.next().is_none(), "the keyword matches only ann: {text}");
    let prefix = format!("{ann_id},ann@example.com,\"[\"\"admin\"\"]\",\"{{");
    assert!(row.starts_with(&prefix), "{row}\n{prefix}");
    assert!(row.contains(r#"""formatted"":""1 Road, Central"""#), "the address as compact JSON: {row}");
    assert!(row.contains(r#"}","1 Road, Central","#), "{row}");
    assert!(row.ends_with(",,false"), "{row}");

    let job = app.export(json!({"format": "csv"})).await;
    let (status, ct, text) = app.fetch(job["download_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "text/csv; charset=utf-8");
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("sub,preferred_username,email,phone_number,email_verified"), "{header}");
    assert!(header.ends_with("mfa.totps,biometric_count,passkey_count"), "{header}");
    assert_eq!(text.lines().count(), 4, "a header and three users: {text}");

    // Headers must be unique, as Authgear requires.
    let token = app.token(&["user:read"]);
    let (status, res) = app
        .export_as(&token, json!({"format": "csv", "csv": {"fields": [{"pointer": "/sub"}, {"pointer": "/email", "field_name": "sub"}]}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(res["error"]["reason"], "UserExportNonUniqueFieldNames", "{res}");
    assert_eq!(res["error"]["info"]["field_names"], json!(["sub", "sub"]));
    for bad in [
        json!({"format": "xml"}),
        json!({"format": "csv", "csv": {"fields": []}}),
        json!({"format": "csv", "csv": {"fields": [{"pointer": "sub"}]}}),
        json!({"format": "csv", "csv": {"fields": [{"pointer": "/a//b"}]}}),
        json!({"format": "csv", "csv": {"fields": [{"pointer": "/roles\u{0}"}]}}),
        json!({"format": "ndjson", "unknown": true}),
    ] {
        let (status, res) = app.export_as(&token, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {res}");
        assert_eq!(res["error"]["name"], "Invalid", "{res}");
    }
}

#[tokio::test]
async fn filters_are_the_users_lists() {
    let app = with_plan().await;
    people(&app).await;
    let subs = |text: String| -> Vec<String> {
        let mut v: Vec<String> = ndjson(&text)
            .iter()
            .map(|r| r["email"].as_str().or(r["preferred_username"].as_str()).unwrap_or("?").to_owned())
            .collect();
        v.sort();
        v
    };
    let all = subs(app.export_file(json!({"format": "ndjson"})).await);
    assert_eq!(all, ["?", "Bob_1", "ann@example.com"], "cat has only a phone");
    assert_eq!(subs(app.export_file(json!({"format": "ndjson", "search_keyword": "bob"})).await), ["Bob_1"]);
    assert_eq!(subs(app.export_file(json!({"format": "ndjson", "role_keys": ["admin"]})).await), ["ann@example.com"]);
    assert_eq!(subs(app.export_file(json!({"format": "ndjson", "group_keys": ["staff"]})).await), ["ann@example.com"]);
    assert_eq!(subs(app.export_file(json!({"format": "ndjson", "is_disabled": true})).await), ["Bob_1"]);
    assert_eq!(
        subs(app.export_file(json!({"format": "ndjson", "is_disabled": false})).await),
        ["?", "ann@example.com"]
    );
    let none = app.export_file(json!({"format": "ndjson", "role_keys": ["admin"], "is_disabled": true})).await;
    assert_eq!(none, "", "no user: an empty file");
}

/// Also with a small pool, where the export reads on one connection (on PostgreSQL it
/// otherwise takes three).
#[tokio::test]
async fn many_users_come_in_batches_in_id_order() {
    let app = spawn_with(|c| {
        c.user_export.batch_size = 100;
        c.database_max_connections = 3;
    })
    .await;
    app.seed_users("many", 250).await;
    let records = ndjson(&app.export_file(json!({"format": "ndjson"})).await);
    assert_eq!(records.len(), 250);
    let subs: Vec<&str> = records.iter().map(|r| r["sub"].as_str().unwrap()).collect();
    let mut sorted = subs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(subs, sorted, "each user once, in ID order across batches");
}

#[tokio::test]
async fn tampered_and_expired_links_are_refused() {
    let app = spawn_with(|c| c.user_export.link_ttl_seconds = 1).await;
    app.create_user("ann@example.com", None).await;
    let job = app.export(json!({"format": "ndjson"})).await;
    let url = job["download_url"].as_str().unwrap().to_owned();
    let id = job["id"].as_str().unwrap();
    let other = uuid::Uuid::now_v7().to_string();
    let sig_pos = url.find("signature=").unwrap() + "signature=".len();
    let flipped = {
        let mut s = url.clone();
        let c = if &url[sig_pos..sig_pos + 1] == "A" { "B" } else { "A" };
        s.replace_range(sig_pos..sig_pos + 1, c);
        s
    };
    let exp_pos = url.find("expires=").unwrap() + "expires=".len();
    let later = {
        let end = url[exp_pos..].find('&').unwrap() + exp_pos;
        let t: i64 = url[exp_pos..end].parse().unwrap();
        format!("{}{}{}", &url[..exp_pos], t + 3600, &url[end..])
    };
    for bad in [flipped, later, url.replace(id, &other), url[..url.find('?').unwrap()].to_owned()] {
        let (status, _, body) = app.fetch(&bad).await;
        assert_eq!(status, 403, "{bad}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["reason"], "InvalidDownloadLink", "{body}");
    }
    let (status, _, text) = app.fetch(&url).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(ndjson(&text).len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, _, body) = app.fetch(&url).await;
    assert_eq!(status, 403, "an expired link: {body}");
    // The export itself lives on: GET signs a new link.
    let (_, got) = app.export_get(id).await;
    let (status, _, _) = app.fetch(got["result"]["download_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (status, res) = app.export_get(&other).await;
    assert_eq!(status, 404);
    assert_eq!(res["error"]["reason"], "TaskNotFound");
}

#[tokio::test]
async fn tokens_need_user_read_and_hashes_need_their_own_scope() {
    let app = spawn_app().await;
    let ann = app.create_user("ann@example.com", Some(PW)).await;
    app.ok(
        "mutation($u: ID!) { createAuthenticator(input: {userID: $u, definition: {kind: SECONDARY, type: PASSWORD, password: {password: \"another long pw\"}}}) { authenticator { id } } }",
        json!({"u": ann}),
    )
    .await;
    let url = format!("{}/_api/admin/users/export", app.url);
    let res = app.client.post(&url).json(&json!({"format": "ndjson"})).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let res = app.client.post(&url).bearer_auth("not-a-token").json(&json!({"format": "ndjson"})).send().await.unwrap();
    assert_eq!(res.status(), 401);

    let writer = app.token(&["user:write"]);
    let (status, res) = app.export_as(&writer, json!({"format": "ndjson"})).await;
    assert_eq!((status, res["error"]["reason"].as_str()), (403, Some("InsufficientScope")), "{res}");

    let reader = app.token(&["user:read"]);
    let (status, res) = app.export_as(&reader, json!({"format": "ndjson", "include_password_hashes": true})).await;
    assert_eq!(status, 403, "{res}");
    assert_eq!(res["error"]["info"]["scope"], "user:export-password-hashes");
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_EXPORT_USERS_EXECUTED").await, 0, "nothing was created");

    let both = app.token(&["user:read", "user:export-password-hashes"]);
    let (status, res) = app.export_as(&both, json!({"format": "ndjson", "include_password_hashes": true})).await;
    assert_eq!(status, 200, "{res}");
    let id = res["result"]["id"].as_str().unwrap();
    // Its link is for holders of the scope only.
    let (status, _) = app.export_get_as(&reader, id).await;
    assert_eq!(status, 403);
    let (status, got) = app.export_get_as(&both, id).await;
    assert_eq!(status, 200);
    let (status, _, text) = app.fetch(got["result"]["download_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let rec = &ndjson(&text)[0];
    assert_eq!(rec["password"]["type"], "argon2", "{rec}");
    assert!(rec["password"]["password_hash"].as_str().unwrap().starts_with("$argon2id$"), "{rec}");
    assert_eq!(rec["mfa"]["password"]["type"], "argon2", "the secondary password too: {rec}");
    assert_ne!(rec["mfa"]["password"]["password_hash"], rec["password"]["password_hash"]);
    assert_eq!(app.audit_count_of("ADMIN_API_USER_EXPORT_PASSWORD_HASHES_EXPORTED").await, 1);
    let d = app
        .ok("{ auditLogs(activityTypes: [ADMIN_API_USER_EXPORT_PASSWORD_HASHES_EXPORTED]) { edges { node { data } } } }", json!({}))
        .await;
    let data = &d["auditLogs"]["edges"][0]["node"]["data"];
    assert_eq!(data["context"]["actor"], "test-admin", "the requester is named: {data}");
    assert_eq!(data["payload"]["export_id"], id);
}

#[tokio::test]
async fn graphql_exports_the_same_way() {
    let app = spawn_app().await;
    app.create_user("ann@example.com", None).await;
    const EXPORT: &str = "mutation($i: ExportUsersInput!) { exportUsers(input: $i) { userExport { id status format includePasswordHashes request downloadURL fileName } } }";
    let d = app
        .ok(EXPORT, json!({"i": {"format": "CSV", "csv": {"fields": [{"pointer": "/email", "fieldName": "mail"}]}, "searchKeyword": "ann"}}))
        .await;
    let e = &d["exportUsers"]["userExport"];
    assert_eq!(e["status"], "COMPLETED");
    assert_eq!(e["format"], "CSV");
    assert_eq!(
        e["request"],
        json!({"format": "csv", "csv": {"fields": [{"pointer": "/email", "field_name": "mail"}]}, "search_keyword": "ann"})
    );
    assert!(e["fileName"].as_str().unwrap().ends_with(".csv"));
    let (status, _, text) = app.fetch(e["downloadURL"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(text, "mail\nann@example.com\n");

    let q = "query($id: ID!) { userExport(id: $id) { id status downloadURL } }";
    let got = app.ok(q, json!({"id": e["id"]})).await;
    assert_eq!(got["userExport"]["id"], e["id"], "the same ID as the REST API's");
    let (status, res) = app.export_get(e["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{res}");
    assert!(app.ok(q, json!({"id": uuid::Uuid::now_v7().to_string()})).await["userExport"].is_null());

    let reader = app.token(&["user:read"]);
    let res = app.gql_as(&reader, EXPORT, json!({"i": {"format": "NDJSON", "includePasswordHashes": true}})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    let none = app.token(&["role:read"]);
    let res = app.gql_as(&none, EXPORT, json!({"i": {"format": "NDJSON"}})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    let res = app
        .gql(EXPORT, json!({"i": {"format": "CSV", "csv": {"fields": [{"pointer": "/a"}, {"pointer": "/b", "fieldName": "a"}]}}}))
        .await;
    assert_eq!(res["errors"][0]["extensions"]["reason"], "UserExportNonUniqueFieldNames", "{res}");
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_EXPORT_USERS_EXECUTED").await, 1);
}

#[tokio::test]
async fn the_cli_streams_from_the_database() {
    let app = spawn_app().await;
    app.seed_users("cli", 30).await;
    let out = app.dir.path().join("users.ndjson");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authgraph"));
        cmd.current_dir(app.dir.path())
            .env("AUTHGRAPH_DATABASE_URL", &app.database_url)
            .env("AUTHGRAPH_MASTER_KEY_FILE", app.dir.path().join("master.key"))
            .env("AUTHGRAPH_PUBLIC_URL", &app.url)
            .arg("export")
            .args(args)
            .output()
            .unwrap()
    };
    let res = run(&["--output", out.to_str().unwrap()]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("exported 30 user(s)"),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let records = ndjson(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(records.len(), 30);
    assert!(records.iter().all(|r| r["email"].as_str().unwrap().starts_with("cli")));

    let res = run(&["--format", "csv", "--search", "cli0007", "--field", "/email=mail", "--field", "/disabled"]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    assert_eq!(String::from_utf8(res.stdout).unwrap(), "mail,disabled\ncli0007@example.com,false\n");
    assert_eq!(app.audit_count_of("ADMIN_API_USER_EXPORT_DOWNLOADED").await, 2);

    let res = run(&["--format", "xml"]);
    assert!(!res.status.success());
}

/// The import job `id` of `app` once it has finished, through Authgear's endpoint.
async fn finished_job(app: &TestApp, token: &str, id: &str) -> Value {
    loop {
        let job = app
            .client
            .get(format!("{}/_api/admin/users/import/{id}", app.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["result"]
            .clone();
        if job["status"] != "pending" && job["status"] != "running" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// What export writes, import reads back unchanged: the people above (TOTP, a second-factor
/// email, roles, groups, attributes, a disabled user, a password) are exported with their
/// hashes, imported into a fresh server, and exported again: the same records, and the
/// password still signs in.
#[tokio::test]
async fn an_export_imports_back_unchanged() {
    use sea_orm::ActiveModelTrait;
    let a = with_plan().await;
    let (ann, _, _) = people(&a).await;
    // Ann also signed in once through a provider (as the callback stores it).
    let db = sea_orm::Database::connect(a.database_url.as_str()).await.unwrap();
    let t = time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let ann_id = crate::totp::raw_id(&a, &ann).await;
    let details = json!({"provider_type": "github", "provider_alias": "gh", "subject_id": "4242",
        "profile": {"id": 4242, "login": "ann-gh", "email": "ann@example.com"}});
    entity::identity::ActiveModel {
        id: sea_orm::Set(uuid::Uuid::now_v7()),
        user_id: sea_orm::Set(ann_id),
        kind: sea_orm::Set("oauth".into()),
        login_id_key: sea_orm::Set(String::new()),
        login_id_type: sea_orm::Set("oauth".into()),
        value: sea_orm::Set("gh:4242".into()),
        original_value: sea_orm::Set("gh:4242".into()),
        unique_key: sea_orm::Set("gh:4242".into()),
        details: sea_orm::Set(Some(details)),
        created_at: sea_orm::Set(t),
        updated_at: sea_orm::Set(t),
    }
    .insert(&db)
    .await
    .unwrap();
    let first = a.export_file(json!({"format": "ndjson", "include_password_hashes": true})).await;
    let records = ndjson(&first);
    assert_eq!(records.len(), 3);
    let ann_rec = records.iter().find(|r| r["email"] == "ann@example.com").unwrap();
    assert!(ann_rec["identities"].as_array().unwrap().iter().any(|i| i["type"] == "oauth"), "{ann_rec}");

    let b = with_plan().await;
    for (kind, key) in [("Role", "admin"), ("Group", "staff")] {
        b.ok(
            &format!("mutation {{ create{kind}(input: {{key: \"{key}\"}}) {{ {} {{ id }} }} }}", kind.to_lowercase()),
            json!({}),
        )
        .await;
    }
    let token = b.token(authgraph::service::admin::signing_keys::ADMIN_SCOPES);
    let res: Value = b
        .client
        .post(format!("{}/_api/admin/users/import?identifier=email", b.url))
        .bearer_auth(&token)
        .header("content-type", "application/x-ndjson")
        .body(first.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = res["result"]["id"].as_str().unwrap().to_owned();
    // bob (username) and cat (phone) have no email: the identifier must match the record,
    // so they are imported by their own identifiers in further runs.
    let job = finished_job(&b, &token, &id).await;
    assert_eq!(job["summary"]["inserted"], 1, "{job:#}");
    for identifier in ["preferred_username", "phone_number"] {
        let d = b
            .ok(
                "mutation($t: String!, $i: UserImportIdentifier!) { importUsers(input: {identifier: $i, text: $t}) { import { id } } }",
                json!({"t": first, "i": if identifier == "phone_number" { "PHONE_NUMBER" } else { "PREFERRED_USERNAME" }}),
            )
            .await;
        let jid = d["importUsers"]["import"]["id"].as_str().unwrap().to_owned();
        loop {
            let j = b
                .ok("query($id: ID!) { userImport(id: $id) { status summary { inserted } } }", json!({"id": jid}))
                .await;
            if j["userImport"]["status"] == "completed" {
                assert_eq!(j["userImport"]["summary"]["inserted"], 1, "{j}");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let second = b.export_file(json!({"format": "ndjson", "include_password_hashes": true})).await;
    let again = ndjson(&second);
    assert_eq!(again.len(), 3);
    for r in &records {
        let twin =
            again.iter().find(|x| x["sub"] == r["sub"]).unwrap_or_else(|| panic!("no {} in {again:#?}", r["sub"]));
        assert_eq!(twin, r, "the record reads back unchanged");
    }
    let (browser, _login) = (crate::rp::Browser::new(&b), ());
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "ann@example.com", PW).await.page();
    assert_eq!(s, 200, "{page}");
    // The provider account is connected again: found by it, and a warning said that no
    // provider `gh` is configured here yet.
    let d = b
        .ok(
            "{ getUserByOAuth(oauthProviderAlias: \"gh\", oauthProviderUserID: \"4242\") { standardAttributes } }",
            json!({}),
        )
        .await;
    assert_eq!(d["getUserByOAuth"]["standardAttributes"]["email"], "ann@example.com", "{d}");
    let details = &job["details"].as_array().unwrap();
    let warned = details.iter().flat_map(|d| d["warnings"].as_array().unwrap()).any(|w| {
        let m = w["message"].as_str().unwrap();
        m.contains("`gh`") && m.contains("configured")
    });
    assert!(warned, "{job:#}");
    // Another user's record naming the same provider account fails; the rest goes in.
    let other = json!({"email": "eve@example.com", "identities": [
        {"type": "oauth", "oauth": {"provider_alias": "gh", "provider_type": "github", "provider_subject_id": "4242"}},
        {"type": "passkey", "claims": {}}]});
    let fine = json!({"email": "fay@example.com", "identities": [
        {"type": "oauth", "oauth": {"provider_alias": "gh", "provider_subject_id": "77"}}]});
    // NUL in a provider profile (neither database can store it) fails its record only.
    let hostile = json!({"email": "gil@example.com", "identities": [
        {"type": "oauth", "oauth": {"provider_alias": "gh", "provider_subject_id": "78", "user_profile": {"name": "G\u{0}l"}}}]});
    let res: Value = b
        .client
        .post(format!("{}/_api/admin/users/import", b.url))
        .bearer_auth(&token)
        .json(&json!({"upsert": false, "identifier": "email", "records": [other, fine, hostile]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = res["result"]["id"].as_str().unwrap().to_owned();
    let job = finished_job(&b, &token, &id).await;
    assert_eq!(job["summary"]["failed"], 2, "{job:#}");
    assert_eq!(job["summary"]["inserted"], 1, "{job:#}");
    assert_eq!(job["details"][2]["errors"][0]["reason"], "InvalidText", "{job:#}");
    assert_eq!(job["details"][0]["errors"][0]["reason"], "DuplicatedIdentity", "{job:#}");
    let fay = b
        .ok(
            "{ getUserByOAuth(oauthProviderAlias: \"gh\", oauthProviderUserID: \"77\") { standardAttributes } }",
            json!({}),
        )
        .await;
    assert_eq!(fay["getUserByOAuth"]["standardAttributes"]["email"], "fay@example.com", "{fay}");
}

/// A download reads one snapshot from its first batch to its last: a role renamed while
/// the file streams (its reader held back by a client that has read one chunk) shows with
/// its old key on every user. On PostgreSQL the batch's look-ups run on connections that
/// share the first one's snapshot; on SQLite the reads run on a connection of their own
/// inside one read transaction.
#[tokio::test]
async fn a_download_reads_one_snapshot_while_the_data_changes() {
    const USERS: usize = 30_000;
    let app = spawn_with(|c| c.user_export.batch_size = 100).await;
    let role = app.ok("mutation { createRole(input: {key: \"before\"}) { role { id } } }", json!({})).await;
    let role_id = role["createRole"]["role"]["id"].clone();
    let token = app.token(authgraph::service::admin::signing_keys::ADMIN_SCOPES);
    let records: Vec<Value> =
        (0..USERS).map(|i| json!({"email": format!("s{i:05}@example.com"), "roles": ["before"]})).collect();
    let res: Value = app
        .client
        .post(format!("{}/_api/admin/users/import", app.url))
        .bearer_auth(&token)
        .json(&json!({"upsert": false, "identifier": "email", "records": records}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = finished_job(&app, &token, res["result"]["id"].as_str().unwrap()).await;
    assert_eq!(job["summary"]["inserted"], USERS, "{job:#}");

    let export = app.export(json!({"format": "ndjson"})).await;
    let mut download = app.client.get(export["download_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let mut body = download.chunk().await.unwrap().expect("a first chunk").to_vec();
    // About 13 MB in all: far more than the stream's few batches and the sockets' buffers
    // hold, so the reader is still at work when the role changes.
    let upd = "mutation($id: ID!) { updateRole(input: {id: $id, key: \"after\"}) { role { key } } }";
    app.ok(upd, json!({"id": role_id})).await;
    while let Some(chunk) = download.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).unwrap();
    let records = ndjson(&text);
    assert_eq!(records.len(), USERS);
    let changed = records.iter().filter(|r| r["roles"] != json!(["before"])).count();
    assert_eq!(changed, 0, "every user has the role as it was when the download began");
    // And the next download sees the change.
    let text = app.export_file(json!({"format": "ndjson", "search_keyword": "s00001@example.com"})).await;
    assert_eq!(ndjson(&text)[0]["roles"], json!(["after"]), "{text}");
}

/// Many downloads at once all complete: on PostgreSQL only one of them reads on three
/// pooled connections, so downloads waiting for more connections never hold the whole pool
/// (40 at once against a pool of 8 timed out with 500s when each took three).
#[tokio::test]
async fn forty_downloads_at_once_all_complete() {
    let app = spawn_app().await;
    app.seed_users("par", 3).await;
    let export = app.export(json!({"format": "ndjson"})).await;
    let url = export["download_url"].as_str().unwrap().to_owned();
    let downloads = (0..40).map(|_| {
        let (client, url) = (app.client.clone(), url.clone());
        async move {
            let res = client.get(url).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap_or_default())
        }
    });
    for (status, text) in futures::future::join_all(downloads).await {
        assert_eq!(status, 200, "{text}");
        assert_eq!(ndjson(&text).len(), 3);
    }
}
