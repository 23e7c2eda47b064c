//! One process at a time sets up a shared database: migrations, the first signing keys,
//! the built-in Admin API resource. On PostgreSQL the lock is an advisory lock held by a
//! transaction on a connection of its own, so it ends with that connection if the process
//! dies half-way. On SQLite it is a lock on a file beside the database (`<file>.startup.lock`),
//! which the system frees when the process ends: SQLite's migrations run outside
//! transactions, so two processes migrating one file at once would both create a table.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};

/// The advisory lock's key: the bytes of "authgrap" read as a number, so that another
/// application's locks on the same database are unlikely to meet it.
const STARTUP_LOCK_KEY: i64 = 0x6175_7468_6772_6170;

/// Held while this process sets up the database; [`StartupLock::release`] ends it.
pub struct StartupLock {
    held: Held,
}

enum Held {
    /// An in-memory database: no other process can open it.
    Nothing,
    /// A SQLite file's lock file, locked.
    File(std::fs::File),
    /// A PostgreSQL transaction holding the advisory lock, and its connection.
    Postgres(DatabaseTransaction, DatabaseConnection),
}

impl std::fmt::Debug for StartupLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.held {
            Held::Nothing => "StartupLock(none)",
            Held::File(_) => "StartupLock(file)",
            Held::Postgres(..) => "StartupLock(postgres)",
        })
    }
}

impl StartupLock {
    /// Waits until no other process sets up the database at `url`, then holds the lock.
    pub async fn acquire(url: &str) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            // The file as sqlx reads the URL (percent-decoded: `my%20data/a.db` is
            // `my data/a.db`); an in-memory database needs no lock.
            let Some(file) = super::direct_sqlite::DirectSqlite::from_url(url, 0) else {
                return Ok(Self { held: Held::Nothing });
            };
            let mut lock = file.path().as_os_str().to_owned();
            lock.push(".startup.lock");
            return lock_file(std::path::PathBuf::from(lock)).await;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(1)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .idle_timeout(None)
            .max_lifetime(None)
            .sqlx_logging(false);
        let conn = Database::connect(opts).await?;
        let txn = conn.begin().await?;
        let sql = |f: &str| Statement::from_string(DbBackend::Postgres, format!("SELECT {f}({STARTUP_LOCK_KEY})"));
        let got = match txn.query_one_raw(sql("pg_try_advisory_xact_lock")).await? {
            Some(row) => row.try_get_by_index::<bool>(0)?,
            None => false,
        };
        if !got {
            tracing::info!("another process is setting up the database; waiting for it to finish");
            txn.execute_raw(sql("pg_advisory_xact_lock")).await?;
        }
        Ok(Self { held: Held::Postgres(txn, conn) })
    }

    /// Lets the next process set up (it then finds the work done).
    pub async fn release(self) -> Result<(), DbErr> {
        match self.held {
            Held::Nothing => {}
            Held::File(file) => {
                file.unlock().map_err(|e| DbErr::Custom(format!("unlocking the start-up lock: {e}")))?
            }
            Held::Postgres(txn, conn) => {
                txn.commit().await?;
                conn.close().await?;
            }
        }
        Ok(())
    }
}

/// Locks `path` (created if missing) exclusively, waiting on a blocking thread.
async fn lock_file(path: std::path::PathBuf) -> Result<StartupLock, DbErr> {
    let err = |e: std::io::Error| DbErr::Custom(format!("start-up lock {}: {e}", path.display()));
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(err)?;
    match file.try_lock() {
        Ok(()) => return Ok(StartupLock { held: Held::File(file) }),
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!("another process is setting up the database; waiting for it to finish");
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
    }
    let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| DbErr::Custom(format!("start-up lock: {e}")))?
        .map_err(err)?;
    Ok(StartupLock { held: Held::File(file) })
}
