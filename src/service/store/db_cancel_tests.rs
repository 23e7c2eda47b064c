//! A request dropped while its transaction's `BEGIN` waits for PostgreSQL's answer (a client
//! that hung up, a timeout) must not hand the pooled connection to the next borrower inside
//! that transaction: the borrower's statements would then run uncommitted in it. sqlx 0.9.0
//! did so (it counted the transaction only once the answer came, so nothing rolled it back).
//! Runs when `AUTHGRAPH_TEST_DATABASE_URL` names a PostgreSQL database.

use super::Db;
use sea_orm::ConnectionTrait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long the proxy holds each chunk of the server's answers while it is slow.
const HOLD: Duration = Duration::from_millis(400);

/// A TCP proxy to `target` on a port of its own; while `slow` is set it holds each chunk of
/// the server's answers for [`HOLD`] before passing it on.
async fn slow_proxy(target: String, slow: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let port = listener.local_addr().expect("the proxy's address").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&target).await else { return };
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
            let slow = slow.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                    if slow.load(Ordering::SeqCst) {
                        tokio::time::sleep(HOLD).await;
                    }
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A database handle with one pooled connection to the test database, through a
/// [`slow_proxy`] that `slow` switches; `None` when no PostgreSQL database is named.
async fn proxied_db(slow: Arc<AtomicBool>) -> Option<Db> {
    let url = std::env::var("AUTHGRAPH_TEST_DATABASE_URL").ok()?;
    let mut proxied = url::Url::parse(&url).expect("the test database's URL");
    let target = format!("{}:{}", proxied.host_str().expect("a host"), proxied.port().unwrap_or(5432));
    let port = slow_proxy(target, slow).await;
    proxied.set_host(Some("127.0.0.1")).expect("set the host");
    proxied.set_port(Some(port)).expect("set the port");
    // One pooled connection, so each probe borrows the very one the dropped call used.
    let db = Db::connect(proxied.as_str(), 1, 1024).await.expect("connect through the proxy");
    db.conn.execute_unprepared("SELECT 1").await.expect("the connection works");
    // sqlx tests a connection as it goes back to the pool (a round trip): let that finish,
    // so that the answer the proxy holds next is the one the test means.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Some(db)
}

/// Counts the warnings and errors sqlx logs, such as PostgreSQL's notice "there is no
/// transaction in progress".
#[derive(Clone, Default)]
struct SqlxWarnings(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SqlxWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() <= tracing::Level::WARN && meta.target().starts_with("sqlx") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn a_begin_dropped_before_its_answer_leaves_no_transaction_on_the_pooled_connection() {
    let slow = Arc::new(AtomicBool::new(false));
    let Some(db) = proxied_db(slow.clone()).await else { return };

    slow.store(true, Ordering::SeqCst);
    let begun = tokio::time::timeout(HOLD / 4, db.transaction()).await;
    assert!(begun.is_err(), "BEGIN was answered although the proxy held the answer");
    slow.store(false, Ordering::SeqCst);

    // Outside a transaction PostgreSQL refuses a savepoint; inside the abandoned one it
    // would take it.
    let probe = db.conn.execute_unprepared("SAVEPOINT probe").await;
    assert!(probe.is_err(), "the next borrower got the connection inside the dropped BEGIN's transaction");
    let err = probe.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("transaction block"), "the probe failed for another reason: {err}");
    // And the connection serves a whole unit of work again.
    let txn = db.transaction().await.expect("begin after the probe");
    txn.execute_unprepared("SELECT 1").await.expect("a statement in the transaction");
    db.commit(txn).await.expect("commit");
}

#[tokio::test]
async fn a_commit_dropped_before_its_answer_still_lands_and_queues_no_rollback() {
    use tracing_subscriber::layer::SubscriberExt;
    let warnings = SqlxWarnings::default();
    let _log = tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let slow = Arc::new(AtomicBool::new(false));
    let Some(db) = proxied_db(slow.clone()).await else { return };

    let txn = db.transaction().await.expect("begin");
    // A temporary table lives as long as the session, which the one pooled connection keeps.
    txn.execute_unprepared("CREATE TEMPORARY TABLE commit_probe (n int); INSERT INTO commit_probe VALUES (1)")
        .await
        .expect("write in the transaction");
    slow.store(true, Ordering::SeqCst);
    let committed = tokio::time::timeout(HOLD / 4, db.commit(txn)).await;
    assert!(committed.is_err(), "COMMIT was answered although the proxy held the answer");
    slow.store(false, Ordering::SeqCst);
    tokio::time::sleep(HOLD + Duration::from_millis(200)).await;

    let row = db
        .conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*)::bigint AS n FROM commit_probe",
        ))
        .await
        .expect("the committed table is there")
        .and_then(|r| r.try_get::<i64>("", "n").ok());
    assert_eq!(row, Some(1), "the unit of work did not land");
    // Before, the dropped commit's transaction queued a ROLLBACK behind the COMMIT, and
    // PostgreSQL warned that no transaction was in progress.
    assert_eq!(warnings.0.load(Ordering::SeqCst), 0, "sqlx logged a warning");
}
