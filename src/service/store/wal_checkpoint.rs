//! SQLite: the WAL's checkpoints, on a thread of their own.
//!
//! By default the commit that takes the WAL past 1,000 pages copies them back into the
//! database file and flushes both files, while the request that committed (and every write
//! queued behind it) waits. Under a stream of small commits (an audit row per token) that
//! was several checkpoints a second, each a stall of the one writer: 115 `fsync` calls in 10
//! s of client-credentials load, and the server's core idle 4.5 % of the time. Here the
//! writer's commits never checkpoint, and this thread copies what was committed without
//! waiting for anyone (`PASSIVE`), every [`PERIOD`] or sooner under heavy writes
//! ([`next_period`]). The writer goes on appending meanwhile, and starts the WAL over once a
//! checkpoint has caught up with it; under writes that never pause, a short `RESTART` right
//! after a passive checkpoint lets it ([`round`]). A WAL past [`RESTART_FRAMES`] is
//! checkpointed with `RESTART` in any case. A `RESTART` holds new writes back while it copies,
//! and waits at most 20 ms for a lock: a reader in a long transaction (an export) keeps the
//! WAL from starting over, and a `RESTART` that waited for it would hold every write back
//! meanwhile; it copies what it can and tries again a round later.

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
    let mut period = PERIOD;
    while alive.strong_count() > 0 {
        std::thread::sleep(period);
        match round(&conn) {
            // A reader that holds an old snapshot keeps the WAL from starting over: sooner
            // rounds would only hold writes back more often.
            Ok((frames, copied)) if copied == frames => period = next_period(period, frames),
            Ok(_) => period = PERIOD,
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint"),
        }
    }
}

/// One round of checkpoints; returns the WAL's length in pages when it began, and how many
/// of them the passive checkpoint copied.
///
/// The `PASSIVE` checkpoint copies what was committed when it began, while the writer goes
/// on appending. The writer starts the WAL over only if it begins a transaction when every
/// page has been copied, which under writes that never pause does not happen: the WAL then
/// grew until [`RESTART_FRAMES`], and that `RESTART` held every write back while it copied
/// tens of thousands of pages and flushed them. So when the passive checkpoint copied
/// everything it saw (no reader holds an older snapshot) and the WAL holds at least
/// [`RESTART_AFTER`] pages, a `RESTART` follows at once: it has only the pages appended
/// meanwhile to copy, and the writer starts the WAL over with its next transaction.
fn round(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let (frames, copied) = checkpoint(conn, "PASSIVE")?;
    if frames > RESTART_FRAMES || (frames >= RESTART_AFTER && copied == frames) {
        checkpoint(conn, "RESTART")?;
    }
    Ok((frames, copied))
}

/// The WAL's length in pages past which a passive checkpoint that copied all of it is
/// followed by a `RESTART` (1 MiB): below it, writes pause often enough for the writer to
/// start the WAL over on its own.
const RESTART_AFTER: i64 = 256;

/// The WAL's length in pages that a checkpoint aims to find (16 MiB of 4 KiB pages).
const TARGET_FRAMES: i64 = 4_096;

/// The shortest wait between two rounds of checkpoints.
const SHORTEST: Duration = Duration::from_millis(50);

/// How long to wait before the next round, after one that came `period` after the one
/// before and found `frames` pages in the WAL: as long as writes at that pace take to fill
/// [`TARGET_FRAMES`], between [`SHORTEST`] and [`PERIOD`]. Under 20,000 audit rows a second
/// (ES256 tokens) the WAL grew by about 38,000 pages a second; checkpoints once a second
/// let it reach 150 MB, and the writer, which cuts a WAL past 64 MiB back when it starts
/// it over, stalled every request for up to 13 ms on that `ftruncate`.
fn next_period(period: Duration, frames: i64) -> Duration {
    if frames <= 0 {
        return PERIOD;
    }
    period.mul_f64(TARGET_FRAMES as f64 / frames as f64).clamp(SHORTEST, PERIOD)
}

/// Runs a checkpoint; returns the WAL's length in pages and how many of them are copied
/// into the database file (both -1 when not in WAL mode).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| Ok((row.get(1)?, row.get(2)?)))
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

    #[test]
    fn checkpoints_come_sooner_as_writes_come_faster() {
        // Nothing or a trickle written: the full period.
        assert_eq!(next_period(PERIOD, 0), PERIOD);
        assert_eq!(next_period(PERIOD, TARGET_FRAMES / 4), PERIOD);
        // Twice the target in a period: the next round after half of it.
        assert_eq!(next_period(PERIOD, 2 * TARGET_FRAMES), PERIOD / 2);
        // Never sooner than the shortest wait.
        assert_eq!(next_period(SHORTEST, 100 * TARGET_FRAMES), SHORTEST);
        // A quick round that found half the target waits twice as long next time.
        assert_eq!(next_period(SHORTEST, TARGET_FRAMES / 2), 2 * SHORTEST);
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
