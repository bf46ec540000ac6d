//! Where a resource came from, and the session counters built on that tag.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

/// Where the bytes of one fetch came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Downloaded from the origin during this session.
    Network,
    /// Read from the cache (disk or memory).
    Cache,
}

/// A resource's bytes tagged with their source.
#[derive(Clone, Debug)]
pub(crate) struct Fetched {
    pub bytes: Bytes,
    pub source: Source,
}

/// A snapshot of a session's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Resources served from the cache.
    pub cache_hits: u64,
    /// Resources looked up in the cache and not found there.
    pub cache_misses: u64,
    /// Resources downloaded from the network (each counted once, however many tries).
    pub network_fetches: u64,
    /// Retries of requests (after a 5xx, 408, 429, a timeout or a connection error).
    pub retries: u64,
    /// Time spent waiting before those retries (backoff, or the server's
    /// `Retry-After` when longer).
    pub retry_wait: Duration,
    /// Bytes downloaded (as served, before decryption).
    pub bytes_from_network: u64,
    /// Bytes read from the cache (as stored, before decryption).
    pub bytes_from_cache: u64,
    /// Writes that the cache refused with `CacheFull`; the bytes were served from memory.
    pub cache_full: u64,
    /// Writes that failed for any other reason (I/O error, full disk, a
    /// read-only cache); the bytes were served from memory.
    pub cache_write_errors: u64,
    /// Resources skipped by a prefetch because they were already cached.
    pub already_cached: u64,
}

/// The live counters of a session (shared by its tasks).
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    network_fetches: AtomicU64,
    retries: AtomicU64,
    retry_wait_micros: AtomicU64,
    bytes_from_network: AtomicU64,
    bytes_from_cache: AtomicU64,
    cache_full: AtomicU64,
    cache_write_errors: AtomicU64,
    already_cached: AtomicU64,
}

impl StatsCounters {
    pub(crate) fn record(&self, source: Source, len: usize) {
        let len = len as u64;
        match source {
            Source::Network => {
                self.network_fetches.fetch_add(1, Ordering::Relaxed);
                self.bytes_from_network.fetch_add(len, Ordering::Relaxed);
            }
            Source::Cache => {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                self.bytes_from_cache.fetch_add(len, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Count `retries` of one request and the time waited before them.
    pub(crate) fn retried(&self, retries: u32, waited: Duration) {
        self.retries
            .fetch_add(u64::from(retries), Ordering::Relaxed);
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.retry_wait_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Count a `CacheFull`; true the first time (so it is logged loudly once).
    pub(crate) fn cache_full(&self) -> bool {
        self.cache_full.fetch_add(1, Ordering::Relaxed) == 0
    }

    /// Count a failed write other than `CacheFull`; true the first time.
    pub(crate) fn cache_write_error(&self) -> bool {
        self.cache_write_errors.fetch_add(1, Ordering::Relaxed) == 0
    }

    pub(crate) fn already_cached(&self) {
        self.already_cached.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SessionStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SessionStats {
            cache_hits: get(&self.cache_hits),
            cache_misses: get(&self.cache_misses),
            network_fetches: get(&self.network_fetches),
            retries: get(&self.retries),
            retry_wait: Duration::from_micros(get(&self.retry_wait_micros)),
            bytes_from_network: get(&self.bytes_from_network),
            bytes_from_cache: get(&self.bytes_from_cache),
            cache_full: get(&self.cache_full),
            cache_write_errors: get(&self.cache_write_errors),
            already_cached: get(&self.already_cached),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_split_by_source() {
        let s = StatsCounters::default();
        s.record(Source::Network, 10);
        s.record(Source::Cache, 4);
        s.record(Source::Cache, 6);
        s.miss();
        s.retried(1, Duration::from_millis(5));
        assert!(s.cache_full());
        assert!(!s.cache_full());
        let snap = s.snapshot();
        assert_eq!(snap.network_fetches, 1);
        assert_eq!(snap.bytes_from_network, 10);
        assert_eq!(snap.cache_hits, 2);
        assert_eq!(snap.bytes_from_cache, 10);
        assert_eq!(snap.cache_misses, 1);
        assert_eq!(snap.retries, 1);
        assert_eq!(snap.retry_wait, Duration::from_millis(5));
        assert_eq!(snap.cache_full, 2);
    }
}
