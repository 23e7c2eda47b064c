use std::sync::{Arc, Mutex, OnceLock};
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

/// An engine with one script thread, so that every run finds the previous one's instance.
fn one_thread(timeout_ms: u64) -> ScriptEngine {
    ScriptEngine::with_threads(
        ScriptLimits {
            timeout: Duration::from_millis(timeout_ms),
            memory_bytes: 16 * 1024 * 1024,
            allowed_hosts: vec!["127.0.0.1:9".to_owned()],
        },
        1,
    )
}

/// Where the script threads' console lines end up in these tests: the server log's
/// `authgraph::script` events, written as text (a global subscriber, installed once).
fn script_log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("authgraph::script=info"))
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other test sets a global subscriber");
        buf
    })
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines_with(needle: &str) -> usize {
    let log = script_log().lock().unwrap();
    String::from_utf8_lossy(&log).lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn module_state_stays_warm_until_a_run_fails() {
    let e = one_thread(5000);
    let src = "let runs = 0;
export default (ev) => {
  runs += 1;
  if (ev.throw) throw new Error('run ' + runs);
  if (ev.reject) return Promise.reject(new Error('rejected'));
  if (ev.bad) return { big: 10n };
  return runs;
};";
    let run = |ev: serde_json::Value| e.run("counter.ts", src, ev, "x");
    assert_eq!(run(json!({})).await, Ok(json!(1)));
    assert_eq!(run(json!({})).await, Ok(json!(2)), "the module is evaluated once and stays warm");
    assert_eq!(run(json!({"throw": true})).await, Err(ScriptError::Thrown("Error: run 3".to_owned())));
    assert_eq!(run(json!({})).await, Ok(json!(1)), "a run that threw starts the script afresh");
    assert_eq!(run(json!({})).await, Ok(json!(2)));
    assert_eq!(run(json!({"reject": true})).await, Err(ScriptError::Thrown("Error: rejected".to_owned())));
    assert_eq!(run(json!({})).await, Ok(json!(1)), "so does a rejected promise");
    assert!(matches!(run(json!({"bad": true})).await, Err(ScriptError::BadOutput(_))));
    assert_eq!(run(json!({})).await, Ok(json!(1)), "and a result that is not JSON");
    // Global variables are module state too.
    let global = "export default () => { globalThis.count = (globalThis.count ?? 0) + 1; return count; }";
    assert_eq!(e.run("g.ts", global, json!({}), "x").await, Ok(json!(1)));
    assert_eq!(e.run("g.ts", global, json!({}), "x").await, Ok(json!(2)));
    assert_eq!(e.run("counter.ts", src, json!({}), "x").await, Ok(json!(2)), "each script has its own context");
}

#[tokio::test]
async fn fetch_and_console_limits_count_per_run() {
    let e = one_thread(5000);
    let src = "let runs = 0;
export default async () => {
  runs += 1;
  const errors = [];
  for (let i = 0; i < 21; i++) {
    try { await fetch('file:///etc/passwd'); } catch (e) { errors.push(String(e)); }
  }
  for (let i = 0; i < 102; i++) console.log('warm-limit-marker', i);
  return { runs, first: errors[0], last: errors[20] };
};";
    script_log();
    for runs in 1..=3 {
        let out = e.run("warm-limits.js", src, json!({}), "x").await.expect("runs");
        assert_eq!(out["runs"], runs, "the same warm instance: {out}");
        let first = out["first"].as_str().unwrap_or_default();
        assert!(first.starts_with("TypeError: fetch: only http"), "run {runs} may fetch again: {out}");
        let last = out["last"].as_str().unwrap_or_default();
        assert!(last.contains("at most 20 requests"), "the 21st fetch of run {runs} is refused: {out}");
    }
    assert_eq!(log_lines_with("warm-limit-marker"), 300, "100 console lines each run");
    assert_eq!(log_lines_with("further console output of this run is dropped"), 3);
}

#[tokio::test]
async fn a_new_source_replaces_the_instance() {
    let e = one_thread(5000);
    let a = "let n = 0; export default () => ({ v: 'a', n: ++n });";
    let b = "let n = 100; export default () => ({ v: 'b', n: ++n });";
    assert_eq!(e.run("v.ts", a, json!({}), "x").await, Ok(json!({"v": "a", "n": 1})));
    assert_eq!(e.run("v.ts", a, json!({}), "x").await, Ok(json!({"v": "a", "n": 2})));
    assert_eq!(e.run("v.ts", b, json!({}), "x").await, Ok(json!({"v": "b", "n": 101})));
    assert_eq!(e.run("v.ts", b, json!({}), "x").await, Ok(json!({"v": "b", "n": 102})));
    assert_eq!(e.run("v.ts", a, json!({}), "x").await, Ok(json!({"v": "a", "n": 1})), "back to the old source");
    // A source that no longer exports a function fails, and the next good one starts afresh.
    assert_eq!(e.run("v.ts", "export default 1;", json!({}), "x").await, Err(ScriptError::NotAFunction));
    assert_eq!(e.run("v.ts", a, json!({}), "x").await, Ok(json!({"v": "a", "n": 1})));
}

#[tokio::test]
async fn the_least_recently_used_instance_goes_when_the_thread_is_full() {
    let e = one_thread(5000);
    let src = "let n = 0; export default () => ++n;";
    assert_eq!(e.run("s0.js", src, json!({}), "x").await, Ok(json!(1)));
    assert_eq!(e.run("s1.js", src, json!({}), "x").await, Ok(json!(1)));
    assert_eq!(e.run("s0.js", src, json!({}), "x").await, Ok(json!(2)));
    for i in 2..=16 {
        assert_eq!(e.run(&format!("s{i}.js"), src, json!({}), "x").await, Ok(json!(1)));
    }
    // Seventeen scripts ran: s1, used least recently, made room for s16.
    assert_eq!(e.run("s0.js", src, json!({}), "x").await, Ok(json!(3)));
    assert_eq!(e.run("s16.js", src, json!({}), "x").await, Ok(json!(2)));
    assert_eq!(e.run("s1.js", src, json!({}), "x").await, Ok(json!(1)));
}

#[tokio::test]
async fn a_run_after_a_timeout_starts_afresh() {
    let e = one_thread(1000);
    let src = "let runs = 0;
export default (ev) => {
  runs += 1;
  if (ev.loop) for (;;) {}
  if (ev.spin) { const spin = () => { Promise.resolve().then(spin); }; spin(); }
  return runs;
};";
    assert_eq!(e.run("t.ts", src, json!({}), "x").await, Ok(json!(1)));
    assert_eq!(e.run("t.ts", src, json!({}), "x").await, Ok(json!(2)));
    assert_eq!(e.run("t.ts", src, json!({"loop": true}), "x").await, Err(ScriptError::Timeout));
    assert_eq!(e.run("t.ts", src, json!({}), "x").await, Ok(json!(1)), "a fresh runtime");
    // Promise jobs that run on after the result count against the run's time too.
    assert_eq!(e.run("t.ts", src, json!({"spin": true}), "x").await, Err(ScriptError::Timeout));
    assert_eq!(e.run("t.ts", src, json!({}), "x").await, Ok(json!(1)));
}

#[tokio::test]
async fn module_state_that_outgrows_the_memory_limit_is_started_afresh() {
    // Each run keeps another MiB in module state; 16 MiB cannot hold them all.
    let e = one_thread(5000);
    let src =
        "const keep = []; export default () => { keep.push('x'.repeat(1 << 20) + keep.length); return keep.length; };";
    let mut kept = 0;
    for _ in 0..40 {
        match e.run("grow.js", src, json!({}), "x").await {
            Ok(n) if n == json!(kept + 1) => kept += 1,
            Ok(n) => {
                assert_eq!(n, json!(1), "after {kept} runs");
                break;
            }
            Err(ScriptError::OutOfMemory) => {
                assert_eq!(e.run("grow.js", src, json!({}), "x").await, Ok(json!(1)), "after {kept} runs");
                break;
            }
            Err(other) => panic!("after {kept} runs: {other:?}"),
        }
    }
    assert!((2..16).contains(&kept), "{kept} runs kept their state");
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
