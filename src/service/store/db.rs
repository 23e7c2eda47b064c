//! Database connection: SQLite (WAL, busy timeout, IMMEDIATE write transactions) or
//! PostgreSQL, behind one handle that also counts statements.

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::connections::{ReadConn, WriteConn};
use std::time::Duration;

/// The database handle shared by all requests.
#[derive(Clone, Debug)]
pub struct Db {
    pub(in crate::service) conn: DatabaseConnection,
    /// SQLite only: a one-connection pool for write transactions. Writers then queue in
    /// the pool (async, first come first served) instead of in SQLite's busy handler,
    /// which sleeps up to 100 ms between retries.
    writer: Option<DatabaseConnection>,
    /// PostgreSQL only: connections whose planner never chooses a sequential scan
    /// (`enable_seqscan = off`), for the batch statements that find every row by its key
    /// or address ([`keyed_writer`](Self::keyed_writer)).
    keyed: Option<DatabaseConnection>,
    /// SQLite on a file only: direct connections for reads on the request path.
    direct_pool: Option<Arc<super::direct_sqlite::DirectPool>>,
    /// SQLite on a file only: the connection every write goes through, run on the calling
    /// thread (the sqlx writer above then only migrates).
    direct_writer: Option<Arc<super::direct_writer::DirectWriter>>,
    /// SQLite on a file only: read-only connections that run a read on the calling thread.
    readers: Option<Arc<super::direct_readers::DirectReaders>>,
    /// SQLite on a file with a writer: keeps the WAL's checkpoint thread going
    /// (`wal_checkpoint`).
    _checkpoints: Option<Arc<()>>,
    statements: Arc<AtomicU64>,
    /// One read at a time may take several pooled connections (an export on PostgreSQL):
    /// two such reads each holding one connection and waiting for more could exhaust the
    /// pool between them.
    wide_read: Arc<tokio::sync::Semaphore>,
}

impl Db {
    /// Connects to `url`: `sqlite://path` (created if missing) or `postgres://...`, with
    /// a page cache of `sqlite_cache_kib` per SQLite connection.
    pub async fn connect(url: &str, max_connections: u32, sqlite_cache_kib: u32) -> Result<Self, DbErr> {
        let is_sqlite = url.starts_with("sqlite:");
        let url = if is_sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let mut opts = ConnectOptions::new(url.clone());
        // Each connection to `sqlite::memory:` is a database of its own: use one.
        let max_connections = if url.contains(":memory:") { 1 } else { max_connections };
        // On a SQLite file the direct connections serve the requests' reads and writes;
        // sqlx's pool keeps the few reads left to it (counts, health) on fewer connections.
        let sqlx_connections =
            if is_sqlite && !url.contains(":memory:") { (max_connections / 2).max(2) } else { max_connections };
        opts.max_connections(sqlx_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false);
        if is_sqlite {
            // An embedded database cannot drop a connection: sqlx's ping on every checkout
            // would be one more hand-off to the connection's thread per statement. Nor does
            // it need recycling: all connections open at start and stay, so a burst never
            // waits for new ones (nor races another process while they set themselves up).
            opts.test_before_acquire(false).min_connections(sqlx_connections).idle_timeout(None).max_lifetime(None);
        } else {
            // A server may have dropped a connection that sat idle (a restart, a proxy's
            // timeout): ping only those, not every checkout.
            opts.test_before_acquire_if_idle_for(Duration::from_secs(30));
        }
        if is_sqlite {
            // No `journal_mode` here: WAL is a property of the file, set once below. Set on
            // every new connection, the pragma can need a lock that SQLite does not wait for
            // (its busy timeout does not apply), so a connection opened while another process
            // writes failed with "database is locked".
            opts.map_sqlx_sqlite_opts(move |o| {
                o.synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .pragma("cache_size", format!("-{sqlite_cache_kib}"))
            });
        }
        let mut conn = Database::connect(opts.clone()).await?;
        if is_sqlite && !url.contains(":memory:") {
            use_wal(&conn).await?;
        }
        if !is_sqlite {
            super::bulk::set_postgres_tls(uses_tls(&conn).await);
        }
        let statements = Arc::new(AtomicU64::new(0));
        let count = |conn: &mut DatabaseConnection| {
            let counter = statements.clone();
            conn.set_metric_callback(move |info| {
                // The background poll of change generations (every 250 ms, see `changes`)
                // is not the work of any request: leave it out of the count.
                if !info.statement.sql.contains("change_generations") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                tracing::trace!(target: "authgraph::sql", elapsed_us = info.elapsed.as_micros() as u64, sql = %info.statement.sql);
            });
        };
        count(&mut conn);
        // An in-memory database exists per connection, so it gets no second pool.
        let writer = if is_sqlite && !url.contains(":memory:") {
            let mut w = Database::connect(opts.max_connections(1).min_connections(1).to_owned()).await?;
            count(&mut w);
            Some(w)
        } else {
            None
        };
        let keyed = if is_sqlite {
            None
        } else {
            let mut keyed_opts = opts.clone();
            keyed_opts
                .max_connections(super::refresh_claim::WRITERS as u32)
                .min_connections(1)
                .map_sqlx_postgres_pool_opts(|pool| {
                    pool.after_connect(|conn, _| {
                        Box::pin(async move {
                            sea_orm::sqlx::Executor::execute(conn, "SET enable_seqscan = off").await.map(|_| ())
                        })
                    })
                });
            let mut k = Database::connect(keyed_opts).await?;
            count(&mut k);
            Some(k)
        };
        // Half the pool's size: reads on them are short and whole, and each connection
        // keeps a page cache of its own.
        let direct_size = (max_connections / 2).max(2);
        let direct_pool =
            if is_sqlite { super::direct_sqlite::DirectSqlite::from_url(&url, sqlite_cache_kib) } else { None }
                .map(|d| Arc::new(super::direct_sqlite::DirectPool::new(d, direct_size)));
        let direct_writer = match direct_pool.as_ref().map(|p| p.file()) {
            Some(file) if !file.read_only() => {
                Some(Arc::new(super::direct_writer::DirectWriter::open(file, statements.clone())?))
            }
            _ => None,
        };
        let checkpoints = match (&direct_writer, direct_pool.as_ref()) {
            (Some(_), Some(pool)) => Some(super::wal_checkpoint::start(pool.file())),
            _ => None,
        };
        let readers = match direct_pool.as_ref().map(|p| p.file()) {
            Some(file) => {
                let writer = direct_writer.as_ref().map(|w| w.shared());
                Some(Arc::new(super::direct_readers::DirectReaders::open(
                    file,
                    max_connections,
                    statements.clone(),
                    writer,
                )?))
            }
            None => None,
        };
        Ok(Self {
            conn,
            writer,
            keyed,
            direct_pool,
            direct_writer,
            readers,
            _checkpoints: checkpoints,
            statements,
            wide_read: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// Applies pending migrations; returns how many ran. On SQLite they run on the one
    /// writer connection: SQLite migrations run statement by statement outside a
    /// transaction, and a pooled connection that had read the schema before another
    /// connection's `DROP TRIGGER` judged the next `CREATE TRIGGER` of that name from its
    /// stale copy ("trigger … already exists", seen once in a test run).
    pub async fn migrate(&self) -> Result<usize, DbErr> {
        let conn = self.writer.as_ref().unwrap_or(&self.conn);
        let pending = Migrator::get_pending_migrations(conn).await?.len();
        if pending > 0 {
            Migrator::up(conn, None).await?;
        }
        // The direct connections opened before the migrations ran.
        if let Some(readers) = &self.readers {
            readers.warm()?;
        }
        Ok(pending)
    }

    /// The number of rows `q` selects (`SELECT COUNT(*) FROM (q)`).
    pub(in crate::service) async fn count_rows(&self, q: sea_orm::sea_query::SelectStatement) -> Result<u64, DbErr> {
        use sea_orm::ConnectionTrait;
        use sea_orm::sea_query::{Expr, Query};
        let count = Query::select().expr(Expr::cust("COUNT(*)")).from_subquery(q, "counted").to_owned();
        let n: i64 = match self.conn.query_one(&count).await? {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether the database holds secrets encrypted with a master key (signing keys): a
    /// new master key could not decrypt them.
    pub async fn holds_encrypted_keys(&self) -> Result<bool, DbErr> {
        use sea_orm::{EntityTrait, PaginatorTrait};
        Ok(entity::signing_key::Entity::find().count(&self.conn).await? > 0)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }

    /// Number of SQL statements run so far, apart from the change-generation poll (tests
    /// use it to catch N+1 queries).
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Begins a write transaction (for the unit of work and the batch writers). On SQLite it is `BEGIN IMMEDIATE`, so a transaction
    /// that reads before it writes never fails with "database is locked".
    pub(in crate::service) async fn transaction(&self) -> Result<super::connections::TxConn, DbErr> {
        use super::connections::TxConn;
        if let Some(direct) = &self.direct_writer {
            // The direct writer's statements never wait: a task that writes in a loop gives
            // the thread's other tasks a turn now and then.
            tokio::task::consume_budget().await;
            return direct.transaction().await.map(TxConn::Direct);
        }
        let txn = self
            .writer
            .as_ref()
            .unwrap_or(&self.conn)
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(TxConn::Pool(txn))
    }

    /// Commits a transaction begun with [`Db::transaction`].
    pub(in crate::service) async fn commit(&self, txn: super::connections::TxConn) -> Result<(), DbErr> {
        txn.commit().await
    }

    /// Whether writes run on the direct writer of a SQLite file, where the calling thread
    /// runs each statement (no round trip, no hand-off).
    pub(in crate::service) fn writes_directly(&self) -> bool {
        self.direct_writer.is_some()
    }

    /// The pools beside the main one, for the pool gauges: SQLite's one-connection writer,
    /// or PostgreSQL's refresh-claim connections.
    pub(in crate::service) fn side_pools(&self) -> impl Iterator<Item = &DatabaseConnection> {
        self.writer.iter().chain(self.keyed.iter())
    }

    /// SQLite on a file: how to open a connection of one's own to it (for bulk reads on a
    /// blocking thread); `None` on PostgreSQL and in-memory SQLite.
    pub(in crate::service) fn direct_sqlite(&self) -> Option<&super::direct_sqlite::DirectSqlite> {
        self.direct_pool.as_ref().map(|p| p.file())
    }

    /// On a SQLite file, the rows of `stmt` read by `make`'s reader on a direct connection
    /// (one hand-off for all rows, not one per row); `None` elsewhere, where the caller
    /// reads through sqlx. Counted as a statement like every other.
    pub(in crate::service) async fn direct_all<T: Send + 'static>(
        &self,
        stmt: sea_orm::Statement,
        make: fn(&rusqlite::Statement<'_>) -> crate::service::Result<super::direct_rows::Reader<T>>,
    ) -> Option<crate::service::Result<Vec<T>>> {
        let pool = self.direct_pool.as_ref()?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        Some(pool.run(move |c| super::direct_rows::all(c, stmt, make)).await)
    }

    /// On a SQLite file, `read` run on a direct reader on the calling thread (counted as
    /// `statements` statements); `None` elsewhere. Only for reads bounded by indexes and a
    /// small number of keys.
    pub(in crate::service) fn direct_here<T>(
        &self,
        statements: u64,
        read: impl FnOnce(&rusqlite::Connection) -> crate::service::Result<T>,
    ) -> Option<crate::service::Result<T>> {
        Some(self.readers.as_ref()?.run(statements, read))
    }

    /// The right to take several pooled connections for one read, if no other read holds
    /// it now; without it, read on one connection.
    pub(in crate::service) fn try_wide_read(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.wide_read.clone().try_acquire_owned().ok()
    }

    /// The users a select finds: on a SQLite file through a direct connection, elsewhere
    /// through sqlx (on PostgreSQL read by [`super::pg_rows`]).
    /// `bounded` says the select reads a page of an index and nothing more (no filter that
    /// may skip rows): it then runs on the calling thread.
    pub(in crate::service) async fn select_users(
        &self,
        q: sea_orm::Select<entity::user::Entity>,
        bounded: bool,
    ) -> crate::service::Result<Vec<entity::user::Model>> {
        use sea_orm::QueryTrait;
        self.users_of_statement(q.build(self.reader().get_database_backend()), bounded).await
    }

    /// [`Self::select_users`] of a built statement (built for [`Self::reader`]'s kind of
    /// database).
    pub(in crate::service) async fn users_of_statement(
        &self,
        stmt: sea_orm::Statement,
        bounded: bool,
    ) -> crate::service::Result<Vec<entity::user::Model>> {
        if bounded && let Some(readers) = &self.readers {
            return readers.read(stmt, super::direct_rows::users_of);
        }
        if self.direct_pool.is_some() {
            let rows = self.direct_all(stmt, super::direct_rows::users_of).await;
            // `None` only without a direct pool.
            return rows.unwrap_or_else(|| Err(crate::service::Error::internal("no direct SQLite pool")));
        }
        // Elsewhere the rows as sqlx gives them, read by position on PostgreSQL.
        use sea_orm::{ConnectionTrait, FromQueryResult};
        let rows = self.conn.query_all_raw(stmt).await?;
        if let Some(read) = super::pg_rows::read_all(&rows, super::pg_rows::users_of) {
            return read;
        }
        Ok(rows.iter().map(|r| entity::user::Model::from_query_result(r, "")).collect::<Result<_, DbErr>>()?)
    }

    /// The models `stmt` (a `SELECT` of a model's columns) reads: on a SQLite file read
    /// where they are, typed by `make`'s reader, on the connections [`Self::reader`] would
    /// use; elsewhere through sea-orm. For the reads of the sign-in's path, where sea-orm's
    /// rows of values cost more than SQLite's read.
    pub(in crate::service) async fn select_typed<T: sea_orm::FromQueryResult>(
        &self,
        stmt: sea_orm::Statement,
        make: fn(&rusqlite::Statement<'_>) -> crate::service::Result<super::direct_rows::Reader<T>>,
    ) -> crate::service::Result<Vec<T>> {
        use sea_orm::ConnectionTrait;
        match self.read_typed(stmt, make) {
            Ok(rows) => rows,
            Err(stmt) => {
                let rows = self.reader().query_all_raw(stmt).await?;
                Ok(rows.iter().map(|r| T::from_query_result(r, "")).collect::<Result<_, DbErr>>()?)
            }
        }
    }

    /// On a SQLite file, the rows of `stmt` (a `SELECT`) typed by `make`'s reader on the
    /// connections [`Self::reader`] would use. Elsewhere `stmt` comes back, for the caller
    /// to read through sea-orm.
    pub(in crate::service) fn read_typed<T>(
        &self,
        stmt: sea_orm::Statement,
        make: fn(&rusqlite::Statement<'_>) -> crate::service::Result<super::direct_rows::Reader<T>>,
    ) -> Result<crate::service::Result<Vec<T>>, sea_orm::Statement> {
        match &self.readers {
            Some(readers) => Ok(readers.read(stmt, make)),
            None => Err(stmt),
        }
    }

    /// The connection reads outside a write transaction go to: on a SQLite file one of the
    /// direct readers (the read runs on the calling thread), elsewhere sqlx's pool.
    pub(in crate::service) fn reader(&self) -> ReadConn {
        match &self.readers {
            Some(r) => ReadConn::Direct(r.clone()),
            None => ReadConn::Pool(self.conn.clone()),
        }
    }

    /// As [`writer`](Self::writer), for a statement run often that finds every row it reads
    /// or writes by a key or by its address: on PostgreSQL, a connection whose planner never
    /// scans a table. A connection keeps a generic plan for a prepared statement after its
    /// fifth execution. On a new database that plan was made while the tables held a page or
    /// two, where a scan costs less than an index, and it went on scanning them as they grew,
    /// until autovacuum's next `ANALYZE` (up to a minute later) made PostgreSQL plan again: the
    /// refresh claims slowed by a third within ten seconds.
    pub(in crate::service) async fn keyed_writer(&self) -> Result<WriteConn, DbErr> {
        match &self.keyed {
            Some(keyed) => Ok(WriteConn::Pool(keyed.clone())),
            None => self.writer().await,
        }
    }

    /// The connection single writes (outside a transaction) go to. On a SQLite file it
    /// holds the one writer until dropped: use it for one statement, and never hold it
    /// while beginning a transaction or asking for another.
    pub(in crate::service) async fn writer(&self) -> Result<WriteConn, DbErr> {
        match &self.direct_writer {
            Some(direct) => {
                tokio::task::consume_budget().await;
                Ok(WriteConn::Direct(direct.single().await?))
            }
            None => Ok(WriteConn::Pool(self.writer.as_ref().unwrap_or(&self.conn).clone())),
        }
    }
}

/// Puts a SQLite database in WAL mode (readers never wait for the writer), once: the mode
/// stays with the file. Another process starting at the same moment may hold the lock that
/// switching needs, which SQLite does not wait for: retry for a few seconds.
async fn use_wal(conn: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    let mut tries = 0;
    loop {
        let mode = match conn
            .query_one_raw(sea_orm::Statement::from_string(conn.get_database_backend(), "PRAGMA journal_mode"))
            .await?
        {
            Some(row) => row.try_get_by_index::<String>(0)?,
            None => String::new(),
        };
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.execute_unprepared("PRAGMA journal_mode = WAL").await {
            Ok(_) => {}
            Err(e) if tries < 50 => {
                tries += 1;
                tracing::debug!(error = %e, "switching to WAL waits for another connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a pooled PostgreSQL connection negotiated TLS (`sslmode=prefer` falls back to
/// plain text); when that cannot be read, as if it did.
async fn uses_tls(conn: &DatabaseConnection) -> bool {
    let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let statement = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql);
    match sea_orm::ConnectionTrait::query_one_raw(conn, statement).await {
        Ok(Some(row)) => row.try_get::<bool>("", "ssl").unwrap_or(true),
        _ => true,
    }
}

#[cfg(test)]
#[path = "db_cancel_tests.rs"]
mod cancel_tests;
