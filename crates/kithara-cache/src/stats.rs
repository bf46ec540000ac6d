//! What the cache reports about itself.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::id::AssetId;
use crate::persist::state::Entry;

/// Totals of the whole cache.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// The cache root; `None` in memory-only mode.
    pub root: Option<PathBuf>,
    /// Bytes of all cached resources, streamed and kept (temp files never count).
    pub total_bytes: u64,
    /// The bound on the bytes of the streamed assets (`total_bytes - kept_bytes`).
    pub max_bytes: u64,
    /// Bytes of the kept assets (part of `total_bytes`).
    pub kept_bytes: u64,
    /// Number of kept assets.
    pub kept_assets: usize,
    /// The bound on `kept_bytes`; `None`: unlimited (only the disk bounds them).
    pub max_kept_bytes: Option<u64>,
    /// Number of assets.
    pub asset_count: usize,
    /// Number of cached resources.
    pub file_count: u64,
    /// Number of assets pinned by a [`LeaseGuard`](crate::LeaseGuard).
    pub pinned_assets: usize,
    /// Bytes of the pinned assets.
    pub pinned_bytes: u64,
    /// Assets evicted since this cache was opened.
    pub evictions: u64,
    /// Whether this cache was opened read-only.
    pub read_only: bool,
}

/// One asset as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssetInfo {
    /// The asset.
    pub id: AssetId,
    /// Where it came from, if recorded with `set_source_url`.
    pub source_url: Option<String>,
    /// Bytes of its resources.
    pub bytes: u64,
    /// Number of its resources.
    pub files: u64,
    /// Wall time of the last access.
    pub last_access: SystemTime,
    /// Logical tick of the last access: the LRU order (lower is older).
    pub access_tick: u64,
    /// When it was first cached (or first found on disk).
    pub created: SystemTime,
    /// Whether a [`LeaseGuard`](crate::LeaseGuard) pins it now.
    pub pinned: bool,
    /// Whether it is kept ([`AssetHandle::keep`](crate::AssetHandle::keep)):
    /// never evicted, counted against `max_kept_bytes`.
    pub kept: bool,
}

impl AssetInfo {
    pub(crate) fn new(id: AssetId, e: &Entry, pinned: bool) -> Self {
        Self {
            id,
            source_url: e.source_url.clone(),
            bytes: e.bytes,
            files: e.files,
            last_access: from_unix_ms(e.last_access_ms),
            access_tick: e.last_access,
            created: from_unix_ms(e.created_ms),
            pinned,
            kept: e.kept,
        }
    }
}

fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
