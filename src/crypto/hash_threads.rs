//! The threads that compute password hashes, and the Argon2 memory each of them reuses.
//!
//! A hash takes about 20 ms of one core; every other request takes well under one. On
//! tokio's blocking pool a hash competed with the request threads as an equal, so a
//! request that arrived during a burst of sign-ins waited for the scheduler to share the
//! core: the four other requests of a browser login took 7 ms each at the median on two
//! cores, and while browsers waited there, fewer hashes ran than there were cores. These
//! threads run below the request threads' priority ([`NICE`]), so a request preempts a hash
//! at once and a hash uses every moment no request needs. Under a load of requests that
//! keeps every core busy, hashes slow down rather than the requests.

use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use argon2::{Argon2, Block};

/// How much higher the threads' nice value is than the process's (Linux: per thread;
/// capped at 19). Ten steps give a thread about a tenth of a contended core.
const NICE: i32 = 10;

/// Argon2 memory of at most this many blocks (KiB) stays with its thread between
/// hashes: the server's own parameters (19,456) and anything smaller. Larger imported
/// hashes allocate their memory for each verification.
const KEPT_BLOCKS: usize = 19_456;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of low-priority threads that run the jobs sent to them. The threads end
/// when this is dropped.
pub(super) struct HashThreads {
    jobs: Sender<Job>,
}

impl HashThreads {
    /// Starts `n` threads.
    pub(super) fn start(n: usize) -> std::io::Result<Self> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..n.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("password-hash-{i}")).spawn(move || work(&queue))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on one of the threads; its result, or `None` if it panicked.
    pub(super) async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if let Ok(out) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
                let _ = tx.send(out);
            }
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

/// One thread's life: lower its priority, then run jobs until the sender is gone.
fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    HASH_THREAD.set(true);
    loop {
        let next = match queue.lock() {
            Ok(q) => q.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    // On Linux the nice value of "this process" read or set from a thread is that thread's
    // own, which it took from the thread that started it.
    let lowered = getpriority_process(None).and_then(|now| setpriority_process(None, (now + NICE).min(19)));
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "could not lower the priority of a password-hash thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

thread_local! {
    /// Whether this thread is one of the hash threads (only they keep Argon2 memory).
    static HASH_THREAD: Cell<bool> = const { Cell::new(false) };
    /// This thread's Argon2 memory, kept between hashes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `pwd` and `salt` into `out`. On a hash thread, in memory the thread keeps for
/// the next hash when the parameters need at most [`KEPT_BLOCKS`]: a fresh allocation of
/// 19 MiB was zeroed for every hash (6 % of a sign-in's time), though Argon2 writes every
/// block before it reads it. Any other thread allocates, and frees, its memory each time.
pub(super) fn argon2_into(argon: &Argon2<'_>, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let blocks = argon.params().block_count();
    if blocks > KEPT_BLOCKS || !HASH_THREAD.get() {
        return argon.hash_password_into(pwd, salt, out);
    }
    MEMORY.with(|memory| match memory.try_borrow_mut() {
        Ok(mut memory) => {
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            argon.hash_password_into_with_memory(pwd, salt, out, &mut memory[..blocks])
        }
        Err(_) => argon.hash_password_into(pwd, salt, out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Params, Version};

    fn small() -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(64, 1, 1, None).unwrap())
    }

    #[tokio::test]
    async fn only_the_hash_threads_keep_argon2_memory_and_the_result_is_the_same() {
        let mut here = [0u8; 32];
        argon2_into(&small(), b"password", b"saltsaltsaltsalt", &mut here).unwrap();
        assert_eq!(MEMORY.with(|m| m.borrow().len()), 0, "another thread keeps nothing");
        let threads = HashThreads::start(1).unwrap();
        let (there, kept) = threads
            .run(|| {
                let mut out = [0u8; 32];
                argon2_into(&small(), b"password", b"saltsaltsaltsalt", &mut out).unwrap();
                (out, MEMORY.with(|m| m.borrow().len()))
            })
            .await
            .unwrap();
        assert_eq!(kept, 64, "a hash thread keeps the blocks it used");
        assert_eq!(here, there);
        assert_eq!(threads.run(|| panic!("a failing job")).await, None::<()>);
        assert_eq!(threads.run(|| 7).await, Some(7), "the thread outlives a job's panic");
    }
}
