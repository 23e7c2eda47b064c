//! One script thread: a QuickJS runtime with a memory limit, a stack limit and an
//! interrupt at each run's deadline, and the scripts it keeps warm.
//!
//! A warm instance is one script (by name and source hash) in its own context: the
//! natives, the globals of `prelude.js` and the module, evaluated once, with its default
//! export kept. A run sets the run's state (what the natives read: script name, event ID,
//! deadline, console and `fetch` counts), calls the export, awaits a promise, runs the
//! jobs left queued, and clears the state; module-level state persists to the next run of
//! that script on this thread, as in a serverless worker. Any failed run drops the
//! script's instance, so its next run starts afresh; a new source replaces it; at most
//! [`MAX_INSTANCES`] are kept (the least recently used goes). A run that times out, runs
//! out of memory or panics gets the whole runtime replaced.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rquickjs::{Context, Ctx, Function, Module, Persistent, Runtime, Value};

use super::fetch::{self, Fetcher, Reply};
use super::{Compiled, CompiledCache, Job, ScriptError, ScriptLimits};

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
/// Most warm instances one thread keeps.
const MAX_INSTANCES: usize = 16;
/// Growth of the heap since the last collection that triggers one (QuickJS also collects
/// by itself as it allocates).
const GC_STEP: usize = 1024 * 1024;
/// Successful runs between two looks at the heap (measuring it walks every object).
const TIDY_EVERY: u64 = 64;

/// The state of the run in progress, read by every instance's natives; `None` between runs.
type RunSlot = Rc<RefCell<Option<Rc<RunState>>>>;

/// One script kept warm: its context and its module's default export.
struct Instance {
    /// Declared before `ctx`: a value must be freed before its context and runtime.
    handler: Persistent<Function<'static>>,
    ctx: Context,
    hash: [u8; 32],
    /// When it last ran, in runs of this thread (for evicting the least recently used).
    last_run: u64,
}

struct Vm {
    /// Declared before `rt`: the instances' values and contexts go before the runtime.
    instances: HashMap<String, Instance>,
    rt: Runtime,
    deadline: Rc<Cell<Instant>>,
    slot: RunSlot,
    runs: u64,
    /// The heap's size after the last collection.
    collected_at: usize,
}

impl Vm {
    fn new(limits: &ScriptLimits) -> Result<Self, ScriptError> {
        let rt = Runtime::new().map_err(|e| ScriptError::Unavailable(format!("starting QuickJS: {e}")))?;
        rt.set_memory_limit(limits.memory_bytes);
        rt.set_max_stack_size(MAX_STACK);
        let deadline = Rc::new(Cell::new(Instant::now()));
        let d = deadline.clone();
        rt.set_interrupt_handler(Some(Box::new(move || Instant::now() >= d.get())));
        Ok(Self { instances: HashMap::new(), rt, deadline, slot: RunSlot::default(), runs: 0, collected_at: 0 })
    }

    fn heap(&self) -> usize {
        usize::try_from(self.rt.memory_usage().malloc_size).unwrap_or(usize::MAX)
    }

    fn collect(&mut self) {
        self.rt.run_gc();
        self.collected_at = self.heap();
    }

    /// Drops script `name`'s instance, if any, and frees its context.
    fn drop_instance(&mut self, name: &str) {
        if self.instances.remove(name).is_some() {
            self.collect();
        }
    }

    /// After a successful run, every [`TIDY_EVERY`] runs: collects when the heap has grown,
    /// and when warm instances hold more than half the memory limit, drops them all.
    fn tidy(&mut self, memory_limit: usize) {
        if !self.runs.is_multiple_of(TIDY_EVERY) {
            return;
        }
        if self.heap() > self.collected_at.saturating_add(GC_STEP) {
            self.collect();
        }
        if self.collected_at > memory_limit / 2 {
            self.instances.clear();
            self.collect();
        }
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

/// Clears the run slot when the run ends, however it ends.
struct ClearSlot<'a>(&'a RunSlot);

impl Drop for ClearSlot<'_> {
    fn drop(&mut self) {
        *self.0.borrow_mut() = None;
    }
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
        let outcome = match &mut vm {
            Some(vm) => {
                std::panic::catch_unwind(AssertUnwindSafe(|| run(vm, &job, &fetcher, &cache, limits.memory_bytes)))
                    .unwrap_or_else(|_| Err(ScriptError::Unavailable("the script engine failed".to_owned())))
            }
            None => Err(ScriptError::Unavailable("the script engine cannot start".to_owned())),
        };
        if matches!(outcome, Err(ScriptError::Timeout | ScriptError::OutOfMemory | ScriptError::Unavailable(_))) {
            // A fresh runtime, whatever state the stopped one was left in.
            vm = None;
        } else if let Some(vm) = &mut vm {
            if outcome.is_err() {
                // Also frees what a module that failed to start left behind.
                vm.instances.remove(&job.name);
                vm.collect();
            } else {
                vm.tidy(limits.memory_bytes);
            }
        }
        let _ = job.reply.send(outcome);
    }
}

fn run(
    vm: &mut Vm,
    job: &Job,
    fetcher: &Rc<Fetcher>,
    cache: &CompiledCache,
    memory_limit: usize,
) -> Result<serde_json::Value, ScriptError> {
    if Instant::now() >= job.deadline {
        return Err(ScriptError::Timeout);
    }
    let compiled = cache.get_or_compile(&job.name, &job.source)?;
    vm.deadline.set(job.deadline);
    let state = Rc::new(RunState {
        name: job.name.clone(),
        event_id: job.event_id.clone(),
        deadline: job.deadline,
        log_lines: Cell::new(0),
        fetches: Cell::new(0),
        refused: RefCell::new(None),
    });
    *vm.slot.borrow_mut() = Some(state.clone());
    let slot = vm.slot.clone();
    let _clear = ClearSlot(&slot);
    vm.runs += 1;
    let runs = vm.runs;
    let result = match warm_instance(vm, job, &compiled, &state, fetcher) {
        Ok(instance) => {
            instance.last_run = runs;
            instance.ctx.with(|ctx| {
                let r = call(&ctx, &instance.handler, job, &state);
                r.map_err(|e| classify(&ctx, e, &state))?
            })
        }
        Err(e) => Err(e),
    };
    // When QuickJS cannot even allocate the "out of memory" error it throws `null`, and
    // by now the garbage is freed; a heap still near the limit says the same.
    match result {
        Err(ScriptError::Thrown(m)) if m == THROWN_NULL || near_limit(&vm.rt, memory_limit) => {
            Err(ScriptError::OutOfMemory)
        }
        other => other,
    }
}

/// Script `job.name`'s warm instance for this source: the one kept, or a new one (which
/// replaces an instance of another source and, when the thread keeps the most, the least
/// recently used one).
fn warm_instance<'v>(
    vm: &'v mut Vm,
    job: &Job,
    compiled: &Compiled,
    state: &RunState,
    fetcher: &Rc<Fetcher>,
) -> Result<&'v mut Instance, ScriptError> {
    if vm.instances.get(&job.name).is_some_and(|i| i.hash != compiled.hash) {
        vm.drop_instance(&job.name);
    }
    if !vm.instances.contains_key(&job.name) {
        if vm.instances.len() >= MAX_INSTANCES {
            let oldest = vm.instances.iter().min_by_key(|(_, i)| i.last_run).map(|(n, _)| n.clone());
            if let Some(oldest) = oldest {
                vm.drop_instance(&oldest);
            }
        }
        let ctx = Context::full(&vm.rt).map_err(|_| ScriptError::OutOfMemory)?;
        let handler = ctx.with(|ctx| {
            let r = start(&ctx, &job.name, &compiled.js, &vm.slot, fetcher);
            r.map_err(|e| classify(&ctx, e, state))
        })?;
        let instance = Instance { handler, ctx, hash: compiled.hash, last_run: 0 };
        vm.instances.insert(job.name.clone(), instance);
    }
    vm.instances.get_mut(&job.name).ok_or_else(|| ScriptError::Unavailable("a script instance vanished".to_owned()))
}

/// Readies a new context: the natives, the prelude and the module; returns its default
/// export.
fn start<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    js: &str,
    slot: &RunSlot,
    fetcher: &Rc<Fetcher>,
) -> Result<Persistent<Function<'static>>, Fail> {
    install_natives(ctx, slot, fetcher)?;
    ctx.eval::<(), _>(PRELUDE)?;
    let module = Module::declare(ctx.clone(), name, js)?;
    let (module, done) = module.eval()?;
    done.finish::<()>()?;
    let default: Value = module.get("default")?;
    let Some(handler) = default.into_function() else {
        return Err(Fail::Script(ScriptError::NotAFunction));
    };
    Ok(Persistent::save(ctx, handler))
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

/// One call of a warm instance's default export on the job's input, then the jobs its
/// run left queued.
fn call<'js>(
    ctx: &Ctx<'js>,
    handler: &Persistent<Function<'static>>,
    job: &Job,
    state: &RunState,
) -> Result<Result<serde_json::Value, ScriptError>, Fail> {
    let handler = handler.clone().restore(ctx)?;
    let input = ctx.json_parse(job.input.as_str())?;
    let mut out: Value = handler.call((input,))?;
    if let Some(p) = out.clone().into_promise() {
        out = p.finish::<Value>()?;
    }
    // Promise jobs the run started and did not await run now, with this run's state,
    // not in a later run (a later run may be another script's).
    while ctx.execute_pending_job() {
        if Instant::now() >= state.deadline {
            return Err(Fail::Script(ScriptError::Timeout));
        }
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

fn install_natives<'js>(ctx: &Ctx<'js>, slot: &RunSlot, fetcher: &Rc<Fetcher>) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    let run = slot.clone();
    let log = Function::new(ctx.clone(), move |level: String, text: String| {
        let Some(s) = run.borrow().clone() else { return };
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
    let run = slot.clone();
    let fetch_one = fetcher.clone();
    let fetch =
        Function::new(ctx.clone(), move |url: String, method: String, headers: String, body: Option<String>| {
            let reply = match run.borrow().clone() {
                None => Reply::Error("fetch: no run is in progress".to_owned()),
                Some(s) => {
                    let n = s.fetches.get();
                    s.fetches.set(n.saturating_add(1));
                    if n >= fetch::MAX_CALLS {
                        Reply::Error(format!("fetch: a run may make at most {} requests", fetch::MAX_CALLS))
                    } else {
                        match fetch_one.fetch(&url, &method, &headers, body, s.deadline) {
                            Reply::Refused(host) => {
                                *s.refused.borrow_mut() = Some(host.clone());
                                Reply::Refused(host)
                            }
                            other => other,
                        }
                    }
                }
            };
            let v = match reply {
                Reply::Response(v) => v,
                Reply::Error(e) => serde_json::json!({ "error": e }),
                Reply::Refused(host) => {
                    let msg = format!("fetch: the host `{host}` is not allowed (add it to hook.script_allowed_hosts)");
                    serde_json::json!({ "error": msg })
                }
            };
            v.to_string()
        })?;
    globals.set("__authgraph_fetch", fetch)?;
    Ok(())
}
