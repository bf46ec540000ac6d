//! `IndexStore<S>`: byte accounting, recency and metadata over a store.
//!
//! The index is an optimisation: it lets every operation know sizes and the
//! LRU order without touching the disk. It is rebuilt from the file system at
//! open (see `open::recover`), kept in memory, and persisted as `state.json`
//! atomically and only now and then (see [`IndexStore::snapshot`]).

use std::collections::hash_map::Entry as Slot;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::Result;
use crate::id::{AssetId, IdMap};
use crate::path::CachePath;
use crate::store::{Commit, Plan, Seen, Store, forward};
use crate::verify::Problem;
use crate::write::Staged;

mod records;
pub(crate) use records::Records;

use crate::persist::state::{Entry, SCHEMA_VERSION, State};

/// How long reads alone may go unpersisted by the background flusher.
pub(crate) const RECENCY_SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// What the eviction layer needs to know of the layers below it.
pub(crate) trait Accounting {
    /// Bytes of all assets.
    fn total_bytes(&self) -> u64;
    /// The size limit in force.
    fn max_bytes(&self) -> u64;
    /// Bytes of one asset (0 if unknown).
    fn asset_bytes(&self, id: &AssetId) -> u64;
    /// Logical tick of the last access, if the asset is known.
    fn recency(&self, id: &AssetId) -> Option<u64>;
    /// Every known asset with its recency.
    fn recencies(&self) -> Vec<(AssetId, u64)>;
    /// Whether the asset is kept: never evicted, under `max_kept_bytes`.
    fn is_kept(&self, id: &AssetId) -> bool;
    /// Bytes of the kept assets (part of [`total_bytes`](Self::total_bytes)).
    fn kept_bytes(&self) -> u64;
    /// The limit on kept assets in force (`u64::MAX`: unlimited).
    fn max_kept_bytes(&self) -> u64;
    /// Bytes of the streamed assets: what `max_bytes` bounds.
    fn streamed_bytes(&self) -> u64 {
        self.total_bytes().saturating_sub(self.kept_bytes())
    }
}

/// The in-memory index.
pub(crate) struct Index {
    clock: u64,
    max_bytes: Option<u64>,
    /// The limit of this open only (`CacheOptions::run_max_bytes`); in
    /// force over `max_bytes`, never persisted.
    run_max_bytes: Option<u64>,
    entries: IdMap<Entry>,
    total_bytes: u64,
    total_files: u64,
    /// The part of `total_bytes` in kept assets, and how many there are.
    kept_bytes: u64,
    kept_assets: usize,
    /// The stored limit on kept assets (`None`: unlimited) and the one of
    /// this open only, as for `max_bytes`.
    max_kept_bytes: Option<u64>,
    run_max_kept_bytes: Option<u64>,
    /// Sizes, entries or settings changed: persisted at the next flush.
    dirty: bool,
    /// Only recency changed (reads): persisted rarely, since losing it costs
    /// only LRU precision and rewriting a large index per interval costs a lot.
    recency_dirty: bool,
    recency_saved: Instant,
    /// The asset holding the newest tick, which no other asset shares.
    newest: Option<AssetId>,
    /// The integrity record of every recorded resource, as the files carry
    /// them (read by the scan, kept by each commit): a hit checks its
    /// length here without a syscall. Never persisted in `state.json`.
    records: Records,
}

impl Index {
    pub(crate) fn new(
        clock: u64,
        max_bytes: Option<u64>,
        entries: IdMap<Entry>,
        dirty: bool,
    ) -> Self {
        let total_bytes = entries.values().map(|e| e.bytes).sum();
        let total_files = entries.values().map(|e| e.files).sum();
        let kept = || entries.values().filter(|e| e.kept);
        let (kept_bytes, kept_assets) = (kept().map(|e| e.bytes).sum(), kept().count());
        Self {
            clock,
            max_bytes,
            run_max_bytes: None,
            total_bytes,
            total_files,
            kept_bytes,
            kept_assets,
            max_kept_bytes: None,
            run_max_kept_bytes: None,
            entries,
            dirty,
            recency_dirty: false,
            recency_saved: Instant::now(),
            newest: None,
            records: Records::default(),
        }
    }

    /// The same index, with the limit on kept assets a stored index named.
    pub(crate) fn with_max_kept_bytes(mut self, max: Option<u64>) -> Self {
        self.max_kept_bytes = max;
        self
    }

    /// Applies a change of `old` to `new` bytes of an asset to the totals.
    fn resize(&mut self, kept: bool, old: u64, new: u64) {
        self.total_bytes = self.total_bytes.saturating_sub(old).saturating_add(new);
        if kept {
            self.kept_bytes = self.kept_bytes.saturating_sub(old).saturating_add(new);
        }
    }

    /// The same index, knowing the records the scan found on disk.
    pub(crate) fn with_records(mut self, records: Records) -> Self {
        self.records = records;
        self
    }

    /// The tick of a new access of `id`. An asset that already holds the
    /// newest tick keeps it: the order cannot change, so a player reading
    /// its track segment after segment never reorders the LRU.
    fn tick(&mut self, id: &AssetId) -> u64 {
        if self.newest != Some(*id) {
            // Cannot saturate in practice: open renumbers clocks near the limit.
            self.clock = self.clock.saturating_add(1);
            self.newest = Some(*id);
        }
        self.clock
    }
}

/// Keeps the [`Index`] in step with every change to the store below.
pub(crate) struct IndexStore<S> {
    inner: S,
    index: Index,
}

impl<S: Store> IndexStore<S> {
    pub(crate) fn new(inner: S, index: Index) -> Self {
        Self { inner, index }
    }

    /// Marks an access of a known asset: it becomes the most recent.
    fn touch(&mut self, id: &AssetId) {
        if !self.index.entries.contains_key(id) {
            return;
        }
        let tick = self.index.tick(id);
        if let Some(e) = self.index.entries.get_mut(id) {
            e.last_access = tick;
            e.last_access_ms = unix_ms();
            self.index.recency_dirty = true;
        }
    }

    /// The entry of an asset, created if new; counts as an access.
    fn entry_mut(&mut self, id: &AssetId) -> &mut Entry {
        let tick = self.index.tick(id);
        self.index.dirty = true;
        let now = unix_ms();
        let entry = match self.index.entries.entry(*id) {
            Slot::Occupied(o) => o.into_mut(),
            Slot::Vacant(v) => v.insert(Entry {
                created_ms: now,
                ..Entry::default()
            }),
        };
        entry.last_access = tick;
        entry.last_access_ms = now;
        entry
    }

    /// Records where an asset came from (creates its entry if needed).
    pub(crate) fn set_source_url(&mut self, id: &AssetId, url: &str) {
        let entry = self.entry_mut(id);
        entry.source_url = Some(url.to_owned());
    }

    /// Sets the size limit (stored in the index for later opens).
    pub(crate) fn set_max_bytes(&mut self, max: u64) {
        // An explicit, stored limit replaces a run-only one.
        self.index.run_max_bytes = None;
        if self.index.max_bytes != Some(max) {
            self.index.max_bytes = Some(max);
            self.index.dirty = true;
        }
    }

    /// Sets (or clears) the limit of this open only; it is not persisted.
    pub(crate) fn set_run_max_bytes(&mut self, max: Option<u64>) {
        self.index.run_max_bytes = max;
    }

    /// The size limit stored in the index, if any.
    pub(crate) fn max_bytes_setting(&self) -> Option<u64> {
        self.index.max_bytes
    }

    /// Sets the limit on kept assets (stored for later opens).
    pub(crate) fn set_max_kept_bytes(&mut self, max: u64) {
        self.index.run_max_kept_bytes = None;
        if self.index.max_kept_bytes != Some(max) {
            self.index.max_kept_bytes = Some(max);
            self.index.dirty = true;
        }
    }

    /// Sets (or clears) the limit on kept assets of this open only.
    pub(crate) fn set_run_max_kept_bytes(&mut self, max: Option<u64>) {
        self.index.run_max_kept_bytes = max;
    }

    /// The limit on kept assets in force, `None` when unlimited.
    pub(crate) fn max_kept_setting(&self) -> Option<u64> {
        self.index.run_max_kept_bytes.or(self.index.max_kept_bytes)
    }

    /// Number of kept assets.
    pub(crate) fn kept_assets(&self) -> usize {
        self.index.kept_assets
    }

    pub(crate) fn entry(&self, id: &AssetId) -> Option<&Entry> {
        self.index.entries.get(id)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&AssetId, &Entry)> {
        self.index.entries.iter()
    }

    pub(crate) fn asset_count(&self) -> usize {
        self.index.entries.len()
    }

    pub(crate) fn total_files(&self) -> u64 {
        self.index.total_files
    }

    /// The index if it changed since the last snapshot. Cloning is all that
    /// happens under the caller's lock; serializing and writing happen after.
    /// If writing fails the caller calls [`IndexStore::mark_dirty`].
    ///
    /// With `all`, recency-only changes count too; otherwise they wait for
    /// [`RECENCY_SAVE_INTERVAL`].
    pub(crate) fn snapshot(&mut self, all: bool) -> Option<State> {
        let index = &mut self.index;
        let recency_due =
            index.recency_dirty && (all || index.recency_saved.elapsed() >= RECENCY_SAVE_INTERVAL);
        if !index.dirty && !recency_due {
            return None;
        }
        index.dirty = false;
        index.recency_dirty = false;
        index.recency_saved = Instant::now();
        Some(State {
            schema: SCHEMA_VERSION,
            clock: self.index.clock,
            max_bytes: self.index.max_bytes,
            max_kept_bytes: self.index.max_kept_bytes,
            assets: self.index.entries.clone(),
        })
    }

    /// Drops a removed asset's entry and records from the accounting.
    fn forget(&mut self, id: &AssetId) {
        self.index.records.forget(id);
        if let Some(e) = self.index.entries.remove(id) {
            let index = &mut self.index;
            index.resize(e.kept, e.bytes, 0);
            index.kept_assets -= usize::from(e.kept);
            index.total_files = index.total_files.saturating_sub(e.files);
            index.dirty = true;
        }
    }

    pub(crate) fn mark_dirty(&mut self) {
        self.index.dirty = true;
    }

    /// What is wrong with a resource read as `len` bytes (with `digest`
    /// when the reads are verified), by its record; `None` if nothing is
    /// or it has no record (unverified).
    fn check(
        &self,
        id: &AssetId,
        path: &CachePath,
        len: u64,
        digest: Option<u64>,
    ) -> Option<Problem> {
        let record = self.index.records.get(id, path)?;
        if record.len != len {
            return Some(Problem::Length {
                recorded: record.len,
                found: len,
            });
        }
        match digest {
            Some(d) if d != record.digest => Some(Problem::Digest),
            _ => None,
        }
    }
}

impl<S: Store> Store for IndexStore<S> {
    // Existence, lengths, opening and staging change no accounting, and
    // the index is read only under the lock.
    forward!(exists, len, open, lookup, stage);

    /// Checks what the read found against the resource's record (a hash
    /// lookup, no syscall) and, if it passes, records the hit.
    fn served(&mut self, id: &AssetId, path: &CachePath, seen: Seen) -> Option<Problem> {
        let problem = self
            .check(id, path, seen.len, seen.digest)
            .or_else(|| self.inner.served(id, path, seen));
        if problem.is_none() {
            self.touch(id);
        }
        problem
    }

    fn commit(&mut self, staged: Staged, plan: Plan) -> Result<Commit> {
        let id = staged.id;
        let path = staged.path.clone();
        let commit = self.inner.commit(staged, plan)?;
        for victim in &commit.evicted {
            self.forget(victim);
        }
        match commit.record {
            Some(r) => self.index.records.insert(id, &path, r),
            None => {
                self.index.records.remove(&id, &path);
            }
        }
        let old = commit.old_len.unwrap_or(0);
        let new = commit.new_len;
        let entry = self.entry_mut(&id);
        entry.bytes = entry.bytes.saturating_sub(old).saturating_add(new);
        entry.files += u64::from(commit.old_len.is_none());
        let kept = entry.kept;
        let index = &mut self.index;
        index.resize(kept, old, new);
        index.total_files += u64::from(commit.old_len.is_none());
        Ok(commit)
    }

    fn remove_file(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        let removed = self.inner.remove_file(id, path)?;
        // A recorded file was accounted at its recorded length, whatever
        // it holds now (a file cut behind the cache's back).
        let recorded = self.index.records.remove(id, path).map(|r| r.len);
        let removed = removed.map(|len| recorded.unwrap_or(len));
        if let (Some(len), Some(e)) = (removed, self.index.entries.get_mut(id)) {
            e.bytes = e.bytes.saturating_sub(len);
            e.files = e.files.saturating_sub(1);
            let kept = e.kept;
            let index = &mut self.index;
            index.resize(kept, len, 0);
            index.total_files = index.total_files.saturating_sub(1);
            index.dirty = true;
        }
        Ok(removed)
    }

    /// Marks the asset kept or streamed below (its marker on disk), then
    /// moves its bytes between the two totals. Either way the asset becomes
    /// the most recently used: an unkept asset comes back as the newest
    /// streamed one. Keeping an asset the index does not know creates its
    /// entry (a download about to start).
    fn set_kept(&mut self, id: &AssetId, kept: bool) -> Result<()> {
        if self.index.entries.get(id).is_some_and(|e| e.kept) == kept {
            return Ok(());
        }
        self.inner.set_kept(id, kept)?;
        let entry = self.entry_mut(id);
        entry.kept = kept;
        let bytes = entry.bytes;
        let index = &mut self.index;
        if kept {
            index.kept_bytes = index.kept_bytes.saturating_add(bytes);
            index.kept_assets += 1;
        } else {
            index.kept_bytes = index.kept_bytes.saturating_sub(bytes);
            index.kept_assets -= 1;
        }
        Ok(())
    }

    fn remove_all(&mut self, id: &AssetId) -> Result<()> {
        self.inner.remove_all(id)?;
        self.forget(id);
        Ok(())
    }
}

impl<S: Store> Accounting for IndexStore<S> {
    fn total_bytes(&self) -> u64 {
        self.index.total_bytes
    }

    fn max_bytes(&self) -> u64 {
        self.index
            .run_max_bytes
            .or(self.index.max_bytes)
            .unwrap_or(crate::options::DEFAULT_MAX_BYTES)
    }

    fn asset_bytes(&self, id: &AssetId) -> u64 {
        self.index.entries.get(id).map_or(0, |e| e.bytes)
    }

    fn recency(&self, id: &AssetId) -> Option<u64> {
        self.index.entries.get(id).map(|e| e.last_access)
    }

    fn recencies(&self) -> Vec<(AssetId, u64)> {
        self.index
            .entries
            .iter()
            .map(|(id, e)| (*id, e.last_access))
            .collect()
    }

    fn is_kept(&self, id: &AssetId) -> bool {
        self.index.entries.get(id).is_some_and(|e| e.kept)
    }

    fn kept_bytes(&self) -> u64 {
        self.index.kept_bytes
    }

    fn max_kept_bytes(&self) -> u64 {
        self.max_kept_setting().unwrap_or(u64::MAX)
    }
}

/// Wall time in Unix milliseconds (0 if the clock is before 1970).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
