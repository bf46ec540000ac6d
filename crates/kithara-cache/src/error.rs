//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::id::AssetId;

/// Everything that can go wrong in the cache; each variant names what it concerns.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A [`CachePath`](crate::CachePath) was rejected.
    #[error("invalid cache path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A URL cannot identify an asset.
    #[error("invalid asset url {url}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An asset id string is not 64 hex digits.
    #[error("invalid asset id {0:?}: expected 64 hex digits")]
    InvalidId(String),
    /// A write needs more room than eviction can free: everything else is pinned
    /// or the resource is larger than the cache. Nothing was written or evicted.
    #[error("cache full: need {needed} bytes, at most {available} can be made available")]
    CacheFull {
        /// Bytes the write adds to the cache.
        needed: u64,
        /// Bytes that could be made free by evicting every unpinned asset.
        available: u64,
    },
    /// A write into a kept asset, or keeping an asset, needs more room than
    /// `max_kept_bytes` leaves. Kept assets are never evicted to make room,
    /// so nothing was written, moved or evicted.
    #[error("kept assets full: need {needed} bytes, {available} left under max_kept_bytes")]
    KeptFull {
        /// Bytes the write (or the asset being kept) adds to the kept ones.
        needed: u64,
        /// Bytes left under `max_kept_bytes`.
        available: u64,
    },
    /// Another process (or another `AssetCache` in this one) owns the directory.
    #[error("cache directory {} is in use by another process{}", root.display(), owner.as_ref().map(|o| format!(" ({o})")).unwrap_or_default())]
    InUse {
        /// The cache root.
        root: PathBuf,
        /// Who owns it, as the owner wrote it into its lock file; `None`
        /// if it could not be read. For display only: nothing checks it.
        owner: Option<Owner>,
    },
    /// The cache was opened with [`AssetCache::open_read_only`](crate::AssetCache::open_read_only).
    #[error("cache at {} is open read-only", root.display())]
    ReadOnly {
        /// The cache root.
        root: PathBuf,
    },
    /// The asset is pinned or being written, so it cannot be removed now.
    #[error("asset {id} is in use (pinned or being written)")]
    AssetInUse {
        /// The asset.
        id: AssetId,
    },
    /// A streaming write was idle longer than its lease
    /// ([`CacheOptions::write_lease`](crate::CacheOptions::write_lease)):
    /// it stopped protecting its asset, so its commit is refused and
    /// nothing is written.
    #[error("write of {path} expired: idle longer than its lease; nothing was written")]
    WriteExpired {
        /// The resource being written.
        path: String,
    },
    /// Something in the cache directory is not what the cache put there.
    #[error("unexpected entry at {}: {reason}", path.display())]
    Unexpected {
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An I/O operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The owner of a cache directory, as it describes itself in its lock file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Owner {
    /// Its process id.
    pub pid: u32,
    /// What it is ([`CacheOptions::owner`](crate::CacheOptions::owner)),
    /// e.g. `kithara serve`.
    pub command: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}: {}", self.pid, self.command)
    }
}

impl CacheError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| CacheError::Io { op, path, source }
    }

    /// True for [`CacheError::CacheFull`] and [`CacheError::KeptFull`]: a
    /// budget is full, and the caller may keep the bytes in memory instead.
    pub fn is_cache_full(&self) -> bool {
        matches!(
            self,
            CacheError::CacheFull { .. } | CacheError::KeptFull { .. }
        )
    }

    /// A write of `needed` bytes larger than its whole budget (`kept` or
    /// streamed) of `max` bytes.
    pub(crate) fn full(kept: bool, needed: u64, max: u64) -> Self {
        if kept {
            CacheError::KeptFull {
                needed,
                available: max,
            }
        } else {
            CacheError::CacheFull {
                needed,
                available: max,
            }
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;
