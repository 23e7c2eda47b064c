//! SQLite: the WAL's checkpoints, on a thread of their own.
//!
//! By default the commit that takes the WAL past 1,000 pages copies them back into the
//! database file and flushes both files, while the request that committed (and every write
//! queued behind it) waits. Under a stream of small commits (an audit row per token) that
//! was several checkpoints a second, each a stall of the one writer: 115 `fsync` calls in 10
//! s of client-credentials load, and the server's core idle 4.5 % of the time. Here the
//! writer's commits never checkpoint, and this thread copies what was committed every
//! [`PERIOD`] without waiting for anyone (`PASSIVE`): the writer goes on appending
//! meanwhile, and starts the WAL over once a checkpoint has caught up with it. Should
//! commits never leave it a moment to catch up, a WAL past [`RESTART_FRAMES`] is checkpointed
//! with `RESTART`, which holds new writes back while it copies. It waits at most 20 ms for a
//! lock: a reader in a long transaction (an export) keeps the WAL from starting over, and a
//! `RESTART` that waited for it would hold every write back meanwhile; it copies what it can
//! and tries again a period later.

use super::direct_sqlite::DirectSqlite;
use rusqlite::Connection;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the WAL is checkpointed (more often in the tests). Each checkpoint flushes
/// both files, and the first commit after the WAL starts over flushes its header: every
/// 100 ms that was 24 `fsync` calls a second under a stream of sign-ins, every second about 1.
const PERIOD: Duration = if cfg!(test) { Duration::from_millis(100) } else { Duration::from_secs(1) };

/// The WAL's length in pages past which the checkpoint holds the writer back (64 MiB of 4
/// KiB pages; fewer in the tests).
const RESTART_FRAMES: i64 = if cfg!(test) { 256 } else { 16_384 };

/// Starts the checkpoints of `file`'s WAL; they go on while a clone of the returned handle
/// lives (the thread notices its last drop within one period).
pub(in crate::service) fn start(file: &DirectSqlite) -> Arc<()> {
    let alive = Arc::new(());
    let (file, watch) = (file.clone(), Arc::downgrade(&alive));
    let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || run(&file, &watch));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the WAL checkpoint thread did not start");
    }
    alive
}

fn run(file: &DirectSqlite, alive: &Weak<()>) {
    let conn = match file.open_checkpointer() {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "the WAL checkpoint connection did not open");
            return;
        }
    };
    while alive.strong_count() > 0 {
        std::thread::sleep(PERIOD);
        let outcome = match checkpoint(&conn, "PASSIVE") {
            Ok(frames) if frames > RESTART_FRAMES => checkpoint(&conn, "RESTART"),
            other => other,
        };
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "WAL checkpoint");
        }
    }
}

/// Runs a checkpoint; returns the WAL's length in pages (-1 when not in WAL mode).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| row.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new database file in WAL mode with a table `t (id, v)`.
    fn wal_database() -> (tempfile::TempDir, DirectSqlite) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let setup = Connection::open(&path).unwrap();
        setup.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").unwrap();
        let file = DirectSqlite::from_url(&format!("sqlite://{}", path.display()), 2048).unwrap();
        (dir, file)
    }

    /// Small commits with pauses between rounds, as a server sees them: with the thread the
    /// WAL starts over after each round; without it, every page of every commit stays in it.
    #[test]
    fn the_wal_is_checkpointed_while_the_writer_never_does() {
        let (dir, file) = wal_database();
        let writer = file.open_writer(Duration::from_secs(5)).unwrap();
        let alive = start(&file);
        let wal = dir.path().join("t.db-wal");
        let mut largest = 0;
        for round in 0..20 {
            for i in 0..100 {
                writer.execute("INSERT INTO t (v) VALUES (?1)", [format!("{round}-{i}")]).unwrap();
            }
            largest = largest.max(std::fs::metadata(&wal).unwrap().len());
            std::thread::sleep(Duration::from_millis(150));
        }
        drop(alive);
        // 2,000 commits of at least one 4 KiB page each: 8 MB in a WAL never checkpointed.
        assert!(largest < 3_000_000, "the WAL grew to {largest} bytes");
        let rows: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2_000);
    }

    /// A reader that keeps one snapshot for long (an export) pins the WAL past the `RESTART`
    /// threshold, and the checkpoints must not hold the writer back waiting for it: every
    /// write gets its lock within the writer's own busy wait.
    #[test]
    fn a_long_reader_never_holds_writes_back() {
        let (_dir, file) = wal_database();
        let writer = file.open_writer(Duration::from_millis(300)).unwrap();
        writer.execute("INSERT INTO t (v) VALUES ('first')", []).unwrap();
        let reader = file.open_reader().unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        let alive = start(&file);
        for round in 0..10 {
            for i in 0..100 {
                writer
                    .execute("INSERT INTO t (v) VALUES (?1)", [format!("{round}-{i}")])
                    .unwrap_or_else(|e| panic!("write {round}-{i} was held back: {e}"));
            }
            std::thread::sleep(Duration::from_millis(120));
        }
        drop(alive);
        let still: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!((seen, still), (1, 1), "the reader kept its snapshot");
        reader.execute_batch("COMMIT").unwrap();
    }
}
