//! One script thread: a QuickJS runtime with a memory limit, a stack limit and an
//! interrupt at each run's deadline. Each run gets a fresh context (no state carries from
//! one event to the next), the globals of `prelude.js`, and the compiled script.
//! A run that times out, runs out of memory or panics gets the runtime replaced.

use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rquickjs::{Context, Ctx, Function, Module, Runtime, Value};

use super::fetch::{self, Fetcher, Reply};
use super::{CompiledCache, Job, ScriptError, ScriptLimits};

const PRELUDE: &str = include_str!("prelude.js");
/// Most QuickJS stack one run may use (the thread has more).
const MAX_STACK: usize = 512 * 1024;
/// The stack of a script thread.
pub const THREAD_STACK: usize = 4 * 1024 * 1024;
/// Most characters of one console line, and lines per run.
const MAX_LOG_CHARS: usize = 2000;
const MAX_LOG_LINES: u32 = 100;
/// Most bytes of a script's result as JSON.
const MAX_OUTPUT: usize = 1024 * 1024;

struct Vm {
    rt: Runtime,
    deadline: Rc<Cell<Instant>>,
}

impl Vm {
    fn new(limits: &ScriptLimits) -> Result<Self, ScriptError> {
        let rt = Runtime::new().map_err(|e| ScriptError::Unavailable(format!("starting QuickJS: {e}")))?;
        rt.set_memory_limit(limits.memory_bytes);
        rt.set_max_stack_size(MAX_STACK);
        let deadline = Rc::new(Cell::new(Instant::now()));
        let d = deadline.clone();
        rt.set_interrupt_handler(Some(Box::new(move || Instant::now() >= d.get())));
        Ok(Self { rt, deadline })
    }
}

/// What one run's natives share.
struct RunState {
    name: String,
    event_id: String,
    deadline: Instant,
    log_lines: Cell<u32>,
    fetches: Cell<u32>,
    refused: RefCell<Option<String>>,
}

/// The thread's loop: runs jobs until the engine is dropped.
pub fn serve(jobs: Arc<Mutex<Receiver<Job>>>, limits: ScriptLimits, cache: Arc<CompiledCache>) {
    let fetcher = match Fetcher::new(limits.allowed_hosts.clone()) {
        Ok(f) => Rc::new(f),
        Err(e) => {
            tracing::error!(cause = %e, "a script thread cannot start its HTTP client");
            return;
        }
    };
    let mut vm = Vm::new(&limits).ok();
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            rx.recv()
        };
        let Ok(job) = job else { return };
        if job.reply.is_closed() {
            continue;
        }
        if vm.is_none() {
            vm = Vm::new(&limits).ok();
        }
        let outcome = match &vm {
            Some(vm) => {
                std::panic::catch_unwind(AssertUnwindSafe(|| run(vm, &job, &fetcher, &cache, limits.memory_bytes)))
                    .unwrap_or_else(|_| Err(ScriptError::Unavailable("the script engine failed".to_owned())))
            }
            None => Err(ScriptError::Unavailable("the script engine cannot start".to_owned())),
        };
        if matches!(outcome, Err(ScriptError::Timeout | ScriptError::OutOfMemory | ScriptError::Unavailable(_))) {
            // A fresh runtime, whatever state the stopped one was left in.
            vm = None;
        } else if let Some(vm) = &vm {
            vm.rt.run_gc();
        }
        let _ = job.reply.send(outcome);
    }
}

fn run(
    vm: &Vm,
    job: &Job,
    fetcher: &Rc<Fetcher>,
    cache: &CompiledCache,
    memory_limit: usize,
) -> Result<serde_json::Value, ScriptError> {
    if Instant::now() >= job.deadline {
        return Err(ScriptError::Timeout);
    }
    let js = cache.get_or_compile(&job.name, &job.source)?;
    vm.deadline.set(job.deadline);
    let state = Rc::new(RunState {
        name: job.name.clone(),
        event_id: job.event_id.clone(),
        deadline: job.deadline,
        log_lines: Cell::new(0),
        fetches: Cell::new(0),
        refused: RefCell::new(None),
    });
    let ctx = Context::full(&vm.rt).map_err(|_| ScriptError::OutOfMemory)?;
    let result = ctx.with(|ctx| {
        let r = evaluate(&ctx, &js, job, &state, fetcher);
        r.map_err(|e| classify(&ctx, e, &state))?
    });
    // When QuickJS cannot even allocate the "out of memory" error it throws `null`, and
    // by now the garbage is freed; a heap still near the limit says the same.
    let result = match result {
        Err(ScriptError::Thrown(m)) if m == THROWN_NULL || near_limit(&vm.rt, memory_limit) => {
            Err(ScriptError::OutOfMemory)
        }
        other => other,
    };
    drop(ctx);
    result
}

/// What a thrown `null` reads as. A script that throws `null` itself is reported as out of
/// memory too: QuickJS gives no way to tell the two apart.
const THROWN_NULL: &str = "null";

fn near_limit(rt: &Runtime, limit: usize) -> bool {
    let used = usize::try_from(rt.memory_usage().malloc_size).unwrap_or(0);
    used >= limit / 10 * 9
}

/// A failure inside a run, before it is classified.
enum Fail {
    Js(rquickjs::Error),
    Script(ScriptError),
}

impl From<rquickjs::Error> for Fail {
    fn from(e: rquickjs::Error) -> Self {
        Self::Js(e)
    }
}

fn evaluate<'js>(
    ctx: &Ctx<'js>,
    js: &str,
    job: &Job,
    state: &Rc<RunState>,
    fetcher: &Rc<Fetcher>,
) -> Result<Result<serde_json::Value, ScriptError>, Fail> {
    install_natives(ctx, state, fetcher)?;
    ctx.eval::<(), _>(PRELUDE)?;
    let module = Module::declare(ctx.clone(), job.name.as_str(), js)?;
    let (module, done) = module.eval()?;
    done.finish::<()>()?;
    let default: Value = module.get("default")?;
    let Some(handler) = default.as_function() else {
        return Err(Fail::Script(ScriptError::NotAFunction));
    };
    let input = ctx.json_parse(job.input.as_str())?;
    let mut out: Value = handler.call((input,))?;
    if let Some(p) = out.clone().into_promise() {
        out = p.finish::<Value>()?;
    }
    if out.is_undefined() {
        return Ok(Ok(serde_json::Value::Null));
    }
    let text = match ctx.json_stringify(out) {
        Ok(Some(s)) => s.to_string()?,
        Ok(None) => return Ok(Ok(serde_json::Value::Null)),
        Err(rquickjs::Error::Exception) => {
            let msg = thrown_message(ctx);
            return Ok(Err(ScriptError::BadOutput(format!("the result is not JSON: {msg}"))));
        }
        Err(e) => return Err(e.into()),
    };
    if text.len() > MAX_OUTPUT {
        return Ok(Err(ScriptError::BadOutput(format!("the result is larger than {MAX_OUTPUT} bytes"))));
    }
    Ok(serde_json::from_str(&text).map_err(|e| ScriptError::BadOutput(format!("the result is not JSON: {e}"))))
}

/// The message of the pending exception (and clears it).
fn thrown_message(ctx: &Ctx<'_>) -> String {
    let v = ctx.catch();
    let msg = if let Some(ex) = v.as_exception() {
        let name: Option<String> = ex.get("name").ok();
        let message = ex.message().unwrap_or_default();
        match name {
            Some(n) if !n.is_empty() => format!("{n}: {message}"),
            _ => message,
        }
    } else if let Some(s) = v.as_string() {
        s.to_string().unwrap_or_default()
    } else {
        ctx.json_stringify(v).ok().flatten().and_then(|s| s.to_string().ok()).unwrap_or_else(|| "a value".to_owned())
    };
    fetch::truncate(&msg, 1000).to_owned()
}

fn classify(ctx: &Ctx<'_>, fail: Fail, state: &RunState) -> ScriptError {
    let e = match fail {
        Fail::Script(e) => return e,
        Fail::Js(e) => e,
    };
    let timed_out = Instant::now() >= state.deadline;
    match e {
        rquickjs::Error::Allocation => ScriptError::OutOfMemory,
        rquickjs::Error::WouldBlock if timed_out => ScriptError::Timeout,
        rquickjs::Error::WouldBlock => {
            ScriptError::Thrown("the script's promise never settled (there are no timers)".to_owned())
        }
        rquickjs::Error::Exception => {
            let msg = thrown_message(ctx);
            if timed_out {
                ScriptError::Timeout
            } else if msg.ends_with("out of memory") {
                ScriptError::OutOfMemory
            } else if msg.starts_with("SyntaxError") {
                ScriptError::Syntax(super::ScriptSyntaxError { line: 0, column: 0, message: msg })
            } else if let Some(host) = state.refused.borrow().clone() {
                ScriptError::FetchRefused(host)
            } else {
                ScriptError::Thrown(msg)
            }
        }
        other if timed_out => {
            let _ = other;
            ScriptError::Timeout
        }
        other => ScriptError::Thrown(other.to_string()),
    }
}

fn install_natives<'js>(ctx: &Ctx<'js>, state: &Rc<RunState>, fetcher: &Rc<Fetcher>) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    let s = state.clone();
    let log = Function::new(ctx.clone(), move |level: String, text: String| {
        let n = s.log_lines.get();
        s.log_lines.set(n.saturating_add(1));
        if n > MAX_LOG_LINES {
            return;
        }
        let text = if n == MAX_LOG_LINES { "(further console output of this run is dropped)" } else { &text };
        let text = fetch::truncate(text, MAX_LOG_CHARS);
        let (script, event) = (s.name.as_str(), s.event_id.as_str());
        match level.as_str() {
            "error" => tracing::error!(target: "authgraph::script", script, event, "{text}"),
            "warn" => tracing::warn!(target: "authgraph::script", script, event, "{text}"),
            "debug" => tracing::debug!(target: "authgraph::script", script, event, "{text}"),
            _ => tracing::info!(target: "authgraph::script", script, event, "{text}"),
        }
    })?;
    globals.set("__authgraph_log", log)?;
    let s = state.clone();
    let fetch_one = fetcher.clone();
    let fetch =
        Function::new(ctx.clone(), move |url: String, method: String, headers: String, body: Option<String>| {
            let n = s.fetches.get();
            s.fetches.set(n.saturating_add(1));
            let reply = if n >= fetch::MAX_CALLS {
                Reply::Error(format!("fetch: a run may make at most {} requests", fetch::MAX_CALLS))
            } else {
                fetch_one.fetch(&url, &method, &headers, body, s.deadline)
            };
            let v = match reply {
                Reply::Response(v) => v,
                Reply::Error(e) => serde_json::json!({ "error": e }),
                Reply::Refused(host) => {
                    let msg = format!("fetch: the host `{host}` is not allowed (add it to hook.script_allowed_hosts)");
                    *s.refused.borrow_mut() = Some(host);
                    serde_json::json!({ "error": msg })
                }
            };
            v.to_string()
        })?;
    globals.set("__authgraph_fetch", fetch)?;
    Ok(())
}
