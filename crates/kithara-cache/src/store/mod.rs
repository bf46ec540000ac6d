//! The blob layer: the `Store` trait every layer implements, and its two bases.
//!
//! Writes happen in two steps so that the slow part runs without any lock:
//! [`Staged`] receives the bytes (a temp file, or a buffer in memory) and is
//! finished (flushed, synced) by the caller, then [`Store::commit`] makes it
//! visible atomically, given a [`Plan`] by the evicting layer. Reads
//! run in two steps too: the base's files are opened and read without the
//! lock ([`Store::lookup`]), then every layer takes its part under it
//! ([`Store::served`]). Each layer writes what it adds and lists what it
//! passes on ([`forward!`]).

pub(crate) mod beneath;
mod fs;
mod mem;
pub(crate) mod record;
mod rename;

use crate::error::Result;
use crate::id::AssetId;
use crate::path::CachePath;
use crate::read::AssetReader;
use crate::verify::Problem;
use crate::write::Staged;

pub(crate) use fs::{Found, FsStore, is_temp_name};
pub(crate) use mem::MemStore;

/// What the layers above a base decided and learned for a commit: its
/// input, built by the evicting layer (the facade passes the default).
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Assets to remove in the same step, all or none, chosen by the
    /// evicting layer to make room.
    pub evict: Vec<AssetId>,
    /// What is known of the file the write replaces.
    pub replaces: Replaces,
}

/// What a layer above a base knows of the file a commit replaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Replaces {
    /// Nobody looked: the base finds out, from the rename where it can.
    #[default]
    Unknown,
    /// Measured under the engine lock the commit runs in: the length of
    /// the file in place, `None` if there is none.
    Known(Option<u64>),
}

/// What a read found, for the layers to check under the engine lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    /// Its length when it was opened.
    pub len: u64,
    /// Its digest, when reads are verified.
    pub digest: Option<u64>,
}

/// What a commit did.
#[derive(Debug, Default)]
pub(crate) struct Commit {
    /// Length of the file that was replaced, if there was one.
    pub old_len: Option<u64>,
    /// Length of the file now visible.
    pub new_len: u64,
    /// Its integrity record, if it has one.
    pub record: Option<record::Record>,
    /// Assets removed in the same step: the plan's `evict`, once done.
    pub evicted: Vec<AssetId>,
}

/// The minimal blob interface of every layer.
pub(crate) trait Store {
    /// Whether a resource is present (never counts as an access).
    fn exists(&self, id: &AssetId, path: &CachePath) -> bool;
    /// Length of a present resource.
    fn len(&self, id: &AssetId, path: &CachePath) -> Result<Option<u64>>;
    /// Opens a resource for reading under the engine lock (memory; not
    /// an access: see [`Store::served`]).
    fn open(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<AssetReader>>;
    /// The base's handle on files for what runs without the engine lock,
    /// so that readers never wait on a commit nor on each other: opening
    /// and reading a hit, staging a write, syncing after a commit. `None`
    /// in memory, where a read takes the lock. A layer above hands its
    /// base's on: it holds nothing a read may use without the lock, and
    /// takes its part of every read in [`Store::served`].
    fn lookup(&self) -> Option<FsStore>;
    /// A read found resource `path` of asset `id` as `seen` (outside the
    /// lock on disk, through [`Store::lookup`]): under the engine lock,
    /// each layer checks it and records the hit (the asset becomes the
    /// most recently used; an unknown asset is ignored). `Some`: it fails
    /// its integrity record, no hit is recorded, and the caller drops it.
    /// A base has nothing to check: the bytes are its own.
    fn served(&mut self, _id: &AssetId, _path: &CachePath, _seen: Seen) -> Option<Problem> {
        None
    }
    /// Starts a write; nothing is visible until [`Store::commit`].
    fn stage(&self, id: &AssetId, path: &CachePath) -> Result<Staged>;
    /// Makes a finished [`Staged`] write visible, replacing any old
    /// version, and removes the assets in `plan.evict`: all of it or, on
    /// an error, none of it. A victim is moved out of place first and only
    /// buried once the new file is in place, so a failure puts every
    /// victim back.
    fn commit(&mut self, staged: Staged, plan: Plan) -> Result<Commit>;
    /// Removes one resource; returns the length it had, `None` if absent.
    fn remove_file(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<u64>>;
    /// Removes an asset and everything in it.
    fn remove_all(&mut self, id: &AssetId) -> Result<()>;
    /// Marks the asset kept (a user's download: never evicted, under its
    /// own budget) or streamed again. On disk the mark is a file in the
    /// asset's folder, made durable before this returns.
    fn set_kept(&mut self, id: &AssetId, kept: bool) -> Result<()>;

    /// Writes `bytes` atomically: stage, write, finish, commit. The facade
    /// runs these steps itself so that only the commit holds its lock.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the one-shot form of the contract, used by layer tests"
        )
    )]
    fn put_atomic(&mut self, id: &AssetId, path: &CachePath, bytes: &[u8]) -> Result<Commit> {
        let mut staged = self.stage(id, path)?;
        staged.write_bytes(bytes)?;
        staged.finish()?;
        self.commit(staged, Plan::default())
    }
}

/// Writes the [`Store`] methods a layer passes straight to `self.inner`,
/// so that a layer's impl shows only what it adds. A layer lists every
/// method it does not write itself: none is skipped by default.
/// `forward!(base: ...)` passes them to whichever [`Base`] `self` is.
macro_rules! forward {
    (base: $($method:ident),+ $(,)?) => { $( $crate::store::forward!(@ [base] $method); )+ };
    ($($method:ident),+ $(,)?) => { $( $crate::store::forward!(@ [inner] $method); )+ };
    // The one call each forwarded method makes, on `self.inner` or the base.
    (@to [inner] $self:ident, $s:ident => $call:expr) => {
        match $self { Self { inner: $s, .. } => $call }
    };
    (@to [base] $self:ident, $s:ident => $call:expr) => {
        match $self {
            $crate::store::Base::Fs($s) => $call,
            $crate::store::Base::Mem($s) => $call,
        }
    };
    (@ $to:tt exists) => {
        fn exists(&self, id: &$crate::id::AssetId, path: &$crate::path::CachePath) -> bool {
            $crate::store::forward!(@to $to self, s => s.exists(id, path))
        }
    };
    (@ $to:tt len) => {
        fn len(
            &self,
            id: &$crate::id::AssetId,
            path: &$crate::path::CachePath,
        ) -> $crate::error::Result<Option<u64>> {
            $crate::store::forward!(@to $to self, s => s.len(id, path))
        }
    };
    (@ $to:tt open) => {
        fn open(
            &mut self,
            id: &$crate::id::AssetId,
            path: &$crate::path::CachePath,
        ) -> $crate::error::Result<Option<$crate::read::AssetReader>> {
            $crate::store::forward!(@to $to self, s => s.open(id, path))
        }
    };
    (@ $to:tt lookup) => {
        fn lookup(&self) -> Option<$crate::store::FsStore> {
            $crate::store::forward!(@to $to self, s => s.lookup())
        }
    };
    (@ $to:tt served) => {
        fn served(
            &mut self,
            id: &$crate::id::AssetId,
            path: &$crate::path::CachePath,
            seen: $crate::store::Seen,
        ) -> Option<$crate::verify::Problem> {
            $crate::store::forward!(@to $to self, s => s.served(id, path, seen))
        }
    };
    (@ $to:tt stage) => {
        fn stage(
            &self,
            id: &$crate::id::AssetId,
            path: &$crate::path::CachePath,
        ) -> $crate::error::Result<$crate::write::Staged> {
            $crate::store::forward!(@to $to self, s => s.stage(id, path))
        }
    };
    (@ $to:tt commit) => {
        fn commit(
            &mut self,
            staged: $crate::write::Staged,
            plan: $crate::store::Plan,
        ) -> $crate::error::Result<$crate::store::Commit> {
            $crate::store::forward!(@to $to self, s => s.commit(staged, plan))
        }
    };
    (@ $to:tt set_kept) => {
        fn set_kept(
            &mut self,
            id: &$crate::id::AssetId,
            kept: bool,
        ) -> $crate::error::Result<()> {
            $crate::store::forward!(@to $to self, s => s.set_kept(id, kept))
        }
    };
    (@ $to:tt remove_file) => {
        fn remove_file(
            &mut self,
            id: &$crate::id::AssetId,
            path: &$crate::path::CachePath,
        ) -> $crate::error::Result<Option<u64>> {
            $crate::store::forward!(@to $to self, s => s.remove_file(id, path))
        }
    };
    (@ $to:tt remove_all) => {
        fn remove_all(&mut self, id: &$crate::id::AssetId) -> $crate::error::Result<()> {
            $crate::store::forward!(@to $to self, s => s.remove_all(id))
        }
    };
}
pub(crate) use forward;

/// The base of the stack: files on disk, or memory only.
pub(crate) enum Base {
    Fs(FsStore),
    Mem(MemStore),
}

impl Store for Base {
    forward!(base: exists, len, open, lookup, served, stage, commit, remove_file, remove_all, set_kept);
}
