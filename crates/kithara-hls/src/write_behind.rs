//! Cache writes run behind the reader: a downloaded resource is handed on at
//! once while its write is queued, so a session streams at the speed of the
//! network or of the disk, whichever is slower, not of both added up.
//!
//! One writer per session drains the queue on the blocking pool (started
//! when the queue gets a job, gone when it is empty): writers racing into
//! one directory only spin on its lock, which on two cores costs more than
//! the writes. The queue is bounded ([`QUEUED_WRITES`]): the next download's
//! write waits for room, so the bytes held for writing stay bounded whatever
//! the track length. A write never fails the read: its outcome is logged and
//! counted (`cache_full`, `cache_write_errors`) when it finishes.

use std::any::Any;
use std::collections::VecDeque;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use kithara_cache::{AssetHandle, CacheError, CachePath, Durability, PutResult};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::error::HlsError;
use crate::source::StatsCounters;

/// Writes queued or running at once, per session.
pub(crate) const QUEUED_WRITES: u32 = 8;

/// Files written in order: a later file may depend on an earlier one (a
/// playlist on the side file naming its base URL), so the job stops at the
/// first failure.
pub(crate) struct WriteJob {
    pub store: AssetHandle,
    pub files: Vec<(CachePath, Bytes)>,
    /// `None`: the cache's own durability.
    pub durability: Option<Durability>,
    /// The URL the files came from, for the logs (never their bytes).
    pub url: Url,
    /// Recorded as the asset's source once every file is written.
    pub source: Option<Url>,
    /// What keeps the cache alive and the session's operations counted
    /// until the job is done; declared after `store`, so dropped after it.
    pub _hold: Box<dyn Any + Send>,
}

/// The write queue of one session.
pub(crate) struct WriteQueue {
    slots: Arc<Semaphore>,
    queue: Arc<Mutex<Queue>>,
    stats: Arc<StatsCounters>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<(WriteJob, OwnedSemaphorePermit)>,
    /// Whether a writer is draining `jobs`.
    draining: bool,
}

impl WriteQueue {
    pub(crate) fn new(stats: Arc<StatsCounters>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(QUEUED_WRITES as usize)),
            queue: Arc::default(),
            stats,
        }
    }

    /// Queues a job, waiting for room; starts the writer if none is running.
    pub(crate) async fn push(&self, job: WriteJob) -> Result<(), HlsError> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            // The semaphore is never closed.
            .map_err(|_| HlsError::Internal("write queue closed"))?;
        let start = {
            let mut q = self.queue.lock();
            q.jobs.push_back((job, slot));
            !mem::replace(&mut q.draining, true)
        };
        if start {
            let writer = Writer {
                queue: Arc::clone(&self.queue),
                stats: Arc::clone(&self.stats),
                done: false,
            };
            drop(tokio::task::spawn_blocking(move || writer.drain()));
        }
        Ok(())
    }

    /// Waits until every job queued so far has finished.
    pub(crate) async fn flush(&self) {
        if let Ok(all) = self.slots.acquire_many(QUEUED_WRITES).await {
            drop(all);
        }
    }
}

/// The writer of a queue, run on the blocking pool.
struct Writer {
    queue: Arc<Mutex<Queue>>,
    stats: Arc<StatsCounters>,
    /// Whether `drain` ran to the end.
    done: bool,
}

impl Writer {
    /// Runs queued jobs until there are none.
    fn drain(mut self) {
        loop {
            let next = {
                let mut q = self.queue.lock();
                let next = q.jobs.pop_front();
                q.draining = next.is_some();
                next
            };
            let Some((job, slot)) = next else {
                self.done = true;
                return;
            };
            // A panic in one write must not leave the queue without a writer.
            if panic::catch_unwind(AssertUnwindSafe(|| job.run(&self.stats))).is_err() {
                self.stats.cache_write_error();
                tracing::warn!("a cache write panicked; its resource is served from memory");
            }
            drop(slot);
        }
    }
}

// A writer the blocking pool drops without running it (the runtime is
// shutting down) gives the queued jobs up, so that nothing waits forever for
// a writer that never comes: their slots and permits are released.
impl Drop for Writer {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let lost = {
            let mut q = self.queue.lock();
            q.draining = false;
            mem::take(&mut q.jobs)
        };
        if !lost.is_empty() {
            tracing::warn!(
                writes = lost.len(),
                "cache writes dropped: the runtime is shutting down"
            );
            for _ in &lost {
                self.stats.cache_write_error();
            }
        }
    }
}

impl WriteJob {
    /// Writes the files in order; logs and counts the first failure.
    fn run(self, stats: &StatsCounters) {
        for (path, bytes) in &self.files {
            let put = match self.durability {
                Some(d) => self.store.put_atomic_with(path, bytes, d),
                None => self.store.put_atomic(path, bytes),
            };
            if let Err(e) = put.map(|r| evictions(&r)) {
                report(stats, &self.url, path, &e);
                return;
            }
        }
        if let Some(source) = &self.source
            && let Err(e) = self.store.set_source_url(source)
        {
            tracing::debug!(url = %source, error = %e, "source URL not recorded");
        }
    }
}

fn evictions(r: &PutResult) {
    if !r.evicted.is_empty() {
        tracing::debug!(
            evicted = r.evicted.len(),
            "cache evicted assets to make room"
        );
    }
}

/// `CacheFull` is counted in `cache_full`, any other error (I/O, full disk,
/// read-only cache) in `cache_write_errors`; each is logged loudly once,
/// then at debug level. Logs name the resource, never its bytes.
fn report(stats: &StatsCounters, url: &Url, path: &CachePath, e: &CacheError) {
    let first = if e.is_cache_full() {
        stats.cache_full()
    } else {
        stats.cache_write_error()
    };
    let what = if e.is_cache_full() {
        "cache full: serving from memory"
    } else {
        "cache write failed: serving from memory"
    };
    if first {
        tracing::warn!(%url, %path, error = %e, "{what}");
    } else {
        tracing::debug!(%url, %path, error = %e, "{what}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kithara_cache::{AssetCache, AssetId};

    use super::*;

    fn job(cache: &AssetCache) -> WriteJob {
        WriteJob {
            store: cache.asset(AssetId::from_key(b"track")),
            files: vec![(
                CachePath::parse("v0/seg/000000.ts").unwrap(),
                Bytes::from_static(b"segment"),
            )],
            durability: None,
            url: Url::parse("http://origin.test/seg0.ts").unwrap(),
            source: None,
            _hold: Box::new(()),
        }
    }

    #[test]
    fn jobs_of_a_writer_the_pool_never_runs_are_given_up_not_waited_for() {
        let dead = tokio::runtime::Runtime::new().unwrap();
        let dead_handle = dead.handle().clone();
        dead.shutdown_background();
        let live = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let stats = Arc::new(StatsCounters::default());
        let queue = WriteQueue::new(Arc::clone(&stats));
        let cache = AssetCache::in_memory(1 << 20);
        live.block_on(async {
            // The writer is spawned on a pool that has shut down: dropped unrun.
            let _dead = dead_handle.enter();
            queue.push(job(&cache)).await.unwrap();
        });
        let flushed = live
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), queue.flush()).await });
        assert!(flushed.is_ok(), "flush waited for a writer that never ran");
        assert_eq!(stats.snapshot().cache_write_errors, 1);
        // A later push on a live pool is written.
        live.block_on(queue.push(job(&cache))).unwrap();
        live.block_on(queue.flush());
        assert!(
            cache
                .asset(AssetId::from_key(b"track"))
                .exists(&CachePath::parse("v0/seg/000000.ts").unwrap())
        );
    }
}
