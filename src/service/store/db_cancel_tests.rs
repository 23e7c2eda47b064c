//! A request dropped while its transaction's `BEGIN` waits for PostgreSQL's answer (a client
//! that hung up, a timeout) must not hand the pooled connection to the next borrower inside
//! that transaction: the borrower's statements would then run uncommitted in it. sqlx 0.9.0
//! did so (it counted the transaction only once the answer came, so nothing rolled it back).
//! Runs when `AUTHGRAPH_TEST_DATABASE_URL` names a PostgreSQL database.

use super::Db;
use sea_orm::ConnectionTrait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

#[tokio::test]
async fn a_begin_dropped_before_its_answer_leaves_no_transaction_on_the_pooled_connection() {
    let Ok(url) = std::env::var("AUTHGRAPH_TEST_DATABASE_URL") else { return };
    let mut proxied = url::Url::parse(&url).expect("the test database's URL");
    let target = format!("{}:{}", proxied.host_str().expect("a host"), proxied.port().unwrap_or(5432));
    let slow = Arc::new(AtomicBool::new(false));
    let port = slow_proxy(target, slow.clone()).await;
    proxied.set_host(Some("127.0.0.1")).expect("set the host");
    proxied.set_port(Some(port)).expect("set the port");
    // One pooled connection, so the probe below borrows the very one the dropped BEGIN used.
    let db = Db::connect(proxied.as_str(), 1, 1024).await.expect("connect through the proxy");
    db.conn.execute_unprepared("SELECT 1").await.expect("the connection works");
    // sqlx tests a connection as it goes back to the pool (a round trip): let that finish,
    // so that the held answer below is BEGIN's.
    tokio::time::sleep(Duration::from_millis(100)).await;

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
