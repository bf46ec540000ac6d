//! `AssetCache`: the public facade that composes the layers.

use std::fs::{self, File};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

use crate::error::{CacheError, Result};
use crate::evict::{EvictingStore, EvictionPolicy};
use crate::guard::LeaseGuard;
use crate::handle::AssetHandle;
use crate::id::AssetId;
use crate::index::{Accounting, Index, IndexStore, unix_ms};
use crate::layout::INDEX_FILE;
use crate::lease::{LeaseKind, LeaseStore};
use crate::open::lock;
use crate::open::recover::{RecoveryReport, reconcile};
use crate::options::{CacheOptions, DEFAULT_MAX_BYTES, DEFAULT_WRITE_LEASE, Durability};
use crate::path::CachePath;
use crate::persist::flusher::Flusher;
use crate::persist::load::{self, Loaded};
use crate::pins::PinFiles;
use crate::read::AssetReader;
use crate::stats::{AssetInfo, CacheStats};
use crate::store::record;
use crate::store::{Base, Found, FsStore, MemStore, Plan, Seen, Store};
use crate::write::{InFlight, Staged};

/// How many times a read that raced a commit of the same resource (it
/// opened the old file, the record is the new one's) reads again without
/// the engine lock; then it reads under the lock, where no commit can
/// race it. A writer replacing the resource back to back falls into step
/// with the readers (each waits out the other's commit on the lock, then
/// reads while the other stages), so a reader could lose any number of
/// lock-free tries in a row.
const READ_TRIES: usize = 4;

/// The stack of layers, outermost first.
pub(crate) type Engine = EvictingStore<LeaseStore<IndexStore<Base>>, Box<dyn EvictionPolicy>>;

/// A persistent (or memory-only) cache of assets, bounded by `max_bytes`.
///
/// Cheap to clone; every clone is the same cache. On disk it owns its root
/// directory through an advisory lock until the last clone, handle, writer
/// and guard are dropped; dropping the last one persists the index.
#[derive(Clone)]
pub struct AssetCache {
    pub(crate) inner: Arc<Inner>,
}

/// What every handle, writer and guard keeps alive: the shared state, the
/// background flusher and the owner's lock, dropped in that order.
pub(crate) struct Inner {
    shared: Arc<Shared>,
    flusher: Mutex<Option<Flusher>>,
    /// Held for the lifetime of the owner; the kernel releases it on exit.
    _lock: Option<File>,
}

/// How a cache was opened.
struct Mode {
    read_only: bool,
    durability: Durability,
    verify_reads: bool,
    write_lease: Duration,
}

/// The state the flusher shares; it never owns the lock, so a flush in
/// progress cannot keep a closed cache's directory locked.
pub(crate) struct Shared {
    engine: Mutex<Engine>,
    /// The engine's [`Store::lookup`]: reads, stages writes and syncs
    /// without taking the engine lock; `None` in memory mode.
    fs: Option<FsStore>,
    read_only: bool,
    durability: Durability,
    recovery: RecoveryReport,
    /// Serializes index writes so an older snapshot never lands last.
    save: Mutex<()>,
    /// Bytes staged and not committed yet, by every write: they count
    /// against `max_bytes` (the evicting layer holds the same counter).
    in_flight: InFlight,
    /// Hits check digests, not only lengths.
    verify_reads: bool,
    /// Pins as other processes see them (`pins.rs`).
    pub(crate) pins: PinFiles,
}

impl Deref for Inner {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl AssetCache {
    /// Opens (creating if needed) and owns the cache at `options.root`.
    ///
    /// Fails with [`CacheError::InUse`] if another process owns it. Reconciles
    /// the index with the file system, removes temp files of dead writers,
    /// and rewrites the index if anything was repaired.
    pub fn open(options: CacheOptions) -> Result<Self> {
        let root = options.root.clone();
        fs::create_dir_all(&root).map_err(CacheError::io("create cache root", &root))?;
        let lock = lock::acquire(&root, &options.owner)?;
        let fs = FsStore::new(root.clone(), options.durability)?;
        let (index, recovery) = recover_index(&fs, true);
        let mut store = IndexStore::new(Base::Fs(fs), index);
        let stored = store.max_bytes_setting();
        store.set_max_bytes(options.max_bytes.or(stored).unwrap_or(DEFAULT_MAX_BYTES));
        store.set_run_max_bytes(options.run_max_bytes);
        if let Some(max) = options.max_kept_bytes {
            store.set_max_kept_bytes(max);
        }
        store.set_run_max_kept_bytes(options.run_max_kept_bytes);
        let mode = Mode {
            read_only: false,
            durability: options.durability,
            verify_reads: options.verify_reads,
            write_lease: options.write_lease,
        };
        let cache = Self::assemble(store, options.policy, mode, recovery, Some(lock));
        // An index that cannot be written now (a full disk) is no reason
        // not to open: it is kept in memory and the flusher writes it later.
        if let Err(e) = cache.inner.save_index(true) {
            tracing::warn!(error = %e, "cannot write the index at open; it will be written later");
        }
        let shared = Arc::clone(&cache.inner.shared);
        *cache.inner.flusher.lock() = Some(Flusher::spawn(shared, options.flush_interval));
        Ok(cache)
    }

    /// Opens the cache at `root` for inspection only, beside its owner.
    ///
    /// Takes no lock and never writes: the index and the file system are read
    /// once, reconciled in memory, and the [`RecoveryReport`] says what an
    /// owner would repair. Writes fail with [`CacheError::ReadOnly`].
    pub fn open_read_only(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        fs::metadata(&root).map_err(CacheError::io("open cache root", &root))?;
        let fs = FsStore::new(root, Durability::Buffered)?;
        let (index, recovery) = recover_index(&fs, false);
        let store = IndexStore::new(Base::Fs(fs), index);
        let policy: Box<dyn EvictionPolicy> = Box::new(crate::evict::LruPolicy::default());
        let mode = Mode {
            read_only: true,
            durability: Durability::Buffered,
            verify_reads: false,
            write_lease: DEFAULT_WRITE_LEASE,
        };
        Ok(Self::assemble(store, policy, mode, recovery, None))
    }

    /// A cache held in memory only, bounded by `max_bytes`; it writes no files.
    pub fn in_memory(max_bytes: u64) -> Self {
        let mut store = IndexStore::new(
            Base::Mem(MemStore::default()),
            Index::new(0, None, Default::default(), false),
        );
        store.set_max_bytes(max_bytes);
        let policy: Box<dyn EvictionPolicy> = Box::new(crate::evict::LruPolicy::default());
        let recovery = RecoveryReport::default();
        let mode = Mode {
            read_only: false,
            durability: Durability::Buffered,
            verify_reads: false,
            write_lease: DEFAULT_WRITE_LEASE,
        };
        Self::assemble(store, policy, mode, recovery, None)
    }

    fn assemble(
        store: IndexStore<Base>,
        policy: Box<dyn EvictionPolicy>,
        mode: Mode,
        recovery: RecoveryReport,
        lock: Option<File>,
    ) -> Self {
        let Mode {
            read_only,
            durability,
            verify_reads,
            write_lease,
        } = mode;
        let in_flight = InFlight::new(write_lease);
        let leases = LeaseStore::new(store, in_flight.clone());
        let mut engine = EvictingStore::new(leases, policy, in_flight.clone());
        // What the stack lets run without its lock: the base's files.
        let fs = engine.lookup();
        let mut recovery = recovery;
        let pins = match (&fs, read_only) {
            (None, _) => PinFiles::None,
            (Some(fs), true) => PinFiles::Inspector(fs.clone()),
            (Some(fs), false) => PinFiles::owner(fs.clone()),
        };
        if !read_only && let Some(fs) = &fs {
            // A cache reopened with a smaller limit, or fuller than allowed
            // after a crash, fits again before the first put.
            recovery.evicted = shrink_at_open(&mut engine);
            fs.bury();
        }
        Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    engine: Mutex::new(engine),
                    fs,
                    read_only,
                    durability,
                    recovery,
                    save: Mutex::new(()),
                    in_flight,
                    verify_reads,
                    pins,
                }),
                flusher: Mutex::new(None),
                _lock: lock,
            }),
        }
    }

    /// A handle on one asset (no I/O).
    pub fn asset(&self, id: AssetId) -> AssetHandle {
        AssetHandle::new(Arc::clone(&self.inner), id)
    }

    /// Pins an asset: it is never evicted while the guard (or a clone) lives.
    pub fn pin(&self, id: AssetId) -> Result<LeaseGuard> {
        Ok(LeaseGuard::acquire(
            Arc::clone(&self.inner),
            id,
            LeaseKind::Pin,
        ))
    }

    /// Removes one asset; fails with [`CacheError::AssetInUse`] if it is pinned
    /// or being written.
    pub fn remove(&self, id: AssetId) -> Result<()> {
        self.asset(id).remove_all()
    }

    /// The limit on streamed assets in force (as [`CacheStats::max_bytes`],
    /// without gathering the other totals).
    pub fn max_bytes(&self) -> u64 {
        self.inner.engine.lock().inner().inner().max_bytes()
    }

    /// Totals of the whole cache.
    pub fn stats(&self) -> Result<CacheStats> {
        let engine = self.inner.engine.lock();
        let leases = engine.inner();
        let index = leases.inner();
        // Its own pins, and for an inspector the owner's, in its pin files.
        let seen = self.inner.pins.seen();
        let mut pinned: Vec<&AssetId> = leases.pinned().collect();
        pinned.extend(seen.keys().filter(|id| !leases.is_pinned(id)));
        Ok(CacheStats {
            root: self.inner.fs.as_ref().map(|f| f.root().to_path_buf()),
            total_bytes: index.total_bytes(),
            max_bytes: index.max_bytes(),
            kept_bytes: index.kept_bytes(),
            kept_assets: index.kept_assets(),
            max_kept_bytes: index.max_kept_setting(),
            asset_count: index.asset_count(),
            file_count: index.total_files(),
            pinned_assets: pinned.len(),
            pinned_bytes: pinned.iter().map(|id| index.asset_bytes(id)).sum(),
            evictions: engine.evictions(),
            read_only: self.inner.read_only,
        })
    }

    /// Every asset, most recently used first.
    pub fn assets(&self) -> Result<Vec<AssetInfo>> {
        let engine = self.inner.engine.lock();
        let leases = engine.inner();
        let seen = self.inner.pins.seen();
        let mut out: Vec<AssetInfo> = leases
            .inner()
            .entries()
            .map(|(id, e)| AssetInfo::new(*id, e, leases.is_pinned(id) || seen.contains_key(id)))
            .collect();
        out.sort_by(|a, b| b.access_tick.cmp(&a.access_tick).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Persists the index now if it changed (also done in the background and on drop).
    pub fn flush(&self) -> Result<()> {
        self.inner.save_index(true)
    }

    /// Evicts least-recently-used unpinned streamed assets until they fit
    /// `max_bytes`. Kept assets are never evicted here.
    pub fn gc(&self) -> Result<Vec<AssetId>> {
        self.inner.writable()?;
        let evicted = self.inner.engine.lock().shrink_to_fit();
        self.inner.bury();
        evicted
    }

    /// Evicts least-recently-used unpinned **kept** assets until they fit
    /// `max_kept_bytes`: the one way a kept asset is evicted, for a user
    /// who asked for it (`kithara gc --include-kept`).
    pub fn gc_kept(&self) -> Result<Vec<AssetId>> {
        self.inner.writable()?;
        let evicted = self.inner.engine.lock().shrink_kept();
        self.inner.bury();
        evicted
    }

    /// Changes the limit on kept assets (stored in the index). Evicts
    /// nothing: kept assets over a lowered limit stay, further writes into
    /// them and keeps fail with [`CacheError::KeptFull`] until
    /// [`gc_kept`](Self::gc_kept) or `unkeep` brings them under it.
    pub fn set_max_kept_bytes(&self, max_kept_bytes: u64) -> Result<()> {
        self.inner.writable()?;
        let mut engine = self.inner.engine.lock();
        engine
            .inner_mut()
            .inner_mut()
            .set_max_kept_bytes(max_kept_bytes);
        Ok(())
    }

    /// Changes the size limit (stored in the index) and evicts to fit it.
    pub fn set_max_bytes(&self, max_bytes: u64) -> Result<Vec<AssetId>> {
        self.inner.writable()?;
        let mut engine = self.inner.engine.lock();
        engine.inner_mut().inner_mut().set_max_bytes(max_bytes);
        let evicted = engine.shrink_to_fit();
        drop(engine);
        self.inner.bury();
        evicted
    }

    /// What opening found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The root directory; `None` in memory-only mode.
    pub fn root(&self) -> Option<&Path> {
        self.inner.fs.as_ref().map(FsStore::root)
    }

    /// Whether this cache was opened with [`AssetCache::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }
}

impl std::fmt::Debug for AssetCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetCache")
            .field("root", &self.root())
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

/// Evict the streamed assets down to `max_bytes` (nothing is pinned yet,
/// so LRU order decides; kept assets never go); what went, as it was.
fn shrink_at_open(engine: &mut Engine) -> Vec<AssetInfo> {
    let over = engine.inner().inner().streamed_bytes() > engine.inner().inner().max_bytes();
    if !over {
        return Vec::new();
    }
    let before: Vec<AssetInfo> = engine
        .inner()
        .inner()
        .entries()
        .map(|(id, e)| AssetInfo::new(*id, e, false))
        .collect();
    match engine.shrink_to_fit() {
        Ok(ids) => {
            tracing::info!(evicted = ids.len(), "evicted to fit max_bytes at open");
            ids.iter()
                .filter_map(|id| before.iter().find(|a| a.id == *id).cloned())
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot evict down to max_bytes at open");
            Vec::new()
        }
    }
}

fn recover_index(fs: &FsStore, owner: bool) -> (Index, RecoveryReport) {
    let loaded = load::load(fs, INDEX_FILE);
    // The stored index says how many files each asset had: the records
    // of an asset are gathered into an array of that size.
    let files = |id: &AssetId| match &loaded {
        Loaded::Found(state) => state
            .assets
            .get(id)
            .map_or(0, |e| usize::try_from(e.files).unwrap_or(0)),
        _ => 0,
    };
    let scan = fs.scan(owner, files);
    reconcile(loaded, scan, unix_ms())
}

impl Shared {
    pub(crate) fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock()
    }

    pub(crate) fn writable(&self) -> Result<()> {
        match (&self.fs, self.read_only) {
            (Some(fs), true) => Err(CacheError::ReadOnly {
                root: fs.root().to_path_buf(),
            }),
            _ => Ok(()),
        }
    }

    /// The budget writes into asset `id` count against now: its bound,
    /// and whether it is the kept one.
    pub(crate) fn budget(&self, id: &AssetId) -> (u64, bool) {
        let engine = self.engine.lock();
        let index = engine.inner();
        if index.is_kept(id) {
            (index.max_kept_bytes(), true)
        } else {
            (index.max_bytes(), false)
        }
    }

    /// Marks asset `id` kept or streamed; unkept, it is the newest
    /// streamed asset and the streamed ones are evicted down to
    /// `max_bytes` (never a pinned one): what went.
    pub(crate) fn set_kept(&self, id: &AssetId, kept: bool) -> Result<Vec<AssetId>> {
        self.writable()?;
        let mut engine = self.engine.lock();
        engine.set_kept(id, kept)?;
        if kept {
            return Ok(Vec::new());
        }
        let evicted = engine.shrink_to_fit();
        drop(engine);
        self.bury();
        evicted
    }

    /// The file store; `None` in memory mode.
    pub(crate) fn fs(&self) -> Option<&FsStore> {
        self.fs.as_ref()
    }

    /// Whether a resource is present; on disk (`dir` is the asset's
    /// directory below the root) a stat outside the engine lock.
    pub(crate) fn exists(&self, id: &AssetId, dir: Option<&str>, path: &CachePath) -> bool {
        match (dir, &self.fs) {
            (Some(dir), Some(fs)) => fs.exists_at(dir, path),
            _ => self.engine.lock().exists(id, path),
        }
    }

    /// Opens a resource; on disk the open runs outside the engine lock and
    /// only the hit is recorded under it, so readers never wait on each
    /// other's syscalls or on a commit. A resource that fails its record
    /// is a miss (see [`Shared::checked`]).
    pub(crate) fn open(
        &self,
        id: &AssetId,
        dir: Option<&str>,
        path: &CachePath,
    ) -> Result<Option<AssetReader>> {
        let (Some(dir), Some(fs)) = (dir, &self.fs) else {
            let mut engine = self.engine.lock();
            let Some(reader) = engine.open(id, path)? else {
                return Ok(None);
            };
            let seen = Seen {
                len: reader.len(),
                digest: None,
            };
            return Ok(engine.served(id, path, seen).is_none().then_some(reader));
        };
        let open = || -> Result<Option<(Found<AssetReader>, Option<u64>)>> {
            // A verified open reads the file through once, then hands it
            // over rewound: the reader holds exactly the bytes hashed.
            Ok(if self.verify_reads {
                fs.measure_at(dir, path)?
                    .map(|m| (m.found, Some(m.measured.digest)))
            } else {
                fs.open_at(dir, path)?.map(|found| (found, None))
            })
        };
        for _ in 0..READ_TRIES {
            let Some((found, digest)) = open()? else {
                return Ok(None);
            };
            if let Some(found) = self.checked(id, dir, path, found, digest) {
                return Ok(found);
            }
        }
        let mut engine = self.engine.lock();
        let Some((found, digest)) = open()? else {
            return Ok(None);
        };
        Ok(self
            .settle(&mut engine, id, dir, path, found, digest)
            .flatten())
    }

    /// Reads a whole resource; on disk like [`Shared::open`], in one read
    /// sized by the length seen at open (`read/mod.rs`), into `buf`'s
    /// allocation (its first try; a try after a race allocates anew).
    pub(crate) fn read(
        &self,
        id: &AssetId,
        dir: Option<&str>,
        path: &CachePath,
        buf: Vec<u8>,
    ) -> Result<Option<Bytes>> {
        let (Some(dir), Some(fs)) = (dir, &self.fs) else {
            let Some(reader) = self.open(id, None, path)? else {
                return Ok(None);
            };
            let bytes = reader
                .into_bytes()
                .map_err(|e| CacheError::io("read", path.to_string())(e))?;
            return Ok(Some(bytes));
        };
        // Hashed outside the engine lock (but for the last try).
        let digest = |f: &Found<Vec<u8>>| self.verify_reads.then(|| record::digest(&f.body));
        let mut buf = Some(buf);
        for _ in 0..READ_TRIES {
            let Some(found) = fs.read_at(dir, path, buf.take().unwrap_or_default())? else {
                return Ok(None);
            };
            let seen = digest(&found);
            if let Some(found) = self.checked(id, dir, path, found, seen) {
                return Ok(found.map(Bytes::from));
            }
        }
        let mut engine = self.engine.lock();
        let Some(found) = fs.read_at(dir, path, Vec::new())? else {
            return Ok(None);
        };
        let seen = digest(&found);
        Ok(self
            .settle(&mut engine, id, dir, path, found, seen)
            .flatten()
            .map(Bytes::from))
    }

    /// Hands what a read found to the layers under the engine lock
    /// ([`Store::served`]): checked against the resource's record, and
    /// the hit recorded if it passes. A resource that
    /// fails and is still the file in place is dropped (removed and
    /// accounted; left in place when read-only): `Some(None)`, a miss.
    /// `None` if the file was replaced since it was opened (a concurrent
    /// commit): the caller reads again.
    fn checked<T>(
        &self,
        id: &AssetId,
        dir: &str,
        path: &CachePath,
        found: Found<T>,
        digest: Option<u64>,
    ) -> Option<Option<T>> {
        self.settle(&mut self.engine.lock(), id, dir, path, found, digest)
    }

    /// [`Shared::checked`] with the engine lock held.
    fn settle<T>(
        &self,
        engine: &mut Engine,
        id: &AssetId,
        dir: &str,
        path: &CachePath,
        found: Found<T>,
        digest: Option<u64>,
    ) -> Option<Option<T>> {
        let seen = Seen {
            len: found.len,
            digest,
        };
        let Some(problem) = engine.served(id, path, seen) else {
            return Some(Some(found.body));
        };
        let fs = self.fs.as_ref()?;
        if fs.ino_at(dir, path) != Some(found.ino) {
            return None;
        }
        tracing::warn!(asset = %id, %path, %problem, "resource fails its integrity record; dropped");
        if !self.read_only
            && let Err(e) = engine.remove_file(id, path)
        {
            tracing::warn!(asset = %id, %path, error = %e, "cannot remove a resource that failed its record");
        }
        Some(None)
    }

    /// Starts a write outside the engine lock; `dir` is the asset's
    /// directory on disk, `whole` the length of a write that arrives in one
    /// piece (no buffer is needed for it).
    pub(crate) fn stage(
        &self,
        id: &AssetId,
        dir: Option<&str>,
        path: &CachePath,
        durability: Option<Durability>,
        whole: Option<usize>,
    ) -> Result<Staged> {
        self.writable()?;
        let durability = durability.unwrap_or(self.durability);
        let mut staged = match (&self.fs, dir) {
            (None, _) => Staged::memory(*id, path.clone(), whole.unwrap_or(0)),
            (Some(fs), Some(dir)) => fs.stage_at(id, path, dir, durability, whole.is_none())?,
            (Some(fs), None) => {
                fs.stage_at(id, path, &fs.asset_rel(id), durability, whole.is_none())?
            }
        };
        // A write in pieces is a writer the caller holds (and may leak).
        staged.count_in(&self.in_flight, whole.is_none());
        Ok(staged)
    }

    /// Commits a finished write, then makes the rename durable outside the lock.
    pub(crate) fn commit(&self, staged: Staged) -> Result<crate::store::Commit> {
        let dir = staged.synced_dir();
        let commit = self.engine.lock().commit(staged, Plan::default());
        if commit.as_ref().is_ok_and(|c| !c.evicted.is_empty()) {
            self.bury();
        }
        let commit = commit?;
        if let (Some(dir), Some(fs)) = (dir, &self.fs) {
            fs.make_durable(&dir)?;
        }
        Ok(commit)
    }

    /// Removes one asset; its files are deleted after the engine lock is released.
    pub(crate) fn remove(&self, id: &AssetId) -> Result<()> {
        self.writable()?;
        let removed = self.engine.lock().remove_all(id);
        self.bury();
        removed
    }

    /// Deletes evicted assets outside the engine lock.
    pub(crate) fn bury(&self) {
        if let Some(fs) = &self.fs {
            fs.bury();
        }
    }

    /// Records the source URL; on disk the asset directory is created so the
    /// entry survives a reopen (entries without a directory are dropped).
    pub(crate) fn set_source_url(&self, id: &AssetId, url: &str) -> Result<()> {
        self.writable()?;
        if let Some(fs) = &self.fs {
            fs.ensure_asset_dir(id)?;
        }
        let mut engine = self.engine.lock();
        engine.inner_mut().inner_mut().set_source_url(id, url);
        engine.accessed(id);
        Ok(())
    }

    /// Writes the index if it changed; a no-op in memory and read-only modes.
    /// With `all`, recency-only changes are written too (flush, close).
    pub(crate) fn save_index(&self, all: bool) -> Result<()> {
        let Some(fs) = self.fs.as_ref().filter(|_| !self.read_only) else {
            return Ok(());
        };
        let _one_at_a_time = self.save.lock();
        let Some(state) = self.engine.lock().inner_mut().inner_mut().snapshot(all) else {
            return Ok(());
        };
        let written = serde_json::to_vec(&state)
            .map_err(|e| CacheError::io("serialize index", INDEX_FILE)(e.into()))
            .and_then(|bytes| fs.write_root_file(INDEX_FILE, &bytes));
        if written.is_err() {
            self.engine.lock().inner_mut().inner_mut().mark_dirty();
        }
        written
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Joins the flusher, so no index write outlives the lock released below.
        self.flusher.lock().take();
        if let Err(e) = self.save_index(true) {
            tracing::warn!(error = %e, "cannot persist cache index on close; it is rebuilt on next open");
        }
    }
}
