//! `CacheOptions`: how a cache is opened.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::evict::{EvictionPolicy, LruPolicy};

/// The size limit used when neither the options nor the index name one: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// How long a streaming writer holds its asset after its last write, by default.
pub const DEFAULT_WRITE_LEASE: Duration = Duration::from_secs(600);

/// How hard a write works to survive a power cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `sync_data` the temp file before `rename`, then sync the directory:
    /// a committed write survives a power cut.
    #[default]
    Sync,
    /// `rename` without syncing: a crash of the process never tears a file.
    /// A power cut (or a kernel crash) may lose recent writes, and on file
    /// systems with delayed allocation (ext4, XFS) a file renamed to a new
    /// name in the last seconds may come back empty or short: use it for
    /// bytes that can be fetched again, such as media segments.
    Buffered,
}

/// Options for [`AssetCache::open`](crate::AssetCache::open), as a builder.
pub struct CacheOptions {
    pub(crate) root: PathBuf,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) run_max_bytes: Option<u64>,
    pub(crate) max_kept_bytes: Option<u64>,
    pub(crate) run_max_kept_bytes: Option<u64>,
    pub(crate) durability: Durability,
    pub(crate) flush_interval: Duration,
    pub(crate) policy: Box<dyn EvictionPolicy>,
    pub(crate) verify_reads: bool,
    pub(crate) write_lease: Duration,
    pub(crate) owner: String,
}

impl CacheOptions {
    /// Options for a cache rooted at `root` (created if missing).
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            root: root.as_ref().to_path_buf(),
            max_bytes: None,
            run_max_bytes: None,
            max_kept_bytes: None,
            run_max_kept_bytes: None,
            durability: Durability::default(),
            flush_interval: Duration::from_secs(1),
            policy: Box::new(LruPolicy::default()),
            verify_reads: false,
            write_lease: DEFAULT_WRITE_LEASE,
            owner: default_owner(),
        }
    }

    /// The bound on the bytes of all assets together. When not given, the
    /// value stored in the index by the last owner is used, else 1 GiB. The
    /// value in force is stored in the index.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// A bound for this open only: it is in force (and evicted to at open)
    /// until the cache is dropped, but the index keeps the stored limit, so
    /// the next owner gets that one back. Wins over [`max_bytes`](Self::max_bytes)
    /// for this open; `max_bytes` is still stored when both are given.
    pub fn run_max_bytes(mut self, max_bytes: u64) -> Self {
        self.run_max_bytes = Some(max_bytes);
        self
    }

    /// The bound on the bytes of the kept assets (downloads, see
    /// [`AssetHandle::keep`](crate::AssetHandle::keep)), apart from
    /// `max_bytes`, which bounds the streamed ones. When not given, the
    /// value stored in the index is used, else none: kept assets are then
    /// bounded only by the disk. The value given is stored in the index.
    /// Kept assets are never evicted to fit it: a write or a keep that
    /// would exceed it fails with
    /// [`CacheError::KeptFull`](crate::CacheError::KeptFull).
    pub fn max_kept_bytes(mut self, max_kept_bytes: u64) -> Self {
        self.max_kept_bytes = Some(max_kept_bytes);
        self
    }

    /// A bound on the kept assets for this open only, as
    /// [`run_max_bytes`](Self::run_max_bytes) is for the streamed ones.
    pub fn run_max_kept_bytes(mut self, max_kept_bytes: u64) -> Self {
        self.run_max_kept_bytes = Some(max_kept_bytes);
        self
    }

    /// Whether writes are synced to disk before they become visible (default `Sync`).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How often a background thread persists a changed index (default 1 s).
    /// The index is never rewritten on every put; `flush()` and drop write it too.
    /// Intervals below 10 ms count as 10 ms (0 does not make the thread spin).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Whether every hit also checks the digest of the bytes it read
    /// against the resource's integrity record (default `false`: a hit
    /// checks the length only, which costs no syscall). A resource that
    /// fails is a miss: it is removed (accounted) and `read`/`open` return
    /// `None`, so an online caller fetches it again; nothing rotted is ever
    /// returned. Costs one pass of XXH3 over the bytes (tens of GB/s), and
    /// for [`AssetHandle::open`](crate::AssetHandle::open) a read of the
    /// whole resource before the reader is returned.
    pub fn verify_reads(mut self, verify: bool) -> Self {
        self.verify_reads = verify;
        self
    }

    /// How long a streaming writer ([`AssetWriter`](crate::AssetWriter))
    /// holds its asset after its last write (default 10 minutes). While it
    /// holds, the asset is not evicted and the staged bytes count against
    /// `max_bytes`; past it (a writer leaked with `mem::forget`, or held by
    /// a task that never ends) it does neither, and its commit fails with
    /// [`CacheError::WriteExpired`](crate::CacheError::WriteExpired)
    /// writing nothing. One-shot puts are not subject to it.
    pub fn write_lease(mut self, lease: Duration) -> Self {
        self.write_lease = lease;
        self
    }

    /// What the owner is, written with its pid into the lock file so that
    /// another opener's [`CacheError::InUse`](crate::CacheError::InUse)
    /// can name it, e.g. `kithara serve` (default: the name of the
    /// executable). Control characters are dropped.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// The eviction policy (default [`LruPolicy`]).
    pub fn policy(mut self, policy: impl EvictionPolicy) -> Self {
        self.policy = Box::new(policy);
        self
    }
}

impl std::fmt::Debug for CacheOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheOptions")
            .field("root", &self.root)
            .field("max_bytes", &self.max_bytes)
            .field("run_max_bytes", &self.run_max_bytes)
            .field("max_kept_bytes", &self.max_kept_bytes)
            .field("run_max_kept_bytes", &self.run_max_kept_bytes)
            .field("durability", &self.durability)
            .field("flush_interval", &self.flush_interval)
            .field("verify_reads", &self.verify_reads)
            .field("write_lease", &self.write_lease)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// The executable's file name, or `unknown`.
fn default_owner() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}
