//! Webhooks that never lose an event: a durable outbox written with the change, signed
//! deliveries, retries while the receiver is down, one user's events in order, the
//! delivery log and redelivery in the Admin API, and a restart in the middle.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use authgraph::config::{NonBlockingHandler, Secret};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_with};
use crate::webhook_receiver::{Mode, Receiver, expected_signature};

const SECRET: &str = "a-webhook-secret-for-tests";

async fn app_with_handler(receiver: &Receiver, events: &[&str]) -> TestApp {
    let url = receiver.url.clone();
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    spawn_with(move |c| {
        c.hook.webhook_secret = Some(Secret::new(SECRET));
        c.hook.delivery_timeout_seconds = 2;
        c.hook.non_blocking_handlers = vec![NonBlockingHandler { events, url }];
    })
    .await
}

async fn deliveries(app: &TestApp, filter: &str) -> Vec<Value> {
    let args = if filter.is_empty() { String::new() } else { format!("({filter})") };
    let q = format!(
        "{{ webhookDeliveries{args} {{ totalCount edges {{ node {{ id eventID seq eventType userID handlerURL status attempts nextAttemptAt lastStatusCode lastError deliveredAt event }} }} }} }}"
    );
    let d = app.ok(&q, json!({})).await;
    d["webhookDeliveries"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_event_exactly_once_signed() {
    let rx = Receiver::start(Mode::Down).await;
    let app = app_with_handler(&rx, &["*"]).await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(app.create_user(&format!("hook{i}@example.com"), None).await);
    }
    // The first attempts fail with 503 and are recorded in the delivery log.
    let start = std::time::Instant::now();
    loop {
        let pending = deliveries(&app, "statuses: [PENDING]").await;
        if pending.len() == 8 && pending.iter().all(|d| d["lastStatusCode"] == 503 && d["attempts"] == 1) {
            assert!(pending.iter().all(|d| d["lastError"] == "HTTP 503" && d["nextAttemptAt"].is_string()));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no failed attempt recorded: {pending:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rx.set(Mode::Up);
    let got = rx.wait_for(Duration::from_secs(30), "8 user.created events", |r| r.len() >= 8).await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = rx.received();
    assert_eq!(got_after.len(), got.len(), "no event arrives twice");
    assert_eq!(got.len(), 8);
    let ids: HashSet<&str> = got.iter().map(|r| r.json["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 8, "each event once");
    for r in &got {
        assert_eq!(r.signature, expected_signature(SECRET, &r.body), "valid x-authgear-body-signature");
        assert_ne!(r.signature, expected_signature("another secret", &r.body));
        let e = &r.json;
        assert_eq!(e["type"], "user.created");
        assert!(e["seq"].as_i64().unwrap() > 0);
        assert_eq!(e["context"]["triggered_by"], "admin_api");
        assert!(e["context"]["timestamp"].is_i64());
        let user = &e["payload"]["user"];
        assert!(user["standard_attributes"]["email"].as_str().unwrap().starts_with("hook"), "{e:#}");
        for key in ["is_anonymous", "is_verified", "is_disabled", "roles", "groups", "created_at", "can_reauthenticate"]
        {
            assert!(user.get(key).is_some(), "the payload's user has Authgear's `{key}`: {user:#}");
        }
    }
    let mut seqs: Vec<i64> = got.iter().map(|r| r.json["seq"].as_i64().unwrap()).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 8, "distinct seq values");
    let delivered = deliveries(&app, "statuses: [DELIVERED]").await;
    assert_eq!(delivered.len(), 8);
    assert!(delivered.iter().all(|d| d["attempts"].as_i64().unwrap() >= 2 && d["lastStatusCode"] == 200));
    assert!(delivered.iter().all(|d| d["deliveredAt"].is_string() && d["event"]["type"] == "user.created"));
    // The log filters by user and event type.
    let one = deliveries(&app, &format!("userID: \"{}\"", users[3])).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["userID"], users[3]);
    assert!(deliveries(&app, "eventTypes: [\"user.deleted\"]").await.is_empty());
}

#[tokio::test]
async fn one_users_events_arrive_in_commit_order_even_with_retries() {
    let rx = Receiver::start(Mode::Down).await;
    let events = [
        "admin_api.mutation.create_user.executed",
        "admin_api.mutation.update_user.executed",
        "admin_api.mutation.delete_user.executed",
    ];
    let app = app_with_handler(&rx, &events).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = app.create_user(&format!("order{i}@example.com"), None).await;
        app.ok(
            "mutation($id: ID!) { updateUser(input: {userID: $id, standardAttributes: {given_name: \"Ann\"}}) { user { id } } }",
            json!({"id": id}),
        )
        .await;
        app.ok("mutation($id: ID!) { deleteUser(input: {userID: $id}) { deletedUserID } }", json!({"id": id})).await;
        ids.push(id);
    }
    // While the receiver is down, only the first event of each user is attempted: the
    // later ones wait behind it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pending = deliveries(&app, "statuses: [PENDING]").await;
    assert_eq!(pending.len(), 9);
    for d in &pending {
        let first = d["eventType"] == events[0];
        assert_eq!(d["attempts"].as_i64().unwrap() > 0, first, "only each user's first event was tried: {d:#}");
    }
    rx.set(Mode::Up);
    let got = rx.wait_for(Duration::from_secs(30), "9 events", |r| r.len() >= 9).await;
    let mut per_user: HashMap<String, Vec<String>> = HashMap::new();
    for r in &got {
        let user = r.json["context"]["user_id"].as_str().unwrap().to_owned();
        per_user.entry(user).or_default().push(r.json["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(per_user.len(), 3);
    for (user, types) in per_user {
        assert_eq!(types, events.to_vec(), "user {user}: created, updated, deleted in that order");
    }
}

#[tokio::test]
async fn failed_deliveries_are_marked_failed_and_can_be_redelivered() {
    let rx = Receiver::start(Mode::Down).await;
    let url = rx.url.clone();
    let app = spawn_with(move |c| {
        c.hook.webhook_secret = Some(Secret::new(SECRET));
        c.hook.delivery_retry_hours = 0; // the first failure is final
        c.hook.non_blocking_handlers = vec![NonBlockingHandler { events: vec!["*".into()], url }];
    })
    .await;
    app.create_user("failed1@example.com", None).await;
    app.create_user("failed2@example.com", None).await;
    let start = std::time::Instant::now();
    let failed = loop {
        let failed = deliveries(&app, "statuses: [FAILED]").await;
        if failed.len() == 2 {
            break failed;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "deliveries never failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(failed.iter().all(|d| d["nextAttemptAt"].is_null() && d["lastStatusCode"] == 503));
    rx.set(Mode::Up);
    // One event by its ID, then every failed one in a time range.
    let d = app
        .ok(
            "mutation($e: ID!) { redeliverWebhookEvent(input: {eventID: $e}) { count } }",
            json!({"e": failed[0]["eventID"]}),
        )
        .await;
    assert_eq!(d["redeliverWebhookEvent"]["count"], 1);
    rx.wait_for(Duration::from_secs(10), "the redelivered event", |r| r.len() == 1).await;
    let d = app
        .ok(
            "mutation { redeliverFailedWebhookDeliveries(input: {rangeFrom: \"2020-01-01T00:00:00Z\"}) { count } }",
            json!({}),
        )
        .await;
    assert_eq!(d["redeliverFailedWebhookDeliveries"]["count"], 1);
    let got = rx.wait_for(Duration::from_secs(10), "both events", |r| r.len() == 2).await;
    let ids: HashSet<&str> = got.iter().map(|r| r.json["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    // Each redelivery is audited; an unknown event is NOT_FOUND; scopes are enforced.
    let logs = app
        .ok(
            "{ auditLogs(activityTypes: [ADMIN_API_MUTATION_REDELIVER_WEBHOOK_EVENT_EXECUTED, ADMIN_API_MUTATION_REDELIVER_FAILED_WEBHOOK_DELIVERIES_EXECUTED]) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(logs["auditLogs"]["totalCount"], 2);
    let unknown = authgraph::graphql::node::encode(authgraph::domain::ids::AuditLogId::generate());
    app.err(
        "mutation($e: ID!) { redeliverWebhookEvent(input: {eventID: $e}) { count } }",
        json!({"e": unknown}),
        "NOT_FOUND",
        None,
    )
    .await;
    let reader = app.token(&["user:read"]);
    let res = app.gql_as(&reader, "{ webhookDeliveries { totalCount } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res:#}");
    let hook_reader = app.token(&["hook:read"]);
    let res =
        app.gql_as(&hook_reader, "mutation { redeliverFailedWebhookDeliveries(input: {}) { count } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res:#}");
}

#[tokio::test]
async fn no_handler_writes_no_outbox_row_and_a_rolled_back_change_sends_nothing() {
    let rx = Receiver::start(Mode::Up).await;
    let app = app_with_handler(&rx, &["user.created"]).await;
    app.create_user("dup@example.com", None).await;
    // A refused change (duplicate login ID) rolls back with its event.
    app.err(
        "mutation { createUser(input: {definition: {loginID: {key: \"email\", value: \"dup@example.com\"}}}) { user { id } } }",
        json!({}),
        "CONFLICT",
        None,
    )
    .await;
    rx.wait_for(Duration::from_secs(10), "one event", |r| !r.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), 1, "the refused change sent nothing");
    // A server without handlers keeps no outbox.
    let plain = crate::helpers::spawn_app().await;
    plain.create_user("quiet@example.com", None).await;
    assert_eq!(deliveries(&plain, "").await.len(), 0);
}

/// A server process that is killed when the test ends, also when it fails.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &std::path::Path, config: &std::path::Path, listen: &str) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authgraph"))
        .current_dir(dir)
        .env_remove("AUTHGRAPH_DATABASE_URL")
        .env_remove("RUST_LOG")
        .args(["--config", config.to_str().unwrap(), "--listen", listen, "serve"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    lines.by_ref().map_while(Result::ok).find(|l| l.contains("authgraph is listening on")).expect("the server starts");
    // Keep draining its log so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Process(child)
}

#[tokio::test]
async fn killing_the_server_mid_delivery_loses_nothing() {
    let rx: Arc<Receiver> = Receiver::start(Mode::Hang).await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::helpers::fresh_database(&dir).await;
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\nmaster_key_file = \"{}\"\n[hook]\nwebhook_secret = \"{SECRET}\"\ndelivery_timeout_seconds = 1\n[[hook.non_blocking_handlers]]\nevents = [\"*\"]\nurl = \"{}\"\n",
            dir.path().join("m.key").display(),
            rx.url
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let server = serve(dir.path(), &config, &listen);
    let token = {
        let out = Command::new(env!("CARGO_BIN_EXE_authgraph"))
            .current_dir(dir.path())
            .env_remove("AUTHGRAPH_DATABASE_URL")
            .args(["--config", config.to_str().unwrap(), "--listen", &listen, "admin-token"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let client = reqwest::Client::new();
    for i in 0..5 {
        let res: Value = client
            .post(format!("http://{listen}/_api/admin/graphql"))
            .bearer_auth(&token)
            .json(&json!({"query": format!("mutation {{ createUser(input: {{definition: {{loginID: {{key: \"email\", value: \"kill{i}@example.com\"}}}}}}) {{ user {{ id }} }} }}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(res.get("errors").is_none(), "{res}");
    }
    // The worker is in the middle of sending: the receiver holds the requests.
    let start = std::time::Instant::now();
    while rx.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "no delivery started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server); // SIGKILL
    rx.set(Mode::Up);
    let _server = serve(dir.path(), &config, &listen);
    let got = rx
        .wait_for(Duration::from_secs(40), "the 5 events after the restart", |r| {
            r.iter().map(|x| x.json["id"].as_str().unwrap_or_default().to_owned()).collect::<HashSet<_>>().len() >= 5
        })
        .await;
    assert!(got.iter().all(|r| r.json["type"] == "user.created"));
    assert!(got.iter().all(|r| r.signature == expected_signature(SECRET, &r.body)));
}

#[tokio::test]
async fn two_processes_on_one_database_never_send_one_event_twice() {
    let rx = Receiver::start(Mode::Down).await;
    let a = app_with_handler(&rx, &["*"]).await;
    let (db, key, url) = (a.database_url.clone(), a.dir.path().join("master.key"), rx.url.clone());
    let b = spawn_with(move |c| {
        c.database_url = Secret::new(db);
        c.master_key_file = key;
        c.hook.webhook_secret = Some(Secret::new(SECRET));
        c.hook.delivery_timeout_seconds = 2;
        c.hook.non_blocking_handlers = vec![NonBlockingHandler { events: vec!["*".into()], url }];
    })
    .await;
    // Both processes write events while the receiver is down, so both workers hold
    // claims and retries on the same rows; then it comes back.
    let emails: Vec<String> = (0..20).map(|i| format!("two{i}@example.com")).collect();
    let creates = emails
        .iter()
        .enumerate()
        .map(|(i, e)| if i % 2 == 0 { a.create_user(e, None) } else { b.create_user(e, None) });
    futures::future::join_all(creates).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    rx.set(Mode::Up);
    rx.wait_for(Duration::from_secs(30), "20 events", |r| r.len() >= 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = rx.received();
    let ids: HashSet<&str> = got.iter().map(|r| r.json["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 20, "every event");
    assert_eq!(got.len(), 20, "none twice");
}
