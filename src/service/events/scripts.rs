//! Script handlers: where a script's source comes from, and running it.
//!
//! A handler URL `authgeardeno:///deno/<name>` names a script. Its source is the Admin
//! API's script of that name, else the file `<name>` in `hook.scripts_dir`. Both are
//! cached: Admin API scripts (and their absence) per process until the `hook_scripts`
//! change generation moves (any process's change reaches every process within a
//! second), files by modification time and size (a changed file is read again).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter};
use serde_json::Value;

use crate::config::{HookConfig, is_script_name};
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::hooks::script::{ScriptEngine, ScriptError, ScriptLimits};
use crate::service::{Error, Result, Services};
use entity::hook_script;

/// Most bytes of a script file read from `hook.scripts_dir`.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The engine and the caches of script sources, one per process.
pub struct ScriptStore {
    engine: ScriptEngine,
    dir: Option<PathBuf>,
    /// Admin API scripts by name; `None` caches "no such script".
    db: RwLock<HashMap<String, Option<Arc<str>>>>,
    /// Bumped by every invalidation: a look-up that started before one does not cache.
    epoch: AtomicU64,
    files: RwLock<HashMap<String, CachedFile>>,
}

#[derive(Clone)]
struct CachedFile {
    modified: Option<SystemTime>,
    len: u64,
    source: Arc<str>,
}

impl ScriptStore {
    /// The store of a process with this hook configuration.
    pub fn new(hook: &HookConfig) -> Self {
        let memory_mib = usize::try_from(hook.script_memory_limit_mib).unwrap_or(32);
        let engine = ScriptEngine::new(ScriptLimits {
            timeout: Duration::from_secs(hook.sync_hook_timeout_seconds),
            memory_bytes: memory_mib.saturating_mul(1024 * 1024),
            allowed_hosts: hook.script_allowed_hosts.clone(),
        });
        Self {
            engine,
            dir: hook.scripts_dir.clone(),
            db: RwLock::default(),
            epoch: AtomicU64::new(0),
            files: RwLock::default(),
        }
    }

    /// Drops the cached Admin API scripts (after a change here or in another process).
    pub(in crate::service) fn forget(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.db.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// The engine that runs scripts.
    pub fn engine(&self) -> &ScriptEngine {
        &self.engine
    }

    async fn read_file(&self, name: &str) -> Option<Arc<str>> {
        let dir = self.dir.as_ref()?;
        // `name` has no separator (is_script_name), so the file is directly in the folder;
        // a link that leads outside it is not followed.
        let path = dir.join(name);
        let (real, real_dir) = match (tokio::fs::canonicalize(&path).await, tokio::fs::canonicalize(dir).await) {
            (Ok(r), Ok(d)) => (r, d),
            _ => return None,
        };
        if real.parent() != Some(real_dir.as_path()) {
            tracing::warn!(script = name, "a script file that leads outside hook.scripts_dir is ignored");
            return None;
        }
        let meta = tokio::fs::metadata(&real).await.ok().filter(|m| m.is_file())?;
        let (modified, len) = (meta.modified().ok(), meta.len());
        if let Some(c) = self.files.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name)
            && c.modified == modified
            && c.len == len
        {
            return Some(c.source.clone());
        }
        if len > MAX_FILE_BYTES {
            tracing::warn!(script = name, bytes = len, "a script file larger than 1 MiB is ignored");
            return None;
        }
        let text = match tokio::fs::read_to_string(&real).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(script = name, cause = %e, "cannot read a script file");
                return None;
            }
        };
        let source: Arc<str> = text.into();
        self.files
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), CachedFile { modified, len, source: source.clone() });
        Some(source)
    }
}

/// Why a script handler gave no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptFailure {
    /// Neither the Admin API nor `hook.scripts_dir` has a script of that name.
    #[error("no hook script is named `{0}` (neither in the Admin API nor in hook.scripts_dir)")]
    NotFound(String),
    /// The script ran past `hook.sync_hook_timeout_seconds`.
    #[error("the script timed out")]
    Timeout,
    /// The script threw, its promise rejected, it ran out of memory, it fetched a host
    /// it may not reach, or it does not compile.
    #[error("{0}")]
    Thrown(String),
    /// The default export is not a function, or its result is not JSON.
    #[error("{0}")]
    BadOutput(String),
}

impl From<ScriptError> for ScriptFailure {
    fn from(e: ScriptError) -> Self {
        match e {
            ScriptError::Timeout => Self::Timeout,
            ScriptError::NotAFunction | ScriptError::BadOutput(_) => Self::BadOutput(e.to_string()),
            ScriptError::OutOfMemory
            | ScriptError::Thrown(_)
            | ScriptError::Syntax(_)
            | ScriptError::FetchRefused(_)
            | ScriptError::Unavailable(_) => Self::Thrown(e.to_string()),
        }
    }
}

/// What `testHookScript` reports.
#[derive(Debug, Clone)]
pub struct ScriptTrial {
    /// The script's result, when it gave one.
    pub output: Option<Value>,
    /// Why it gave none.
    pub error: Option<ScriptError>,
    /// How long the run took.
    pub duration: Duration,
}

impl Services {
    /// The source of the script `name`: the Admin API's script of that name, else the file
    /// `hook.scripts_dir/<name>`, else `None` (also for a name that is not a script name).
    pub async fn hook_script_source(&self, name: &str) -> Result<Option<Arc<str>>> {
        if !is_script_name(name) {
            return Ok(None);
        }
        let store = &self.scripts;
        let cached = store.db.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).cloned();
        let from_db = match cached {
            Some(hit) => hit,
            None => {
                let epoch = store.epoch.load(Ordering::SeqCst);
                let row = hook_script::Entity::find()
                    .filter(Expr::col(hook_script::Column::Name).eq(name))
                    .one(&self.db.reader())
                    .await?;
                let found: Option<Arc<str>> = row.map(|r| r.source.into());
                let mut map = store.db.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                if store.epoch.load(Ordering::SeqCst) == epoch {
                    map.insert(name.to_owned(), found.clone());
                }
                found
            }
        };
        match from_db {
            Some(s) => Ok(Some(s)),
            None => Ok(store.read_file(name).await),
        }
    }

    /// Runs the script handler `name` on `event` (the event envelope) and returns its
    /// response. The event's `id` tags the script's console output.
    pub async fn run_script_handler(&self, name: &str, event: &Value) -> std::result::Result<Value, ScriptFailure> {
        let source = match self.hook_script_source(name).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(ScriptFailure::NotFound(name.to_owned())),
            Err(e) => return Err(ScriptFailure::Thrown(format!("cannot load the script: {}", e.describe()))),
        };
        let event_id = event.get("id").and_then(Value::as_str).unwrap_or("");
        Ok(self.scripts.engine.run_shared(name, source, event, event_id).await?)
    }

    /// Runs the script `name` on `event` for the Admin API's `testHookScript`.
    pub async fn try_script(&self, name: &str, event: &Value) -> Result<ScriptTrial> {
        let Some(source) = self.hook_script_source(name).await? else {
            return Err(Error::not_found(
                reason::HOOK_SCRIPT_NOT_FOUND,
                format!("no hook script is named {} (neither in the Admin API nor in hook.scripts_dir)", quoted(name)),
            ));
        };
        let event_id = event.get("id").and_then(Value::as_str).unwrap_or("test");
        let started = Instant::now();
        let result = self.scripts.engine.run_shared(name, source, event, event_id).await;
        let duration = started.elapsed();
        Ok(match result {
            Ok(v) => ScriptTrial { output: Some(v), error: None, duration },
            Err(e) => ScriptTrial { output: None, error: Some(e), duration },
        })
    }
}
