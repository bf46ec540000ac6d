//! `AssetHandle`: every operation on one asset.

use std::sync::Arc;

use bytes::Bytes;
use url::Url;

use crate::cache::Inner;
use crate::error::{CacheError, Result};
use crate::guard::LeaseGuard;
use crate::id::AssetId;
use crate::lease::LeaseKind;
use crate::options::Durability;
use crate::path::CachePath;
use crate::read::AssetReader;
use crate::stats::AssetInfo;
use crate::store::Store;
use crate::write::AssetWriter;

/// What a completed write did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// Bytes now stored at the path.
    pub bytes_written: u64,
    /// Assets evicted to make room, oldest first.
    pub evicted: Vec<AssetId>,
}

/// One asset of a cache: owned, `Clone + Send + Sync + 'static`.
#[derive(Clone)]
pub struct AssetHandle {
    inner: Arc<Inner>,
    id: AssetId,
    /// The asset's directory relative to the cache root, built once: every
    /// hit is resolved from it.
    dir: Option<Arc<str>>,
}

impl AssetHandle {
    pub(crate) fn new(inner: Arc<Inner>, id: AssetId) -> Self {
        let dir = inner.fs().map(|fs| Arc::from(fs.asset_rel(&id)));
        Self { inner, id, dir }
    }

    /// The asset.
    pub fn id(&self) -> AssetId {
        self.id
    }

    /// Whether a resource is cached (not counted as an access).
    pub fn exists(&self, path: &CachePath) -> bool {
        self.inner.exists(&self.id, self.dir.as_deref(), path)
    }

    /// Opens a cached resource; a hit makes the asset the most recently used.
    pub fn open(&self, path: &CachePath) -> Result<Option<AssetReader>> {
        self.inner.open(&self.id, self.dir.as_deref(), path)
    }

    /// Reads a whole cached resource; a hit makes the asset the most recently used.
    pub fn read(&self, path: &CachePath) -> Result<Option<Bytes>> {
        self.read_in(path, Vec::new())
    }

    /// [`read`](Self::read) into `buf`'s allocation (emptied first, grown
    /// to the resource's length): the caller chooses where the bytes' memory
    /// comes from. With glibc, memory is drawn from an arena per thread, and
    /// a read on a short-lived blocking thread would leave its freed bytes
    /// in that thread's arena; a buffer allocated on a long-lived thread
    /// keeps them in that thread's. In memory mode `buf` is not used.
    pub fn read_in(&self, path: &CachePath, buf: Vec<u8>) -> Result<Option<Bytes>> {
        // An open file survives a concurrent eviction, so the read needs no lock.
        self.inner.read(&self.id, self.dir.as_deref(), path, buf)
    }

    /// Writes a resource atomically: readers see the old bytes or the new, never a mix.
    ///
    /// Evicts least-recently-used unpinned assets (never this one) if the
    /// cache would outgrow `max_bytes`; fails with [`CacheError::CacheFull`],
    /// changing nothing, if that cannot make room.
    pub fn put_atomic(&self, path: &CachePath, bytes: &[u8]) -> Result<PutResult> {
        self.put(path, bytes, None)
    }

    /// [`put_atomic`](Self::put_atomic) with its own durability, e.g.
    /// `Buffered` for media segments that can be fetched again while
    /// playlists and keys keep the cache's `Sync`. Never tears a file either way.
    pub fn put_atomic_with(
        &self,
        path: &CachePath,
        bytes: &[u8],
        durability: Durability,
    ) -> Result<PutResult> {
        self.put(path, bytes, Some(durability))
    }

    fn put(
        &self,
        path: &CachePath,
        bytes: &[u8],
        durability: Option<Durability>,
    ) -> Result<PutResult> {
        let _writing = LeaseGuard::acquire(Arc::clone(&self.inner), self.id, LeaseKind::Write);
        let len = bytes.len() as u64;
        let (max, kept) = self.inner.budget(&self.id);
        if len > max {
            return Err(CacheError::full(kept, len, max));
        }
        let mut staged = self.inner.stage(
            &self.id,
            self.dir.as_deref(),
            path,
            durability,
            Some(bytes.len()),
        )?;
        staged.write_bytes(bytes)?;
        staged.finish()?;
        let commit = self.inner.commit(staged)?;
        Ok(PutResult {
            bytes_written: commit.new_len,
            evicted: commit.evicted,
        })
    }

    /// Starts a streaming write; nothing is visible until [`AssetWriter::commit`].
    pub fn writer(&self, path: &CachePath) -> Result<AssetWriter> {
        self.stream(path, None)
    }

    /// [`writer`](Self::writer) with its own durability.
    pub fn writer_with(&self, path: &CachePath, durability: Durability) -> Result<AssetWriter> {
        self.stream(path, Some(durability))
    }

    fn stream(&self, path: &CachePath, durability: Option<Durability>) -> Result<AssetWriter> {
        let lease = LeaseGuard::acquire(Arc::clone(&self.inner), self.id, LeaseKind::Write);
        let staged = self
            .inner
            .stage(&self.id, self.dir.as_deref(), path, durability, None)?;
        let budget = self.inner.budget(&self.id);
        Ok(AssetWriter::new(
            Arc::clone(&self.inner),
            staged,
            lease,
            budget,
        ))
    }

    /// Removes one resource (a corrupt segment, a key to fetch again);
    /// returns whether it was there. Allowed while the asset is pinned.
    pub fn remove(&self, path: &CachePath) -> Result<bool> {
        self.inner.writable()?;
        Ok(self.inner.engine().remove_file(&self.id, path)?.is_some())
    }

    /// Removes the asset and all its resources.
    ///
    /// Fails with [`CacheError::AssetInUse`] while it is pinned or being written.
    pub fn remove_all(&self) -> Result<()> {
        self.inner.remove(&self.id)
    }

    /// Records where the asset came from (shown by `assets()`).
    pub fn set_source_url(&self, url: &Url) -> Result<()> {
        self.inner.set_source_url(&self.id, url.as_str())
    }

    /// Pins the asset; see [`AssetCache::pin`](crate::AssetCache::pin).
    pub fn pin(&self) -> LeaseGuard {
        LeaseGuard::acquire(Arc::clone(&self.inner), self.id, LeaseKind::Pin)
    }

    /// Keeps the asset: a user's download. It is never evicted (only
    /// removed on request, or by [`AssetCache::gc_kept`](crate::AssetCache::gc_kept)),
    /// and its bytes move from the streamed total, bounded by `max_bytes`,
    /// to the kept one, bounded by `max_kept_bytes`: nothing is downloaded
    /// or copied. An asset not cached yet can be kept before its first
    /// write, so a download lands kept from its first byte.
    ///
    /// Durable before it returns (a marker file in the asset's folder,
    /// synced with it), whatever the index: a lost `state.json` cannot
    /// turn a download into an evictable asset. Fails with
    /// [`CacheError::KeptFull`], changing nothing, if the asset does not
    /// fit `max_kept_bytes`. Keeping a kept asset does nothing.
    pub fn keep(&self) -> Result<()> {
        self.inner.set_kept(&self.id, true).map(drop)
    }

    /// Makes a kept asset streamed again: its bytes move back to the
    /// streamed total and it becomes the most recently used streamed
    /// asset; then streamed assets are evicted down to `max_bytes`, this
    /// one too if it alone is larger, unless it is pinned. Returns what
    /// was evicted. Unkeeping an asset that is not kept does nothing.
    pub fn unkeep(&self) -> Result<Vec<AssetId>> {
        self.inner.set_kept(&self.id, false)
    }

    /// What the index knows of the asset, if anything.
    pub fn info(&self) -> Option<AssetInfo> {
        let engine = self.inner.engine();
        let leases = engine.inner();
        let pinned = leases.is_pinned(&self.id) || self.inner.pins.seen_one(&self.id);
        leases
            .inner()
            .entry(&self.id)
            .map(|e| AssetInfo::new(self.id, e, pinned))
    }
}

impl std::fmt::Debug for AssetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetHandle").field("id", &self.id).finish()
    }
}
