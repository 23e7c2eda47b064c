//! TypeScript hooks inside the server: scripts managed through the Admin API (or read from
//! `hook.scripts_dir`), checked on save, tried with `testHookScript`, and run in a sandbox
//! that stops loops and runaway allocation, limits `fetch` to allowed hosts, and keeps the
//! server answering.

use std::time::{Duration, Instant};

use authgraph::config::{NonBlockingHandler, Secret};
use serde_json::{Value, json};

use crate::helpers::{TestApp, converges_within, spawn_app, spawn_with};
use crate::webhook_receiver::{Mode, Receiver};

const CREATE: &str = "mutation($n: String!, $s: String!) { createHookScript(input: {name: $n, source: $s}) { hookScript { name source createdAt updatedAt } } }";
const UPDATE: &str = "mutation($n: String!, $s: String!) { updateHookScript(input: {name: $n, source: $s}) { hookScript { name source updatedAt } } }";
const DELETE: &str = "mutation($n: String!) { deleteHookScript(input: {name: $n}) { ok } }";
const TEST: &str = "mutation($n: String!, $e: HookValue!) { testHookScript(input: {name: $n, event: $e}) { output error errorKind durationMs } }";

async fn create(app: &TestApp, name: &str, source: &str) {
    app.ok(CREATE, json!({"n": name, "s": source})).await;
}

async fn try_it(app: &TestApp, name: &str, event: Value) -> Value {
    app.ok(TEST, json!({"n": name, "e": event})).await["testHookScript"].clone()
}

/// The server still answers an Admin API query.
async fn still_answers(app: &TestApp) {
    let d = app.ok("{ hookScripts { name } }", json!({})).await;
    assert!(d["hookScripts"].is_array());
}

#[tokio::test]
async fn scripts_are_created_listed_updated_and_deleted_with_audit_rows() {
    let app = spawn_app().await;
    create(&app, "b.ts", "export default (e: any) => ({ is_allowed: true });").await;
    let d = app.ok(CREATE, json!({"n": "a.js", "s": "export default function (e) { return 1; }"})).await;
    assert_eq!(d["createHookScript"]["hookScript"]["name"], "a.js");
    let list = app.ok("{ hookScripts { name source } }", json!({})).await;
    let names: Vec<&str> =
        list["hookScripts"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.js", "b.ts"], "ordered by name");

    let d = app.ok(UPDATE, json!({"n": "b.ts", "s": "export default () => ({ is_allowed: false });"})).await;
    assert!(d["updateHookScript"]["hookScript"]["source"].as_str().unwrap().contains("false"));
    let one = app.ok("query($n: String!) { hookScript(name: $n) { name source } }", json!({"n": "b.ts"})).await;
    assert!(one["hookScript"]["source"].as_str().unwrap().contains("is_allowed: false"));
    assert_eq!(try_it(&app, "b.ts", json!({})).await["output"], json!({"is_allowed": false}));

    app.ok(DELETE, json!({"n": "b.ts"})).await;
    let gone = app.ok("query($n: String!) { hookScript(name: $n) { name } }", json!({"n": "b.ts"})).await;
    assert!(gone["hookScript"].is_null());
    app.err(DELETE, json!({"n": "b.ts"}), "NOT_FOUND", Some("HookScriptNotFound")).await;
    app.err(UPDATE, json!({"n": "zz.ts", "s": "export default () => 1"}), "NOT_FOUND", Some("HookScriptNotFound"))
        .await;
    app.err(TEST, json!({"n": "b.ts", "e": {}}), "NOT_FOUND", Some("HookScriptNotFound")).await;

    // Bad input is refused and changes nothing.
    let before = app.audit_count().await;
    app.err(CREATE, json!({"n": "a.js", "s": "export default () => 2"}), "CONFLICT", Some("DuplicatedHookScript"))
        .await;
    for bad in ["../x.ts", "x.py", "a b.ts", ".ts", &format!("{}.ts", "a".repeat(130))] {
        app.err(CREATE, json!({"n": bad, "s": "export default () => 1"}), "BAD_USER_INPUT", Some("InvalidScriptName"))
            .await;
    }
    let big = format!("export default () => 1;\n//{}", "x".repeat(100 * 1024));
    let e = app.err(CREATE, json!({"n": "big.ts", "s": big}), "BAD_USER_INPUT", Some("InvalidScript")).await;
    assert!(e["message"].as_str().unwrap().contains("102400"), "{e}");
    app.err(CREATE, json!({"n": "nul.ts", "s": "export default () => '\u{0}'"}), "BAD_USER_INPUT", None).await;
    assert_eq!(app.audit_count().await, before, "refusals write nothing");

    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_CREATE_HOOK_SCRIPT_EXECUTED").await, 2);
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_UPDATE_HOOK_SCRIPT_EXECUTED").await, 1);
    assert_eq!(app.audit_count_of("ADMIN_API_MUTATION_DELETE_HOOK_SCRIPT_EXECUTED").await, 1);
}

#[tokio::test]
async fn a_script_that_does_not_parse_is_refused_with_its_line_and_column() {
    let app = spawn_app().await;
    let src = "interface E { a: number }\nexport default function (e: E) {\n  return e.a +;\n}\n";
    let e = app.err(CREATE, json!({"n": "bad.ts", "s": src}), "BAD_USER_INPUT", Some("InvalidScript")).await;
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("line 3, column 15"), "{msg}");
    let e = app
        .err(
            CREATE,
            json!({"n": "imp.ts", "s": "\n  import fs from 'fs';\nexport default () => fs;"}),
            "BAD_USER_INPUT",
            None,
        )
        .await;
    assert!(e["message"].as_str().unwrap().contains("line 2, column 3: a script cannot import modules"), "{e}");
    let e = app.err(CREATE, json!({"n": "nodef.ts", "s": "const a = 1;"}), "BAD_USER_INPUT", None).await;
    assert!(e["message"].as_str().unwrap().contains("export default"), "{e}");
    // An update to a broken source keeps the old one.
    create(&app, "ok.ts", "export default () => 1;").await;
    app.err(UPDATE, json!({"n": "ok.ts", "s": "export default ( =>"}), "BAD_USER_INPUT", Some("InvalidScript")).await;
    assert_eq!(try_it(&app, "ok.ts", json!({})).await["output"], 1);
    assert!(app.ok("{ hookScripts { name } }", json!({})).await["hookScripts"].as_array().unwrap().len() == 1);
}

#[tokio::test]
async fn test_hook_script_runs_typescript_on_the_event() {
    let app = spawn_app().await;
    let src = r#"
interface Payload { user: { id: string; standard_attributes: { email?: string } } }
interface HookEvent { type: string; payload: Payload }
type Response = { is_allowed: boolean; mutations?: { jwt: { payload: Record<string, unknown> } } };
enum Tier { Free = "free", Pro = "pro" }

export default async function handler(e: HookEvent): Promise<Response> {
  const email: string = e.payload.user.standard_attributes.email ?? "";
  const tier: Tier = email.endsWith("@corp.example") ? Tier.Pro : Tier.Free;
  console.log("claims for", e.payload.user.id, { tier });
  console.error(new Error("logged, not thrown"));
  return { is_allowed: true, mutations: { jwt: { payload: { tier, domain: email.split("@")[1] as string } } } };
}
"#;
    create(&app, "claims.ts", src).await;
    let event = json!({"id": "ev-1", "type": "oidc.jwt.pre_create", "payload": {"user": {"id": "u1", "standard_attributes": {"email": "ann@corp.example"}}}});
    let r = try_it(&app, "claims.ts", event).await;
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(
        r["output"],
        json!({"is_allowed": true, "mutations": {"jwt": {"payload": {"tier": "pro", "domain": "corp.example"}}}})
    );
    assert!(r["durationMs"].as_f64().unwrap() >= 0.0);
    // A throw is reported, not a server error.
    create(
        &app,
        "throw.ts",
        "export default (e: { n: number }) => { if (e.n > 1) throw new RangeError(`too big: ${e.n}`); return e.n; };",
    )
    .await;
    let r = try_it(&app, "throw.ts", json!({"n": 5})).await;
    assert_eq!(r["errorKind"], "THROWN");
    assert!(r["error"].as_str().unwrap().contains("RangeError: too big: 5"), "{r}");
    assert!(r["output"].is_null());
    assert_eq!(try_it(&app, "throw.ts", json!({"n": 1})).await["output"], 1);
    // Console output by the kilobyte and many lines crashes nothing.
    create(
        &app,
        "noisy.js",
        "export default () => { for (let i = 0; i < 500; i++) console.log('x'.repeat(10000), i); return 'done'; }",
    )
    .await;
    assert_eq!(try_it(&app, "noisy.js", json!({})).await["output"], "done");
}

#[tokio::test]
async fn a_loop_is_interrupted_at_the_timeout_and_runaway_memory_is_stopped() {
    let app = spawn_with(|c| {
        c.hook.sync_hook_timeout_seconds = 1;
        c.hook.script_memory_limit_mib = 16;
    })
    .await;
    create(&app, "loop.ts", "export default function (): never { while (true) {} }").await;
    create(
        &app,
        "grow.ts",
        "export default () => { const a: number[][] = []; for (let i = 0; ; i++) a.push(new Array(100000).fill(i)); }",
    )
    .await;
    create(&app, "ok.ts", "export default (e: { a: number }) => e.a * 2;").await;
    for _ in 0..2 {
        let started = Instant::now();
        let r = try_it(&app, "loop.ts", json!({})).await;
        let took = started.elapsed();
        assert_eq!(r["errorKind"], "TIMEOUT", "{r}");
        assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(2500), "took {took:?}");
        let r = try_it(&app, "grow.ts", json!({})).await;
        assert_eq!(r["errorKind"], "OUT_OF_MEMORY", "{r}");
        assert!(r["durationMs"].as_f64().unwrap() < 1000.0, "stopped by memory, not time: {r}");
        assert_eq!(try_it(&app, "ok.ts", json!({"a": 21})).await["output"], 42);
        still_answers(&app).await;
    }
    // Several runaway scripts at once leave the rest of the server answering.
    let loops: Vec<_> = (0..4).map(|_| try_it(&app, "loop.ts", json!({}))).collect();
    let (_, results) = tokio::join!(still_answers(&app), futures::future::join_all(loops));
    assert!(results.iter().all(|r| r["errorKind"] == "TIMEOUT"));
    assert_eq!(try_it(&app, "ok.ts", json!({"a": 1})).await["output"], 2);
}

#[tokio::test]
async fn fetch_reaches_allowed_hosts_and_is_refused_elsewhere() {
    let rx = Receiver::start(Mode::Up).await;
    let host = rx.url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let app = spawn_with(move |c| c.hook.script_allowed_hosts = vec![host]).await;
    let src = r#"
export default async (e: { url: string }) => {
  const r = await fetch(e.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hello: "world" }) });
  return { status: r.status, ok: r.ok, text: await r.text(), type: r.headers.get("Content-Length") };
};
"#;
    create(&app, "fetch.ts", src).await;
    let r = try_it(&app, "fetch.ts", json!({"url": rx.url})).await;
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["output"]["status"], 200);
    assert_eq!(r["output"]["ok"], true);
    assert_eq!(r["output"]["type"], "0");
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json, json!({"hello": "world"}));

    // Another host, or the allowed host on another port, is refused without a request.
    for url in ["https://example.com/", "http://127.0.0.1:1/events"] {
        let r = try_it(&app, "fetch.ts", json!({"url": url})).await;
        assert_eq!(r["errorKind"], "FETCH_REFUSED", "{r}");
        assert!(r["error"].as_str().unwrap().contains("may not reach"), "{r}");
    }
    // A script can catch the refusal: a TypeError that names the host.
    create(&app, "catch.ts", "export default async () => { try { await fetch('http://internal.invalid/x'); return 'fetched'; } catch (e) { return String(e); } };").await;
    let r = try_it(&app, "catch.ts", json!({})).await;
    assert_eq!(
        r["output"],
        "TypeError: fetch: the host `internal.invalid` is not allowed (add it to hook.script_allowed_hosts)"
    );
    assert_eq!(rx.received().len(), 1, "nothing else reached the receiver");
}

#[tokio::test]
async fn a_token_without_hook_write_is_forbidden() {
    let app = spawn_app().await;
    let reader = app.token(&["hook:read"]);
    let res = app.gql_as(&reader, CREATE, json!({"n": "a.ts", "s": "export default () => 1"})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    create(&app, "a.ts", "export default () => 1").await;
    for q in [UPDATE, TEST] {
        let res = app.gql_as(&reader, q, json!({"n": "a.ts", "s": "export default () => 2", "e": {}})).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    }
    let res = app.gql_as(&reader, DELETE, json!({"n": "a.ts"})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    // hook:read reads; another area's scope does not.
    let res = app.gql_as(&reader, "{ hookScripts { name source } }", json!({})).await;
    assert_eq!(res["data"]["hookScripts"][0]["name"], "a.ts", "{res}");
    let users = app.token(&["user:read", "user:write"]);
    let res = app.gql_as(&users, "{ hookScripts { name } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    assert_eq!(try_it(&app, "a.ts", json!({})).await["output"], 1, "unchanged");
}

#[tokio::test]
async fn a_file_in_scripts_dir_is_used_unless_the_admin_api_has_that_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claims.ts");
    std::fs::write(&path, "export default (): string => 'from the file';").unwrap();
    std::fs::write(dir.path().join("..hidden.ts"), "export default () => 'dots';").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.ts"), "export default () => 'outside';").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret.ts"), dir.path().join("link.ts")).unwrap();
    let scripts_dir = dir.path().to_owned();
    let app = spawn_with(move |c| c.hook.scripts_dir = Some(scripts_dir)).await;

    assert_eq!(try_it(&app, "claims.ts", json!({})).await["output"], "from the file");
    assert_eq!(try_it(&app, "..hidden.ts", json!({})).await["output"], "dots");
    #[cfg(unix)]
    app.err(TEST, json!({"n": "link.ts", "e": {}}), "NOT_FOUND", Some("HookScriptNotFound")).await;
    app.err(TEST, json!({"n": "../x.ts", "e": {}}), "NOT_FOUND", Some("HookScriptNotFound")).await;
    // A changed file is read again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(&path, "export default (): string => 'the file, edited today';").unwrap();
    assert_eq!(try_it(&app, "claims.ts", json!({})).await["output"], "the file, edited today");
    // The Admin API's script of that name wins; deleting it brings the file back.
    create(&app, "claims.ts", "export default () => 'from the Admin API';").await;
    assert_eq!(try_it(&app, "claims.ts", json!({})).await["output"], "from the Admin API");
    app.ok(DELETE, json!({"n": "claims.ts"})).await;
    assert_eq!(try_it(&app, "claims.ts", json!({})).await["output"], "the file, edited today");
}

#[tokio::test]
async fn another_process_runs_the_new_source_within_a_second() {
    let first = spawn_app().await;
    create(&first, "v.ts", "export default () => 1;").await;
    let url = first.database_url.clone();
    let key = first.dir.path().join("master.key");
    let second = spawn_with(move |c| {
        c.database_url = Secret::new(url);
        c.master_key_file = key;
    })
    .await;
    assert_eq!(try_it(&second, "v.ts", json!({})).await["output"], 1, "cached in the second process");
    first.ok(UPDATE, json!({"n": "v.ts", "s": "export default () => 2;"})).await;
    converges_within(Duration::from_secs(1), || async { try_it(&second, "v.ts", json!({})).await["output"] == 2 })
        .await;
    first.ok(DELETE, json!({"n": "v.ts"})).await;
    converges_within(Duration::from_secs(1), || async {
        !second.gql(TEST, json!({"n": "v.ts", "e": {}})).await["errors"].is_null()
    })
    .await;
}

#[tokio::test]
async fn a_non_blocking_script_handler_runs_for_each_event_and_failures_are_retried() {
    let rx = Receiver::start(Mode::Up).await;
    let host = rx.url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let target = rx.url.clone();
    let app = spawn_with(move |c| {
        c.hook.script_allowed_hosts = vec![host];
        c.hook.non_blocking_handlers = vec![
            NonBlockingHandler { events: vec!["user.created".into()], url: "authgeardeno:///deno/forward.ts".into() },
            NonBlockingHandler { events: vec!["user.created".into()], url: "authgeardeno:///deno/missing.ts".into() },
        ];
    })
    .await;
    let src = format!(
        "type Ev = {{ id: string; type: string; payload: {{ user: {{ id: string }} }} }};\nexport default async (e: Ev) => {{ await fetch({target:?}, {{ method: 'POST', body: JSON.stringify({{ type: e.type, id: e.id }}) }}); }};"
    );
    create(&app, "forward.ts", &src).await;
    app.create_user("script-hook@example.com", None).await;
    let got = rx.wait_for(Duration::from_secs(10), "the script's request", |r| !r.is_empty()).await;
    assert_eq!(got[0].json["type"], "user.created");
    let q = "{ webhookDeliveries { edges { node { handlerURL status attempts lastError } } } }";
    let start = Instant::now();
    loop {
        let d = app.ok(q, json!({})).await;
        let nodes: Vec<Value> =
            d["webhookDeliveries"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
        let forward = nodes.iter().find(|n| n["handlerURL"] == "authgeardeno:///deno/forward.ts");
        let missing = nodes.iter().find(|n| n["handlerURL"] == "authgeardeno:///deno/missing.ts");
        if let (Some(f), Some(m)) = (forward, missing)
            && f["status"] == "DELIVERED"
            && m["attempts"].as_i64().unwrap_or(0) >= 1
            && !m["lastError"].is_null()
        {
            assert_eq!(m["status"], "PENDING", "a missing script is retried like a failing webhook");
            assert!(m["lastError"].as_str().unwrap().contains("no hook script is named `missing.ts`"), "{m}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "deliveries: {nodes:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
