//! Bulk import: Authgear's REST endpoints (JSON, NDJSON and CSV bodies), the GraphQL
//! mutation and query, the CLI with an interrupted and resumed run, upsert, dry run, bad
//! records among good ones, sign-in with an imported hash, and 100,000 users.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::rp::Browser;

const PW: &str = "correct horse battery staple";

/// An Argon2id hash of `PW` with parameters other than the server's (as another system
/// would have made it).
fn foreign_argon2(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8192, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    a.hash_password(password.as_bytes(), &salt).unwrap().to_string()
}

async fn post(app: &TestApp, token: &str, path: &str, content_type: &str, body: String) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{}{path}", app.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn job(app: &TestApp, id: &str) -> Value {
    let token = app.token(&["user:read"]);
    let res =
        app.client.get(format!("{}/_api/admin/users/import/{id}", app.url)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["result"].clone()
}

/// Polls the job until it ends.
async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..1200 {
        let j = job(app, id).await;
        if !matches!(j["status"].as_str(), Some("pending" | "running")) {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import {id} did not finish");
}

async fn import_json(app: &TestApp, body: Value) -> Value {
    let token = app.token(&["user:write"]);
    let (status, res) = post(app, &token, "/_api/admin/users/import", "application/json", body.to_string()).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["result"]["status"], "pending");
    finished(app, res["result"]["id"].as_str().unwrap()).await
}

async fn user_by_email(app: &TestApp, email: &str) -> Value {
    let d = app
        .ok(
            "query($e: String!) { getUserByLoginID(loginIDKey: \"email\", loginIDValue: $e) {
                id standardAttributes isDisabled roles { edges { node { key } } } groups { edges { node { key } } }
                secondaryTOTPAuthenticators { id } secondaryOOBOTPEmailAuthenticators { id } } }",
            json!({"e": email}),
        )
        .await;
    d["getUserByLoginID"].clone()
}

fn keys(list: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        list["edges"].as_array().unwrap().iter().map(|e| e["node"]["key"].as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

async fn seed_roles(app: &TestApp) {
    for (kind, key) in [("Role", "admin"), ("Role", "viewer"), ("Group", "staff")] {
        app.ok(
            &format!("mutation {{ create{kind}(input: {{key: \"{key}\"}}) {{ {} {{ id }} }} }}", kind.to_lowercase()),
            json!({}),
        )
        .await;
    }
}

#[tokio::test]
async fn rest_import_inserts_skips_fails_and_the_password_signs_in() {
    let app = spawn_app().await;
    seed_roles(&app).await;
    app.create_user("old@example.com", None).await;
    let sub = "0192f0e4-0000-7000-8000-000000000001";
    let body = json!({
        "upsert": false,
        "identifier": "email",
        "records": [
            {"email": "ann@example.com", "email_verified": true, "name": "Ann Lee", "preferred_username": "ann",
             "roles": ["admin"], "groups": ["staff"], "sub": sub, "created_at": "2020-01-02T03:04:05Z",
             "password": {"type": "argon2", "password_hash": foreign_argon2(PW)},
             "mfa": {"email": "ann.mfa@example.com", "totp": {"secret": "JBSWY3DPEHPK3PXPJBSWY3DP"}}},
            {"email": "not-an-email"},
            {"email": "bob@example.com", "roles": ["nobody"]},
            {"email": "old@example.com", "name": "Should not change"},
            {"phone_number": "+85298765432"},
            {"email": "cat@example.com", "password": {"type": "md5", "password_hash": "abc"}},
            {"email": "dan@example.com", "unknown_field": 1},
            {"email": "nul\0@example.com", "name": "N\0L", "n\0": "\0"},
        ]
    });
    let j = import_json(&app, body).await;
    assert_eq!(j["status"], "completed", "{j:#}");
    assert_eq!(j["summary"], json!({"total": 8, "inserted": 1, "updated": 0, "skipped": 1, "failed": 6}), "{j:#}");
    let d = j["details"].as_array().unwrap();
    let outcomes: Vec<&str> = d.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["inserted", "failed", "failed", "skipped", "failed", "failed", "failed", "failed"]);
    assert!(!d[7]["record"].to_string().contains("\\u0000"), "NUL is never stored: {:#}", d[7]);
    assert_eq!(d[0]["user_id"], sub, "the given sub is the user ID");
    assert_eq!(d[1]["errors"][0]["reason"], "InvalidEmail", "{:#}", d[1]);
    assert_eq!(d[2]["errors"][0]["reason"], "RoleNotFound");
    assert_eq!(d[4]["errors"][0]["reason"], "InvalidImportRecord", "no identifier");
    assert_eq!(d[5]["errors"][0]["reason"], "InvalidPasswordHash");
    assert_eq!(d[5]["record"]["password"]["password_hash"], "REDACTED", "secrets never come back");
    assert!(d[6]["errors"][0]["message"].as_str().unwrap().contains("unknown_field"));

    let ann = user_by_email(&app, "ann@example.com").await;
    assert_eq!(ann["standardAttributes"]["name"], "Ann Lee");
    assert_eq!(ann["standardAttributes"]["email_verified"], true);
    assert_eq!(ann["standardAttributes"]["preferred_username"], "ann");
    assert_eq!(keys(&ann["roles"]), ["admin"]);
    assert_eq!(keys(&ann["groups"]), ["staff"]);
    assert_eq!(ann["secondaryTOTPAuthenticators"].as_array().unwrap().len(), 1);
    assert_eq!(ann["secondaryOOBOTPEmailAuthenticators"].as_array().unwrap().len(), 1);
    let old = user_by_email(&app, "old@example.com").await;
    assert!(old["standardAttributes"].get("name").is_none(), "skipped without upsert");
    assert!(user_by_email(&app, "bob@example.com").await.is_null(), "a failed record writes nothing");

    // The imported hash signs in (by the username too) and a wrong password does not.
    // Ann has second factors, so the password step leads to the second-factor page.
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, _) = browser.login(&login, "ann", "wrong password").await.page();
    assert_eq!(s, 401);
    let (s, page) = browser.login(&login, "ann", PW).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(!page.contains("Incorrect"), "{page}");

    let audit = app.audit_count_of("ADMIN_API_MUTATION_IMPORT_USERS_EXECUTED").await;
    assert_eq!(audit, 1);
    assert!(app.audit_count_of("USER_IMPORT_BATCH_COMMITTED").await >= 1);
    assert_eq!(app.audit_count_of("USER_IMPORT_COMPLETED").await, 1);
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1, "only old@ (createUser): imports fire no user.created");
}

#[tokio::test]
async fn upsert_changes_only_named_fields_and_dry_run_changes_nothing() {
    let app = spawn_app().await;
    seed_roles(&app).await;
    let first = json!({"identifier": "email", "records": [
        {"email": "eve@example.com", "name": "Eve", "given_name": "Eve", "roles": ["admin", "viewer"], "disabled": true},
    ]});
    assert_eq!(import_json(&app, first).await["summary"]["inserted"], 1);

    // A dry run reports what would happen and writes nothing.
    let dry = json!({"identifier": "email", "upsert": true, "dry_run": true, "records": [
        {"email": "eve@example.com", "name": "Changed"},
        {"email": "fay@example.com"},
        {"email": "bad"},
    ]});
    let j = import_json(&app, dry).await;
    assert_eq!(j["summary"], json!({"total": 3, "inserted": 1, "updated": 1, "skipped": 0, "failed": 1}), "{j:#}");
    assert!(user_by_email(&app, "fay@example.com").await.is_null(), "a dry run inserts nothing");
    assert_eq!(user_by_email(&app, "eve@example.com").await["standardAttributes"]["name"], "Eve");

    let upsert = json!({"identifier": "email", "upsert": true, "records": [
        {"email": "eve@example.com", "name": "Eve Two", "roles": ["viewer"], "disabled": false},
    ]});
    let j = import_json(&app, upsert).await;
    assert_eq!(j["summary"]["updated"], 1, "{j:#}");
    let eve = user_by_email(&app, "eve@example.com").await;
    assert_eq!(eve["standardAttributes"]["name"], "Eve Two");
    assert_eq!(eve["standardAttributes"]["given_name"], "Eve", "fields the record does not name stay");
    assert_eq!(keys(&eve["roles"]), ["viewer"], "roles become exactly the record's");
    assert_eq!(eve["isDisabled"], false);
}

#[tokio::test]
async fn ndjson_and_csv_bodies_stream_and_scopes_are_checked() {
    let app = spawn_app().await;
    seed_roles(&app).await;
    let write = app.token(&["user:write"]);
    let mut ndjson = String::new();
    for i in 0..2500 {
        ndjson.push_str(&json!({"email": format!("n{i}@example.com"), "groups": ["staff"]}).to_string());
        ndjson.push('\n');
    }
    ndjson.push_str("{not json\n");
    let (s, res) =
        post(&app, &write, "/_api/admin/users/import?identifier=email", "application/x-ndjson", ndjson).await;
    assert_eq!(s, 200, "{res}");
    let j = finished(&app, res["result"]["id"].as_str().unwrap()).await;
    assert_eq!(
        j["summary"],
        json!({"total": 2501, "inserted": 2500, "updated": 0, "skipped": 0, "failed": 1}),
        "{j:#}"
    );
    assert_eq!(j["details"][2500]["errors"][0]["reason"], "InvalidImportRecord");
    let count = app.ok("{ users(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(count["users"]["totalCount"], 2500);

    let csv = "email,name,roles,email_verified\nc1@example.com,Cee One,admin viewer,true\nc2@example.com,,,false\nc3@example.com,x,,maybe\n";
    let (s, res) = post(&app, &write, "/_api/admin/users/import?identifier=email", "text/csv", csv.into()).await;
    assert_eq!(s, 200, "{res}");
    let j = finished(&app, res["result"]["id"].as_str().unwrap()).await;
    assert_eq!(j["summary"]["inserted"], 2, "{j:#}");
    assert_eq!(j["summary"]["failed"], 1);
    let c1 = user_by_email(&app, "c1@example.com").await;
    assert_eq!(keys(&c1["roles"]), ["admin", "viewer"]);
    assert_eq!(c1["standardAttributes"]["email_verified"], true);

    // A read-only token may read a job, not start one; a bad body is a clear 400.
    let read = app.token(&["user:read"]);
    let (s, res) = post(&app, &read, "/_api/admin/users/import", "application/json", "{}".into()).await;
    assert_eq!((s, res["error"]["reason"].as_str()), (403, Some("InsufficientScope")), "{res}");
    let (s, res) = post(&app, &write, "/_api/admin/users/import", "application/json", "{\"records\": []}".into()).await;
    assert_eq!(s, 400, "{res}");
    let (s, res) = post(
        &app,
        &write,
        "/_api/admin/users/import",
        "application/json",
        json!({"identifier": "nickname", "records": [{}]}).to_string(),
    )
    .await;
    assert_eq!((s, res["error"]["reason"].as_str()), (400, Some("InvalidUserImport")), "{res}");
    let (s, _) = post(&app, &write, "/_api/admin/users/import", "text/plain", "x".into()).await;
    assert_eq!(s, 415);
    let res =
        app.client.get(format!("{}/_api/admin/users/import/nope", app.url)).bearer_auth(&read).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

/// Imported users are found by a keyword in the list's order, by the creation time each
/// record gives (on PostgreSQL an import writes it on the identities itself).
#[tokio::test]
async fn imported_users_are_searched_in_their_creation_order() {
    let app = spawn_app().await;
    let records: Vec<Value> = [("qzx-b", "2022"), ("qzx-c", "2020"), ("qzx-a", "2021")]
        .iter()
        .map(|(name, year)| json!({"email": format!("{name}@example.com"), "created_at": format!("{year}-05-01T00:00:00Z")}))
        .collect();
    let j = import_json(&app, json!({"identifier": "email", "records": records})).await;
    assert_eq!(j["summary"]["inserted"], 3, "{j:#}");
    let q = "{ users(searchKeyword: \"qzx-\", first: 10) { edges { node { standardAttributes } } } }";
    let d = app.ok(q, json!({})).await;
    let emails: Vec<&str> = d["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["standardAttributes"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["qzx-b@example.com", "qzx-a@example.com", "qzx-c@example.com"], "newest first");
}

/// Batches of 4,000 records are written two at a time on PostgreSQL. A record whose login
/// ID or `sub` repeats one of an earlier batch still sees that batch's user, and the job's
/// counts and details come out as if the batches ran one after the other.
#[tokio::test]
async fn a_later_batch_sees_the_users_of_the_batches_before_it() {
    let app = spawn_app().await;
    let write = app.token(&["user:write"]);
    let sub = |i: u32| format!("0192f0e4-0000-7000-8000-{i:012}");
    let mut ndjson = String::new();
    for i in 0..12_000u32 {
        let record = match i {
            // The first batch's record 5, updated.
            4_100 => json!({"email": "r5@example.com", "name": "Changed"}),
            // The first batch's record 6's `sub`, taken.
            4_200 => json!({"email": "new@example.com", "sub": sub(6)}),
            // The second batch's record 4,150, from the third.
            8_300 => json!({"email": "r4150@example.com", "name": "Again"}),
            _ => json!({"email": format!("r{i}@example.com"), "sub": sub(i), "name": format!("R {i}")}),
        };
        ndjson.push_str(&record.to_string());
        ndjson.push('\n');
    }
    let (s, res) =
        post(&app, &write, "/_api/admin/users/import?identifier=email&upsert=true", "application/x-ndjson", ndjson)
            .await;
    assert_eq!(s, 200, "{res}");
    let j = finished(&app, res["result"]["id"].as_str().unwrap()).await;
    assert_eq!(
        j["summary"],
        json!({"total": 12_000, "inserted": 11_997, "updated": 2, "skipped": 0, "failed": 1}),
        "{j:#}"
    );
    let d = j["details"].as_array().unwrap();
    assert_eq!((d[4_100]["outcome"].as_str(), d[4_100]["user_id"].as_str()), (Some("updated"), Some(&*sub(5))));
    assert_eq!(d[4_200]["outcome"], "failed", "{:#}", d[4_200]);
    assert_eq!(d[8_300]["outcome"], "updated");
    let (token, id) = (app.token(&["user:read"]), j["id"].as_str().unwrap());
    let url = format!("{}/_api/admin/users/import/{id}?offset=11999", app.url);
    let last: Value = app.client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(last["result"]["details"][0]["user_id"].as_str(), Some(&*sub(11_999)), "{last:#}");
    assert_eq!(user_by_email(&app, "r5@example.com").await["standardAttributes"]["name"], "Changed");
    assert_eq!(user_by_email(&app, "r4150@example.com").await["standardAttributes"]["name"], "Again");
    assert!(user_by_email(&app, "new@example.com").await.is_null());
    let count = app.ok("{ users(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(count["users"]["totalCount"], 11_997);
}

/// A login ID that a concurrent writer takes after a batch looked it up. On PostgreSQL the
/// batch's insert waits for the other transaction and then fails on the unique index; the
/// batch is written again, now seeing the other writer's user, so only that record is
/// skipped, both batches go in whole and in order, and each is still one transaction. On
/// SQLite writers take turns, so the other writer commits first; the outcome is the same.
#[tokio::test]
async fn a_login_id_taken_by_a_concurrent_writer_is_seen_when_the_batch_is_written_again() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    let holder = app.create_user("holder@example.com", None).await;
    let postgres = app.database_url.starts_with("postgres");
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    // The other writer: the holder's email becomes `r5@example.com`, not yet committed.
    let other = db.begin().await.unwrap();
    other
        .execute_unprepared(
            "UPDATE identities SET unique_key = 'r5@example.com', value = 'r5@example.com', \
             original_value = 'r5@example.com' WHERE unique_key = 'holder@example.com'",
        )
        .await
        .unwrap();
    // SQLite has one writer at a time: the import could not even be queued.
    let other = if postgres {
        Some(other)
    } else {
        other.commit().await.unwrap();
        None
    };
    let mut ndjson = String::new();
    for i in 0..6_000u32 {
        ndjson.push_str(&json!({"email": format!("r{i}@example.com")}).to_string());
        ndjson.push('\n');
    }
    let write = app.token(&["user:write"]);
    let (s, res) = post(&app, &write, "/_api/admin/users/import", "application/x-ndjson", ndjson).await;
    assert_eq!(s, 200, "{res}");
    if postgres {
        // The import's insert of `r5@example.com` waits for the other transaction.
        let watcher = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
        let mut waiting = false;
        for _ in 0..400 {
            let row = watcher
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*) FROM pg_locks WHERE NOT granted",
                ))
                .await
                .unwrap()
                .unwrap();
            if row.try_get_by_index::<i64>(0).unwrap() > 0 {
                waiting = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(waiting, "the import never waited for the other writer");
    }
    if let Some(other) = other {
        other.commit().await.unwrap();
    }
    let j = finished(&app, res["result"]["id"].as_str().unwrap()).await;
    assert_eq!(j["status"], "completed", "{j:#}");
    assert_eq!(
        j["summary"],
        json!({"total": 6_000, "inserted": 5_999, "updated": 0, "skipped": 1, "failed": 0}),
        "{j:#}"
    );
    let d = j["details"].as_array().unwrap();
    let raw = crate::hook_code_sign_in::uuid_of(&holder);
    assert_eq!((d[5]["outcome"].as_str(), d[5]["user_id"].as_str()), (Some("skipped"), Some(&*raw)), "{:#}", d[5]);
    assert_eq!((d[4]["outcome"].as_str(), d[6]["outcome"].as_str()), (Some("inserted"), Some("inserted")));
    assert_eq!(app.audit_count_of("USER_IMPORT_BATCH_COMMITTED").await, 2, "one transaction per batch");
    assert_eq!(total_users(&app).await, 6_000, "the holder and every other record");
    assert_eq!(user_by_email(&app, "r5@example.com").await["id"].as_str(), Some(&*holder), "the other writer's");
    db.close().await.unwrap();
}

#[tokio::test]
async fn graphql_import_jobs_run_one_at_a_time_and_can_be_cancelled() {
    let app = spawn_app().await;
    // The first job (streamed NDJSON: a GraphQL request is at most 1 MB) is long enough
    // that the third still waits when it is cancelled; the second imports the first's
    // first 5,000 users again.
    let (mut long, mut text) = (String::new(), String::new());
    for i in 0..60_000 {
        let line = json!({"email": format!("g{i}@example.com")}).to_string();
        long.push_str(&line);
        long.push('\n');
        if i < 5000 {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let start = "mutation($t: String!) { importUsers(input: {identifier: EMAIL, text: $t}) { import { id status } } }";
    let write = app.token(&["user:write"]);
    let (s, res) = post(&app, &write, "/_api/admin/users/import?identifier=email", "application/x-ndjson", long).await;
    assert_eq!(s, 200, "{res}");
    let a = res["result"]["id"].as_str().unwrap().to_owned();
    let b = app.ok(start, json!({"t": text})).await["importUsers"]["import"]["id"].as_str().unwrap().to_owned();
    let c = app.ok(start, json!({"t": text})).await["importUsers"]["import"]["id"].as_str().unwrap().to_owned();
    let cancel = "mutation($id: ID!) { cancelUserImport(input: {id: $id}) { import { id } } }";
    app.ok(cancel, json!({"id": c})).await;
    let ja = finished(&app, &a).await;
    let jb = finished(&app, &b).await;
    let jc = finished(&app, &c).await;
    assert_eq!(ja["summary"]["inserted"], 60_000, "{ja:#}");
    assert_eq!(jb["summary"]["skipped"], 5000, "the second import sees the first's users: {jb:#}");
    assert_eq!(jc["status"], "cancelled", "{jc:#}");
    // Compared as instants, as a client should.
    let at = |v: &Value| {
        time::OffsetDateTime::parse(v.as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let (a_end, b_start) = (at(&ja["completed_at"]), at(&jb["started_at"]));
    for t in [&ja["created_at"], &ja["started_at"], &ja["completed_at"], &jb["started_at"]] {
        let t = t.as_str().unwrap();
        assert!(t.len() == 27 && &t[19..20] == "." && t.ends_with('Z'), "UTC with microseconds: {t}");
    }
    assert!(b_start >= a_end, "b started {b_start} before a ended {a_end}");

    let q = "query($id: ID!) { userImport(id: $id) { status processed summary { total inserted failed } details(offset: 59998, first: 10) { index outcome userID } } }";
    let d = app.ok(q, json!({"id": a})).await;
    let u = &d["userImport"];
    assert_eq!(u["status"], "completed");
    assert_eq!(u["processed"], 60_000);
    assert_eq!(u["details"].as_array().unwrap().len(), 2);
    assert_eq!(u["details"][1]["index"], 59_999);
    let res = app.gql_as(&app.token(&["user:read"]), start, json!({"t": "{}"})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN");
    app.err(cancel, json!({"id": a}), "BAD_USER_INPUT", Some("InvalidUserImport")).await;
}

/// A job waiting behind a long one reads `cancelled` as soon as it is cancelled, while the
/// long one still runs (and the long one is not disturbed).
#[tokio::test]
async fn a_waiting_job_cancels_at_once() {
    let app = spawn_app().await;
    let write = app.token(&["user:write"]);
    let mut long = String::new();
    for i in 0..60_000 {
        long.push_str(&json!({"email": format!("w{i}@example.com")}).to_string());
        long.push('\n');
    }
    let path = "/_api/admin/users/import?identifier=email";
    let (s, res) = post(&app, &write, path, "application/x-ndjson", long).await;
    assert_eq!(s, 200, "{res}");
    let a = res["result"]["id"].as_str().unwrap().to_owned();
    let (s, res) = post(&app, &write, path, "application/x-ndjson", "{\"email\": \"late@example.com\"}\n".into()).await;
    assert_eq!(s, 200, "{res}");
    let b = res["result"]["id"].as_str().unwrap().to_owned();
    let cancel = "mutation($id: ID!) { cancelUserImport(input: {id: $id}) { import { id } } }";
    app.ok(cancel, json!({"id": b})).await;
    let jb = finished(&app, &b).await;
    assert_eq!(jb["status"], "cancelled", "{jb:#}");
    let ja = job(&app, &a).await;
    assert!(matches!(ja["status"].as_str(), Some("pending" | "running")), "60,000 records are not done yet: {ja:#}");
    let ja = finished(&app, &a).await;
    assert_eq!(ja["summary"]["inserted"], 60_000, "{ja:#}");
    assert_eq!(finished(&app, &b).await["summary"]["inserted"], 0);
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authgraph"));
    cmd.env_remove("AUTHGRAPH_DATABASE_URL");
    cmd
}

fn cli(app: &TestApp, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(app.dir.path())
        .env("AUTHGRAPH_DATABASE_URL", &app.database_url)
        .env("AUTHGRAPH_MASTER_KEY_FILE", app.dir.path().join("master.key"))
        .arg("import")
        .args(args);
    cmd
}

/// A file with bad records among good ones: the CLI imports the good ones, names the bad
/// ones on stderr and succeeds (on PostgreSQL it once panicked reading the outcomes).
#[tokio::test]
async fn cli_names_the_failed_records_and_imports_the_rest() {
    let app = spawn_app().await;
    let file = app.dir.path().join("mixed.ndjson");
    let lines = [
        json!({"email": "good1@example.com"}).to_string(),
        json!({"email": "not an email"}).to_string(),
        "{ not json".to_owned(),
        json!({"email": "good2@example.com"}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = cli(&app, &[file.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 inserted") && stderr.contains("2 failed"), "{stderr}");
    assert!(stderr.contains("record 1:") && stderr.contains("record 2:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(total_users(&app).await, 2);
}

async fn total_users(app: &TestApp) -> i64 {
    app.ok("{ users(first: 1) { totalCount } }", json!({})).await["users"]["totalCount"].as_i64().unwrap()
}

/// 100,000 users through the CLI: killed in the middle, every committed batch is whole
/// and the job says where it stopped; `--resume` finishes it; counts, roles and groups.
#[tokio::test]
async fn cli_imports_100k_users_survives_a_kill_and_resumes() {
    let app = spawn_app().await;
    seed_roles(&app).await;
    let file = app.dir.path().join("users.ndjson");
    let mut text = String::with_capacity(8_000_000);
    for i in 0..100_000 {
        let roles = if i % 2 == 0 { json!(["admin"]) } else { json!(["viewer"]) };
        text.push_str(&json!({"email": format!("u{i}@example.com"), "roles": roles, "groups": ["staff"]}).to_string());
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();

    let mut child = cli(&app, &[path]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // The job ID is on the first line the CLI prints.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60)).expect("the CLI prints the job");
    let id = first.split_whitespace().nth(1).unwrap().to_owned();
    let mut processed = 0;
    for _ in 0..600 {
        processed = job(&app, &id).await["processed"].as_i64().unwrap();
        if processed >= 5000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(processed > 0, "the import got going");
    let j = job(&app, &id).await;
    assert_eq!(j["status"], "running", "the dead process's lease has not lapsed yet: {j:#}");
    let stopped = j["processed"].as_i64().unwrap();
    assert!(stopped < 100_000, "killed before the end: {j:#}");
    assert_eq!(stopped % 1000, 0, "whole batches only: {j:#}");
    assert_eq!(total_users(&app).await, stopped, "exactly the committed records are in");
    // Once the dead process's lease lapses (made to lapse now), the job reads as interrupted.
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
        db.execute_unprepared("UPDATE job_locks SET held_until = 0").await.unwrap();
        db.close().await.unwrap();
    }
    let j = job(&app, &id).await;
    assert_eq!(j["status"], "interrupted", "{j:#}");
    assert!(j["error"]["message"].as_str().unwrap().contains("processed"));

    let out = cli(&app, &[path, "--resume", &id]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("processed") || err.contains("completed"), "{err}");
    let j = job(&app, &id).await;
    assert_eq!(j["status"], "completed", "{j:#}");
    assert_eq!(j["summary"]["inserted"], 100_000, "{j:#}");
    assert_eq!(total_users(&app).await, 100_000);
    let d = app
        .ok(
            "{ a: users(roleKeys: [\"admin\"]) { totalCount }
               v: users(roleKeys: [\"viewer\"]) { totalCount }
               s: users(groupKeys: [\"staff\"]) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["a"]["totalCount"], 50_000, "{d}");
    assert_eq!(d["v"]["totalCount"], 50_000);
    assert_eq!(d["s"]["totalCount"], 100_000);

    // A bad file is a clear failure, not a panic.
    let out = cli(&app, &["/nonexistent.ndjson"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}
