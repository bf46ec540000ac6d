//! What the proxy has done, for `Proxy::stats` and the logs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters since the proxy started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Requests answered (any status).
    pub requests: u64,
    /// Resources served from the cache.
    pub hits: u64,
    /// Resources that were not cached (fetched, joined, or refused offline).
    pub misses: u64,
    /// Requests joined to a fetch already under way for the same resource.
    pub joined: u64,
    /// Requests sent to origins.
    pub upstream_requests: u64,
    /// Body bytes received from origins.
    pub upstream_bytes: u64,
    /// Body bytes served from the cache.
    pub cache_bytes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    joined: AtomicU64,
    upstream_requests: AtomicU64,
    upstream_bytes: AtomicU64,
    cache_bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }
    pub(crate) fn hit(&self, bytes: u64) {
        self.hits.fetch_add(1, Relaxed);
        self.cache_bytes.fetch_add(bytes, Relaxed);
    }
    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Relaxed);
    }
    pub(crate) fn joined(&self) {
        self.joined.fetch_add(1, Relaxed);
    }
    pub(crate) fn upstream(&self) {
        self.upstream_requests.fetch_add(1, Relaxed);
    }
    pub(crate) fn upstream_bytes(&self, bytes: usize) {
        self.upstream_bytes.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ProxyStats {
        ProxyStats {
            requests: self.requests.load(Relaxed),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            joined: self.joined.load(Relaxed),
            upstream_requests: self.upstream_requests.load(Relaxed),
            upstream_bytes: self.upstream_bytes.load(Relaxed),
            cache_bytes: self.cache_bytes.load(Relaxed),
        }
    }
}
