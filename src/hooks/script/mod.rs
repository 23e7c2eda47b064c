//! JavaScript and TypeScript hooks inside the server: a sandboxed QuickJS engine.
//!
//! A script is an ES module whose default export takes the event and returns the hook's
//! response, directly or through a promise. Before it runs, its TypeScript types are
//! stripped (`typescript.rs`, with oxc); the result is cached by name and source hash.
//! Runs happen on a small pool of threads, each with its own QuickJS runtime
//! (`worker.rs`): a memory limit, a stack limit and an interrupt at the deadline. Each
//! thread keeps scripts warm, as serverless platforms do: a script's module is evaluated
//! once per thread (in its own context, with the globals of `prelude.js`) and a run only
//! calls its default export, so module-level state may persist between runs on the same
//! thread. A run that fails starts the script afresh, and so does a new source; scripts
//! must not rely on state either way. A script has no file system, no process, no imports
//! and no timers; it has `console` (to the server log with the event ID) and `fetch` to
//! the configured hosts only (`fetch.rs`), both limited per run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), authgraph::hooks::script::ScriptError> {
//! use authgraph::hooks::script::{ScriptEngine, ScriptLimits};
//! let engine = ScriptEngine::new(ScriptLimits::default());
//! let out = engine
//!     .run("claims.ts", "export default (e: any) => ({ is_allowed: true })", serde_json::json!({}), "event-1")
//!     .await?;
//! assert_eq!(out["is_allowed"], true);
//! # Ok(()) }
//! ```

mod fetch;
mod typescript;
mod worker;

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use typescript::ScriptSyntaxError;

/// The limits of every run.
#[derive(Debug, Clone)]
pub struct ScriptLimits {
    /// Most time a run may take, `fetch` calls included.
    pub timeout: Duration,
    /// Most memory the script's runtime may hold.
    pub memory_bytes: usize,
    /// Hosts (`host`, any port, or `host:port`) that `fetch` may reach.
    pub allowed_hosts: Vec<String>,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(5), memory_bytes: 32 * 1024 * 1024, allowed_hosts: Vec::new() }
    }
}

/// Why a run gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The run reached its deadline and was interrupted.
    #[error("the script timed out")]
    Timeout,
    /// The run went past the memory limit.
    #[error("the script ran out of memory")]
    OutOfMemory,
    /// The script threw (or its promise rejected) with this message.
    #[error("the script threw: {0}")]
    Thrown(String),
    /// The default export is not a function.
    #[error("the script's default export is not a function")]
    NotAFunction,
    /// The result cannot be turned into JSON, or is too large.
    #[error("the script's result is invalid: {0}")]
    BadOutput(String),
    /// The script does not compile.
    #[error("the script does not compile: {0}")]
    Syntax(ScriptSyntaxError),
    /// The script failed after `fetch` refused this host (not in the allowlist).
    #[error("the script fetched `{0}`, a host it may not reach")]
    FetchRefused(String),
    /// The engine could not run the script (it is shutting down or failed to start).
    #[error("the script engine is unavailable: {0}")]
    Unavailable(String),
}

impl ScriptError {
    /// The kind in upper snake case, as the Admin API reports it: `TIMEOUT`,
    /// `OUT_OF_MEMORY`, `THROWN`, `NOT_A_FUNCTION`, `BAD_OUTPUT`, `SYNTAX`,
    /// `FETCH_REFUSED` or `UNAVAILABLE`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "TIMEOUT",
            Self::OutOfMemory => "OUT_OF_MEMORY",
            Self::Thrown(_) => "THROWN",
            Self::NotAFunction => "NOT_A_FUNCTION",
            Self::BadOutput(_) => "BAD_OUTPUT",
            Self::Syntax(_) => "SYNTAX",
            Self::FetchRefused(_) => "FETCH_REFUSED",
            Self::Unavailable(_) => "UNAVAILABLE",
        }
    }
}

/// Checks a script before it is saved: it parses, has a default export and imports
/// nothing. `name` decides the language (`.js` is JavaScript, else TypeScript).
pub fn check(name: &str, source: &str) -> Result<(), ScriptSyntaxError> {
    typescript::to_javascript(name, source).map(|_| ())
}

/// One run for a script thread.
struct Job {
    name: String,
    source: Arc<str>,
    input: String,
    event_id: String,
    deadline: Instant,
    reply: oneshot::Sender<Result<serde_json::Value, ScriptError>>,
}

/// A script's name and the SHA-256 of its source.
type CacheKey = (String, [u8; 32]);

/// Compiled (type-stripped) scripts by name and source hash, shared by the threads.
#[derive(Default)]
struct CompiledCache {
    map: Mutex<HashMap<CacheKey, Arc<str>>>,
}

/// A script ready to run: the SHA-256 of its source and its JavaScript.
struct Compiled {
    hash: [u8; 32],
    js: Arc<str>,
}

/// Most compiled scripts kept.
const CACHE_ENTRIES: usize = 256;

impl CompiledCache {
    fn get_or_compile(&self, name: &str, source: &str) -> Result<Compiled, ScriptError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, source.as_bytes());
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest.as_ref());
        let key = (name.to_owned(), hash);
        if let Some(js) = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(Compiled { hash, js: js.clone() });
        }
        let js: Arc<str> = typescript::to_javascript(name, source).map_err(ScriptError::Syntax)?.into();
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key, js.clone());
        Ok(Compiled { hash, js })
    }
}

struct Inner {
    limits: ScriptLimits,
    cache: Arc<CompiledCache>,
    /// How many script threads run.
    threads: usize,
    /// The pool's queue, started at the first run.
    queue: OnceLock<Mutex<Option<Sender<Job>>>>,
}

/// Runs scripts. Cheap to clone; the threads start at the first run and end when the
/// last clone is dropped.
#[derive(Clone)]
pub struct ScriptEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine").field("limits", &self.inner.limits).finish_non_exhaustive()
    }
}

/// How many script threads a process runs.
fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4)
}

impl ScriptEngine {
    /// An engine with these limits.
    pub fn new(limits: ScriptLimits) -> Self {
        Self::with_threads(limits, pool_size())
    }

    /// An engine with `threads` script threads (tests use one, to know where a run goes).
    fn with_threads(limits: ScriptLimits, threads: usize) -> Self {
        Self { inner: Arc::new(Inner { limits, cache: Arc::default(), threads, queue: OnceLock::new() }) }
    }

    /// The limits of every run.
    pub fn limits(&self) -> &ScriptLimits {
        &self.inner.limits
    }

    fn start(&self) -> Mutex<Option<Sender<Job>>> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..self.inner.threads {
            let rx = rx.clone();
            let limits = self.inner.limits.clone();
            let cache = self.inner.cache.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("script-{i}"))
                .stack_size(worker::THREAD_STACK)
                .spawn(move || worker::serve(rx, limits, cache));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(cause = %e, "cannot start a script thread"),
            }
        }
        Mutex::new((started > 0).then_some(tx))
    }

    /// Runs script `name` (its `source`) on `input`: strips its types, evaluates the
    /// module (unless the thread has it warm already), calls the default export with the
    /// event, awaits a returned promise, and returns the result as JSON (`undefined` is
    /// `null`). `event_id` tags its console output in the server log.
    pub async fn run(
        &self,
        name: &str,
        source: &str,
        input: serde_json::Value,
        event_id: &str,
    ) -> Result<serde_json::Value, ScriptError> {
        self.run_shared(name, Arc::from(source), &input, event_id).await
    }

    /// [`ScriptEngine::run`] with a shared source (no copy of it).
    pub async fn run_shared(
        &self,
        name: &str,
        source: Arc<str>,
        input: &serde_json::Value,
        event_id: &str,
    ) -> Result<serde_json::Value, ScriptError> {
        let timeout = self.inner.limits.timeout;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            name: name.to_owned(),
            source,
            input: input.to_string(),
            event_id: event_id.to_owned(),
            deadline: Instant::now() + timeout,
            reply,
        };
        let queue = self.inner.queue.get_or_init(|| self.start());
        let sent = {
            let q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            q.as_ref().map(|tx| tx.send(job))
        };
        match sent {
            Some(Ok(())) => {}
            _ => return Err(ScriptError::Unavailable("no script thread is running".to_owned())),
        }
        // The thread stops the run at the deadline; this is the backstop if it cannot.
        match tokio::time::timeout(timeout + Duration::from_secs(1), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ScriptError::Unavailable("the script thread stopped".to_owned())),
            Err(_) => Err(ScriptError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests;
