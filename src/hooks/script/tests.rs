use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

fn engine(timeout_ms: u64) -> ScriptEngine {
    ScriptEngine::new(ScriptLimits {
        timeout: Duration::from_millis(timeout_ms),
        memory_bytes: 16 * 1024 * 1024,
        allowed_hosts: vec!["127.0.0.1:9".to_owned()],
    })
}

#[tokio::test]
async fn typescript_runs_and_returns_json() {
    let e = engine(2000);
    let src = "interface Ev { payload: { n: number } }\nexport default async function (ev: Ev): Promise<object> {\n  const n: number = ev.payload.n;\n  console.log('doubling', n, { n });\n  return { doubled: n * 2, now: typeof Date.now() };\n}\n";
    let out = e.run("a.ts", src, json!({"payload": {"n": 21}}), "ev1").await.expect("runs");
    assert_eq!(out, json!({"doubled": 42, "now": "number"}));
    // Undefined is null, and a synchronous default export works.
    assert_eq!(e.run("b.js", "export default () => {}", json!({}), "ev2").await, Ok(json!(null)));
}

#[tokio::test]
async fn failures_are_classified() {
    // A generous limit for the runs that must not time out (debug builds on busy machines),
    // a short one for the loops.
    let e = engine(5000);
    let short = engine(300);
    let thrown = e.run("t.ts", "export default () => { throw new Error('nope'); }", json!({}), "x").await;
    assert_eq!(thrown, Err(ScriptError::Thrown("Error: nope".to_owned())));
    let rejected = e.run("r.ts", "export default async () => { throw new TypeError('bad'); }", json!({}), "x").await;
    assert_eq!(rejected, Err(ScriptError::Thrown("TypeError: bad".to_owned())));
    assert_eq!(e.run("n.ts", "export default 42;", json!({}), "x").await, Err(ScriptError::NotAFunction));
    assert!(matches!(
        e.run("o.ts", "export default () => ({ big: 10n })", json!({}), "x").await,
        Err(ScriptError::BadOutput(_))
    ));
    let started = Instant::now();
    assert_eq!(
        short.run("l.ts", "export default () => { for (;;) {} }", json!({}), "x").await,
        Err(ScriptError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_millis(2000), "{:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(
        short.run("la.ts", "export default async () => { await null; while (true) {} }", json!({}), "x").await,
        Err(ScriptError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_millis(2000));
    let started = Instant::now();
    let oom = engine(5000)
        .run(
            "m.ts",
            "export default () => { const a = []; for (;;) a.push('x'.repeat(1000) + a.length); }",
            json!({}),
            "x",
        )
        .await;
    assert_eq!(oom, Err(ScriptError::OutOfMemory), "after {:?}", started.elapsed());
    let deep = e.run("s.ts", "const f = (n) => f(n + 1) + 1; export default () => f(0);", json!({}), "x").await;
    assert!(matches!(deep, Err(ScriptError::Thrown(ref m)) if m.contains("stack")), "{deep:?}");
    // The engine still works after all that.
    assert_eq!(e.run("ok.ts", "export default (e) => e.a", json!({"a": 1}), "x").await, Ok(json!(1)));
}

#[tokio::test]
async fn runs_share_no_state() {
    let e = engine(2000);
    let src = "export default () => { globalThis.count = (globalThis.count ?? 0) + 1; return count; }";
    for _ in 0..5 {
        assert_eq!(e.run("c.ts", src, json!({}), "x").await, Ok(json!(1)));
    }
}

#[tokio::test]
async fn fetch_is_limited_to_allowed_hosts() {
    let e = engine(2000);
    let refused =
        e.run("f.ts", "export default async () => (await fetch('https://example.com/')).status", json!({}), "x").await;
    assert_eq!(refused, Err(ScriptError::FetchRefused("example.com".to_owned())));
    let caught = e
        .run(
            "g.ts",
            "export default async () => { try { await fetch('file:///etc/passwd'); } catch (e) { return String(e); } }",
            json!({}),
            "x",
        )
        .await
        .expect("runs");
    assert!(caught.as_str().is_some_and(|s| s.starts_with("TypeError: fetch: only http")), "{caught}");
}

#[tokio::test]
async fn no_imports_no_files() {
    let e = engine(1000);
    let dynamic = e.run("d.ts", "export default async () => { await import('fs'); }", json!({}), "x").await;
    assert!(matches!(dynamic, Err(ScriptError::Thrown(_))), "{dynamic:?}");
    let globals = e
        .run("g.ts", "export default () => [typeof std, typeof os, typeof require, typeof process]", json!({}), "x")
        .await;
    assert_eq!(globals, Ok(json!(["undefined", "undefined", "undefined", "undefined"])));
    assert!(matches!(e.run("s.ts", "export default (", json!({}), "x").await, Err(ScriptError::Syntax(_))));
}
