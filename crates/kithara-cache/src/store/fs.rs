//! `FsStore`: the base layer on the file system.
//!
//! Layout: `<root>/assets/<id[0..2]>/<id>/<cache path>`. A write goes to a
//! uniquely named temp file in the destination's own directory and is renamed
//! over the final name, so a reader sees the old file, the new file, or
//! nothing. An evicted asset directory is first renamed into `<root>/trash/`
//! (atomic), then deleted; a crash in between leaves only trash, which the
//! next open deletes.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::io::{ErrorKind, Seek};
use std::mem;
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::error::{CacheError, Result};
use crate::id::AssetId;
use crate::layout::{self, ASSETS_DIR, KEPT_MARKER, TEMP_SUFFIX, TRASH_DIR};
use crate::options::Durability;
use crate::path::CachePath;
use crate::read::{AssetReader, append};
use crate::store::beneath::{Beneath, Dir, Entry, split};
use crate::store::record::{self, Record};
use crate::store::{Commit, Plan, Replaces, Store};
use crate::write::Staged;
use crate::write::staged::{Body, SyncDir, TempFile};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Files on disk under one root. Cheap to clone.
#[derive(Clone)]
pub(crate) struct FsStore {
    cfg: Arc<Config>,
}

struct Config {
    /// The root, which every path is resolved beneath without links.
    root: Beneath,
    durability: Durability,
    /// Evicted asset directories renamed into `trash/`, to delete outside the engine lock.
    graves: Mutex<Vec<PathBuf>>,
    /// Directories (relative to the root) whose own entry is known to be
    /// durable in their parent: created and synced by this process, or
    /// synced once by a `Sync` write that depends on them.
    durable: Mutex<HashSet<String>>,
    /// Files renamed in by `Buffered` writes and never synced, by the
    /// directory (relative to the root) they are in. Syncing a directory
    /// makes its entries durable, these included: a power cut could then
    /// bring one back by name, without its data and without the record
    /// that would tell. So a directory is synced only after them.
    unsynced: Mutex<HashMap<String, Unsynced>>,
    /// Whether the last commit replaced a file. Replacements come in runs
    /// (a track fetched again), and for them a stat first is cheaper than
    /// a rename that refuses first.
    replacing: AtomicBool,
}

/// The files of one directory that `Buffered` writes renamed in and nothing
/// synced since.
#[derive(Debug)]
enum Unsynced {
    Names(Vec<OsString>),
    /// More than [`MAX_UNSYNCED_NAMES`]: any file of the directory may be
    /// one. A directory that streams a long track in `Buffered` writes would
    /// otherwise keep a name per segment for as long as the process runs.
    All,
}

/// Names listed per directory before its next sync syncs all its files.
const MAX_UNSYNCED_NAMES: usize = 256;

impl FsStore {
    /// The store at `root`, which must be a directory.
    pub(crate) fn new(root: PathBuf, durability: Durability) -> Result<Self> {
        let beneath = Beneath::open(&root).map_err(CacheError::io("open cache root", &root))?;
        Ok(Self {
            cfg: Arc::new(Config {
                root: beneath,
                durability,
                graves: Mutex::new(Vec::new()),
                durable: Mutex::new(HashSet::new()),
                unsynced: Mutex::new(HashMap::new()),
                replacing: AtomicBool::new(false),
            }),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        self.cfg.root.path()
    }

    /// The folder of the pin files (`pins.rs`), created if `create`;
    /// `None` if it is missing or a link stands there (never followed).
    pub(crate) fn pin_dir(&self, create: bool) -> std::io::Result<Option<Dir>> {
        if create {
            // Not synced: pin files mean nothing after a restart.
            return self
                .cfg
                .root
                .create_dirs(layout::PINS_DIR, &mut Vec::new())
                .map(Some);
        }
        self.cfg.root.dir(layout::PINS_DIR)
    }

    fn sync(&self) -> bool {
        self.cfg.durability == Durability::Sync
    }

    /// `assets/<id[0..2]>/<id>`, relative to the root: where every
    /// resource of the asset is resolved from.
    pub(crate) fn asset_rel(&self, id: &AssetId) -> String {
        layout::asset_dir(id.hex().as_str())
    }

    /// A resource of the asset at `asset` (see [`Self::asset_rel`]).
    fn rel(asset: &str, path: &CachePath) -> String {
        let len = asset.len() + path.segments().map(|p| p.len() + 1).sum::<usize>();
        let mut s = String::with_capacity(len);
        s.push_str(asset);
        for part in path.segments() {
            s.push('/');
            s.push_str(part);
        }
        s
    }

    /// Creates the directory `rel` and its missing parents, refusing to go
    /// through a link or a file, and (with `sync`, or when the store is
    /// `Durability::Sync`) syncs each parent that gained an entry so the new
    /// directories survive a power cut.
    fn ensure_dir(&self, rel: &str, sync: bool) -> Result<Dir> {
        let mut gained = Vec::new();
        let created = self
            .cfg
            .root
            .create_dirs(rel, &mut gained)
            .map_err(|e| dir_error(self.cfg.root.display(rel), e));
        // Synced only once all are created: a journaling file system commits
        // the whole chain with the first sync, and the others find nothing
        // left to do (one journal commit instead of one per level). Synced
        // after a failure too: a later call finds these levels present and
        // would never sync them.
        if sync || self.sync() {
            for (parent, child) in gained.iter().rev() {
                let synced = self
                    .sync_unsynced(split(child).0, parent)
                    .and_then(|()| parent.sync())
                    .map_err(CacheError::io("sync directory", self.cfg.root.display(rel)));
                if synced.is_ok() {
                    self.cfg.durable.lock().insert(child.clone());
                }
                if created.is_ok() {
                    synced?;
                }
            }
        }
        created
    }

    /// Make a `Sync` write's rename durable: sync the directory it renamed
    /// into, and every directory above it (up to the root's own entries)
    /// whose entry is not known to be durable: a `Buffered` write may have
    /// created them without a sync, and a power cut would take the new
    /// file with them.
    pub(crate) fn make_durable(&self, into: &SyncDir) -> Result<()> {
        if let Ok(Some(dir)) = self.cfg.root.dir(into.rel()) {
            self.sync_unsynced(into.rel(), &dir)
                .map_err(CacheError::io(
                    "sync file",
                    self.cfg.root.display(into.rel()),
                ))?;
        }
        into.sync()?;
        let mut at = into.rel();
        while !at.is_empty() {
            let (parent, _) = split(at);
            if !self.cfg.durable.lock().contains(at) {
                let display = || self.cfg.root.display(parent);
                let dir = self
                    .cfg
                    .root
                    .dir(parent)
                    .map_err(|e| CacheError::io("open directory", display())(e))?
                    .ok_or_else(|| {
                        CacheError::io("open directory", display())(ErrorKind::NotFound.into())
                    })?;
                self.sync_unsynced(parent, &dir)
                    .and_then(|()| dir.sync())
                    .map_err(CacheError::io("sync directory", display()))?;
                self.cfg.durable.lock().insert(at.to_owned());
            }
            at = parent;
        }
        Ok(())
    }

    /// Syncs the files `Buffered` writes renamed into `dir` (at `rel`)
    /// since it was last synced, before a sync of `dir` makes their names
    /// durable. A file gone or replaced since is skipped (a replacement
    /// is synced by its own write or listed itself).
    fn sync_unsynced(&self, rel: &str, dir: &Dir) -> std::io::Result<()> {
        let names = match self.cfg.unsynced.lock().remove(rel) {
            None => return Ok(()),
            Some(Unsynced::Names(names)) => names,
            // Directories and links are not opened as files; temp files
            // are synced too, harmlessly.
            Some(Unsynced::All) => dir.names()?,
        };
        for name in names {
            if let Some(file) = dir.open_file(&name)? {
                file.sync_all()?;
                note!(|rel| Some(crate::fuzzing::power::Op::SyncFile {
                    path: rel(dir.fd(), Some(&name))?,
                    attrs: true,
                }));
            }
        }
        Ok(())
    }

    /// Notes a file a `Buffered` write renamed into the directory at `rel`.
    fn renamed_unsynced(&self, rel: &str, name: OsString) {
        let mut unsynced = self.cfg.unsynced.lock();
        let entry = unsynced
            .entry(rel.to_owned())
            .or_insert_with(|| Unsynced::Names(Vec::new()));
        if let Unsynced::Names(names) = entry {
            if names.len() < MAX_UNSYNCED_NAMES {
                names.push(name);
            } else {
                *entry = Unsynced::All;
            }
        }
    }

    /// Starts a write of resource `path` of the asset at `asset` (see
    /// [`Self::asset_rel`]), with its own durability; `buffered` for a write
    /// that arrives in pieces.
    pub(crate) fn stage_at(
        &self,
        id: &AssetId,
        path: &CachePath,
        asset: &str,
        durability: Durability,
        buffered: bool,
    ) -> Result<Staged> {
        let sync = durability == Durability::Sync;
        let rel = Self::rel(asset, path);
        let (parent, name) = split(&rel);
        let mut tries = 0;
        loop {
            let dir = match self.cfg.root.dir(parent) {
                Ok(Some(d)) => d,
                Ok(None) => self.ensure_dir(parent, sync)?,
                Err(e) => {
                    return Err(CacheError::io(
                        "open directory",
                        self.cfg.root.display(parent),
                    )(e));
                }
            };
            match self.create_temp(Arc::new(dir), parent, OsStr::new(name), sync, buffered) {
                Ok(temp) => return Ok(Staged::file(*id, path.clone(), temp)),
                // The directory was removed after it was opened (an eviction
                // emptied its shard): create it again.
                Err(CacheError::Io { source, .. })
                    if source.kind() == ErrorKind::NotFound && tries < 8 =>
                {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates a temp file `.<unique>.kithara-tmp` beside `dest` in `dir`
    /// (at `parent`); `O_EXCL` makes the name unique even across processes.
    fn create_temp(
        &self,
        dir: Arc<Dir>,
        parent: &str,
        dest: &OsStr,
        sync: bool,
        buffered: bool,
    ) -> Result<TempFile> {
        let at = self.cfg.root.display(parent);
        loop {
            let name = OsString::from(unique_name(".", TEMP_SUFFIX));
            match dir.create_new(&name) {
                Ok(f) => {
                    let names = (name, dest.to_os_string());
                    let place = (parent.to_owned(), at);
                    return Ok(TempFile::new(f, dir, place, names, sync, buffered));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(CacheError::io("create temp file", at.join(&name))(e)),
            }
        }
    }

    /// Creates an asset's directory (for an asset that has metadata but no files yet).
    pub(crate) fn ensure_asset_dir(&self, id: &AssetId) -> Result<()> {
        self.ensure_dir(&self.asset_rel(id), false).map(drop)
    }

    /// Writes a file at the root (the index) atomically.
    pub(crate) fn write_root_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let root = self.ensure_dir("", false)?;
        let root = Arc::new(root);
        let mut temp =
            self.create_temp(Arc::clone(&root), "", OsStr::new(name), self.sync(), false)?;
        temp.write_bytes(bytes)?;
        temp.finish()?;
        temp.persist()?;
        if self.sync() {
            root.sync()
                .map_err(CacheError::io("sync directory", self.root()))?;
        }
        Ok(())
    }

    /// Whether resource `path` of the asset at `asset` is a file (never
    /// through a link).
    pub(crate) fn exists_at(&self, asset: &str, path: &CachePath) -> bool {
        matches!(
            self.cfg.root.entry(&Self::rel(asset, path)),
            Ok(Entry::File(_))
        )
    }

    /// Opens resource `path` of the asset at `asset`; `None` if it is not
    /// there (or a link stands on the way). Needs no lock: a concurrent
    /// eviction renames the whole asset away, so this sees the file or
    /// nothing. A FIFO, socket or device is refused without blocking.
    pub(crate) fn open_at(
        &self,
        asset: &str,
        path: &CachePath,
    ) -> Result<Option<Found<AssetReader>>> {
        Ok(self
            .open_regular(&Self::rel(asset, path))?
            .map(|(f, len, ino)| Found {
                body: AssetReader::file(f, len),
                len,
                ino,
                _open: None,
            }))
    }

    /// Reads a whole resource into `buf` (emptied first, its allocation
    /// kept) in one read sized by the length seen at open.
    pub(crate) fn read_at(
        &self,
        asset: &str,
        path: &CachePath,
        mut buf: Vec<u8>,
    ) -> Result<Option<Found<Vec<u8>>>> {
        let rel = Self::rel(asset, path);
        let Some((f, len, ino)) = self.open_regular(&rel)? else {
            return Ok(None);
        };
        buf.clear();
        append(&f, len, &mut buf).map_err(CacheError::io("read", self.cfg.root.display(&rel)))?;
        // The bytes live as long as the caller keeps them: a buffer given
        // much larger than the resource is trimmed to it.
        if buf.capacity() / 2 > buf.len() {
            buf.shrink_to_fit();
        }
        Ok(Some(Found {
            len: buf.len() as u64,
            body: buf,
            ino,
            _open: Some(f),
        }))
    }

    /// The inode number of resource `path` of the asset at `asset`, if a
    /// regular file stands there: whether a file read earlier is still the
    /// one in place.
    pub(crate) fn ino_at(&self, asset: &str, path: &CachePath) -> Option<u64> {
        let found = self.cfg.root.open_file(&Self::rel(asset, path));
        found.ok().flatten().map(|(_, _, ino)| ino)
    }

    /// Opens resource `path` of the asset at `asset` and measures it: the
    /// file (rewound) as a reader, with the record attached to it and its
    /// length and digest as read now.
    pub(crate) fn measure_at(&self, asset: &str, path: &CachePath) -> Result<Option<Measured>> {
        let rel = Self::rel(asset, path);
        let Some((mut f, len, ino)) = self.open_regular(&rel)? else {
            return Ok(None);
        };
        let io = CacheError::io("read", self.cfg.root.display(&rel));
        let attached = record::read(&f);
        let measured = record::measure(&mut f)
            .and_then(|m| f.seek(std::io::SeekFrom::Start(0)).map(|_| m))
            .map_err(io)?;
        Ok(Some(Measured {
            found: Found {
                body: AssetReader::file(f, len),
                len,
                ino,
                _open: None,
            },
            measured,
            attached,
        }))
    }

    /// Reads the whole file at `rel` (relative to the root); `None` if it is
    /// not there. Anything but a regular file is refused before a byte is
    /// read (a planted FIFO must not block, a device must not be read until
    /// memory runs out).
    pub(crate) fn read_file(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let Some((f, len, _)) = self.open_regular(rel)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        append(&f, len, &mut buf).map_err(CacheError::io("read", self.cfg.root.display(rel)))?;
        Ok(Some(buf))
    }

    fn open_regular(&self, rel: &str) -> Result<Option<(fs::File, u64, u64)>> {
        self.cfg.root.open_file(rel).map_err(|e| {
            let path = self.cfg.root.display(rel);
            if e.kind() == ErrorKind::Unsupported {
                CacheError::Unexpected {
                    path,
                    reason: "something other than a file stands where a file belongs",
                }
            } else {
                CacheError::io("open", path)(e)
            }
        })
    }
}

/// The error of a directory that could not be created or entered: a file or
/// link where a directory belongs is named as such.
fn dir_error(path: PathBuf, e: std::io::Error) -> CacheError {
    match e.raw_os_error() {
        Some(code)
            if code == rustix::io::Errno::NOTDIR.raw_os_error()
                || code == rustix::io::Errno::LOOP.raw_os_error()
                || code == rustix::io::Errno::EXIST.raw_os_error() =>
        {
            CacheError::Unexpected {
                path,
                reason: "expected a directory, found a file or symlink",
            }
        }
        _ => CacheError::io("create directory", path)(e),
    }
}

impl Store for FsStore {
    fn exists(&self, id: &AssetId, path: &CachePath) -> bool {
        self.exists_at(&self.asset_rel(id), path)
    }

    fn len(&self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        let rel = Self::rel(&self.asset_rel(id), path);
        match self.cfg.root.entry(&rel) {
            Ok(Entry::File(n)) => Ok(Some(n)),
            // A link is replaced by the rename and never counted.
            Ok(Entry::Link | Entry::Missing) => Ok(None),
            Ok(Entry::Dir | Entry::Special) => Err(CacheError::Unexpected {
                path: self.cfg.root.display(&rel),
                reason: "a directory or special file stands where a file belongs",
            }),
            Err(e) => Err(CacheError::io("inspect file", self.cfg.root.display(&rel))(
                e,
            )),
        }
    }

    fn open(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<AssetReader>> {
        Ok(self.open_at(&self.asset_rel(id), path)?.map(|f| f.body))
    }

    /// Itself: it needs no lock (a clone shares its state).
    fn lookup(&self) -> Option<FsStore> {
        Some(self.clone())
    }

    fn stage(&self, id: &AssetId, path: &CachePath) -> Result<Staged> {
        self.stage_at(id, path, &self.asset_rel(id), self.cfg.durability, true)
    }

    /// Learns the length of the file it replaces from `plan.replaces` if a
    /// layer above measured it, else from the rename: one that refuses to
    /// replace (`RENAME_NOREPLACE`) says the name was free, and only a
    /// refusal costs a stat; after a replacement the stat comes first.
    fn commit(&mut self, staged: Staged, plan: Plan) -> Result<Commit> {
        let new_len = staged.len();
        let Staged {
            id,
            path,
            body,
            record,
            ..
        } = staged;
        let Plan { evict, replaces } = plan;
        let Body::File(mut t) = body else {
            unreachable!("an FsStore stages files")
        };
        // Victims are moved into trash/ first (a rename each, undone by
        // the reverse rename), buried only once the new file is in place.
        let mut aside = Vec::with_capacity(evict.len());
        for victim in &evict {
            match self.set_aside(victim) {
                Ok(moved) => aside.extend(moved),
                Err(e) => {
                    self.put_back(aside);
                    return Err(e);
                }
            }
        }
        let measured = |s: &Self, t: &mut TempFile| {
            s.len(&id, &path).and_then(|old| t.persist().map(|()| old))
        };
        let old_len = match replaces {
            Replaces::Known(old) => t.persist().map(|()| old),
            Replaces::Unknown if self.cfg.replacing.load(Ordering::Relaxed) => {
                measured(self, &mut t)
            }
            // A new file: the rename itself says the name was free, no stat needed.
            Replaces::Unknown if t.persist_new() => Ok(None),
            Replaces::Unknown => measured(self, &mut t),
        };
        let old_len = match old_len {
            Ok(old) => old,
            Err(e) => {
                self.put_back(aside);
                return Err(e);
            }
        };
        if let Some(name) = t.unsynced_name() {
            self.renamed_unsynced(t.rel_dir(), name);
        }
        for moved in aside {
            self.bury_later(moved);
        }
        self.cfg
            .replacing
            .store(old_len.is_some(), Ordering::Relaxed);
        Ok(Commit {
            old_len,
            new_len,
            record,
            evicted: evict,
        })
    }

    fn remove_file(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        // A link (never counted) is unlinked itself; a directory is refused by len().
        let len = self.len(id, path)?;
        let rel = Self::rel(&self.asset_rel(id), path);
        let (parent, name) = split(&rel);
        let display = || self.cfg.root.display(&rel);
        let Some(dir) = self
            .cfg
            .root
            .dir(parent)
            .map_err(|e| CacheError::io("remove", display())(e))?
        else {
            return Ok(None);
        };
        match dir.remove_file(OsStr::new(name)) {
            Ok(true) => Ok(len),
            Ok(false) => Ok(None),
            Err(e) => Err(CacheError::io("remove", display())(e)),
        }
    }

    fn remove_all(&mut self, id: &AssetId) -> Result<()> {
        // The rename is the eviction: atomic, and cheap enough for the engine
        // lock. The slow delete happens in `bury`, after the lock is released.
        if let Some(moved) = self.set_aside(id)? {
            self.bury_later(moved);
        }
        Ok(())
    }

    /// Creates or removes the asset's marker file, then syncs its folder
    /// and every folder above not yet durable, whatever the durability of
    /// the writes: a download that a power cut turned back into an
    /// evictable asset would be lost to the next stream. The marker lives
    /// in the asset's folder, so an eviction or a removal takes it along.
    fn set_kept(&mut self, id: &AssetId, kept: bool) -> Result<()> {
        let rel = self.asset_rel(id);
        let marker = format!("{rel}/{KEPT_MARKER}");
        let display = || self.cfg.root.display(&marker);
        let name = OsStr::new(KEPT_MARKER);
        let dir = if kept {
            self.ensure_dir(&rel, true)?
        } else {
            let found = self.cfg.root.dir(&rel);
            match found.map_err(|e| CacheError::io("open directory", display())(e))? {
                Some(dir) => dir,
                None => return Ok(()),
            }
        };
        let entry = || {
            dir.entry(KEPT_MARKER)
                .map_err(CacheError::io("inspect", display()))
        };
        let unexpected = || CacheError::Unexpected {
            path: display(),
            reason: "something other than a file stands where the kept marker belongs",
        };
        if kept {
            match entry()? {
                Entry::File(_) | Entry::Missing => {}
                Entry::Dir => return Err(unexpected()),
                // A link, FIFO or device planted in its place: the entry
                // itself is removed, never its target.
                Entry::Link | Entry::Special => {
                    dir.remove_file(name)
                        .map_err(CacheError::io("remove", display()))?;
                }
            }
            match dir.create_new(name) {
                // Empty: its existence is the mark. Synced so the inode the
                // folder will name is durable before the folder is.
                Ok(f) => f
                    .sync_all()
                    .map_err(CacheError::io("sync file", display()))?,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if !matches!(entry()?, Entry::File(_)) {
                        return Err(unexpected());
                    }
                }
                Err(e) => return Err(CacheError::io("create", display())(e)),
            }
        } else if let Err(e) = dir.remove_file(name) {
            return Err(match entry() {
                Ok(Entry::Dir) => unexpected(),
                _ => CacheError::io("remove", display())(e),
            });
        }
        let path = self.cfg.root.display(&rel);
        self.make_durable(&SyncDir::new(Arc::new(dir), rel, path))
    }
}

/// An asset directory moved into `trash/` by an uncommitted eviction.
pub(crate) struct Aside {
    shard: Dir,
    trash: Dir,
    /// Its name in `assets/`, in the shard and in `trash/`.
    shard_name: String,
    name: String,
    grave: String,
}

impl FsStore {
    /// Moves the directory of asset `id` into `trash/` (a file or link
    /// planted in its place is removed instead); `None` if there was
    /// nothing to move. Undone by [`Self::put_back`], made final by
    /// [`Self::bury_later`].
    fn set_aside(&self, id: &AssetId) -> Result<Option<Aside>> {
        let rel = self.asset_rel(id);
        let (shard_rel, name) = split(&rel);
        let display = || self.cfg.root.display(&rel);
        let Some(shard) = self
            .cfg
            .root
            .dir(shard_rel)
            .map_err(|e| CacheError::io("inspect asset", display())(e))?
        else {
            return Ok(None);
        };
        match shard.entry(name) {
            Ok(Entry::Missing) => return Ok(None),
            Ok(Entry::Dir) => {}
            // A file or link planted in place of the asset: remove the entry
            // itself, never its target.
            Ok(_) => {
                return shard
                    .remove_file(OsStr::new(name))
                    .map(|_| None)
                    .map_err(CacheError::io("remove asset entry", display()));
            }
            Err(e) => return Err(CacheError::io("inspect asset", display())(e)),
        }
        #[cfg(feature = "fuzzing")]
        crate::fuzzing::faults::victim_move(self.root())
            .map_err(CacheError::io("move asset to trash", display()))?;
        let trash = self.ensure_dir(TRASH_DIR, false)?;
        let grave = unique_name(&format!("{}-", id.hex().as_str()), "");
        shard
            .rename_to(OsStr::new(name), &trash, OsStr::new(&grave))
            .map_err(CacheError::io("move asset to trash", display()))?;
        Ok(Some(Aside {
            shard,
            trash,
            shard_name: split(shard_rel).1.to_owned(),
            name: name.to_owned(),
            grave,
        }))
    }

    /// Moves assets set aside back into place (a commit failed). A move
    /// that fails too leaves the asset in `trash/`, which the next open
    /// empties and whose entry it drops: logged, never half in place.
    fn put_back(&self, aside: Vec<Aside>) {
        for a in aside.into_iter().rev() {
            if let Err(e) = a
                .trash
                .rename_to(OsStr::new(&a.grave), &a.shard, OsStr::new(&a.name))
            {
                tracing::error!(asset = %a.name, error = %e, "cannot put an evicted asset back; the next open drops it");
            }
        }
    }

    /// Makes a move into `trash/` final: deleted by the next [`Self::bury`].
    fn bury_later(&self, a: Aside) {
        // Its folders are gone with it: a later write to the asset creates
        // new ones, whose entries are not durable yet (they were kept as
        // durable here, and a Sync write then skipped their syncs: found by
        // the power-cut simulation), and its unsynced files are gone.
        let prefix = format!("{ASSETS_DIR}/{}/{}", a.shard_name, a.name);
        let inside = |rel: &str| rel == prefix || rel.starts_with(&format!("{prefix}/"));
        self.cfg.unsynced.lock().retain(|rel, _| !inside(rel));
        self.cfg.durable.lock().retain(|rel| !inside(rel));
        self.cfg
            .graves
            .lock()
            .push(self.root().join(TRASH_DIR).join(&a.grave));
        if let Some(assets) = self.cfg.root.dir(ASSETS_DIR).ok().flatten()
            // Fails while other assets share the shard directory; that is fine.
            && assets.remove_dir(OsStr::new(&a.shard_name)).is_ok()
        {
            let shard = format!("{ASSETS_DIR}/{}", a.shard_name);
            self.cfg.durable.lock().remove(&shard);
        }
    }
}

impl FsStore {
    /// Deletes evicted assets waiting in `trash/`. A failure is logged and
    /// left for the next open, which empties `trash/`.
    pub(crate) fn bury(&self) {
        let graves = mem::take(&mut *self.cfg.graves.lock());
        for grave in graves {
            #[cfg(all(feature = "fuzzing", target_os = "linux"))]
            crate::fuzzing::power::note_path(&grave, crate::fuzzing::power::Op::RemoveTree);
            // remove_dir_all never follows symlinks, so nothing outside the cache is touched.
            if let Err(e) = fs::remove_dir_all(&grave) {
                tracing::warn!(path = %grave.display(), error = %e, "cannot delete evicted asset; the next open will");
            }
        }
    }
}

/// A file found by a read, with what the integrity check needs.
pub(crate) struct Found<T> {
    pub body: T,
    /// Its length when it was opened.
    pub len: u64,
    /// Its inode number: whether it is still the file in place.
    pub ino: u64,
    /// The file, kept open until the check is over when the body does not
    /// hold it: a closed file's inode number can be given to the next file
    /// created, and the check would take that for this one.
    pub _open: Option<fs::File>,
}

/// A resource read through once: what its bytes are now, and its record.
pub(crate) struct Measured {
    /// The file, rewound, as a reader.
    pub found: Found<AssetReader>,
    /// Its length and digest as read.
    pub measured: Record,
    /// The record attached to it, if any.
    pub attached: Option<Record>,
}

/// `<prefix><pid>-<counter>-<nanos><suffix>`, hex numbers: unique in this
/// process, and across processes with `O_EXCL` or a rename into a
/// directory of our own.
fn unique_name(prefix: &str, suffix: &str) -> String {
    // getpid is a syscall; a put should not pay it every time.
    static PID: OnceLock<u32> = OnceLock::new();
    let pid = *PID.get_or_init(process::id);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut name = String::with_capacity(prefix.len() + 8 + 1 + 16 + 1 + 8 + suffix.len());
    // Writing into a String cannot fail.
    let _ = write!(name, "{prefix}{pid:x}-{n:x}-{nanos:x}{suffix}");
    name
}

/// True if a directory entry name is one of our temp files.
pub(crate) fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.ends_with(TEMP_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> AssetId {
        AssetId::from_key(b"a")
    }

    fn put(s: &mut FsStore, path: &str, bytes: &[u8], replaces: Replaces) -> Commit {
        let path = CachePath::parse(path).unwrap();
        let mut staged = s.stage(&id(), &path).unwrap();
        staged.write_bytes(bytes).unwrap();
        staged.finish().unwrap();
        let plan = Plan {
            replaces,
            ..Plan::default()
        };
        s.commit(staged, plan).unwrap()
    }

    /// Whichever way the base learns what a write replaces (the rename, a
    /// stat first after a replacement, or a length measured above), the
    /// commit says it exactly: the index accounts with it.
    #[test]
    fn a_commit_says_what_it_replaced_whatever_came_before() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FsStore::new(dir.path().to_path_buf(), Durability::Buffered).unwrap();
        let old = |c: Commit| (c.old_len, c.new_len);
        assert_eq!(old(put(&mut s, "a", b"one", Replaces::Unknown)), (None, 3));
        assert_eq!(
            old(put(&mut s, "a", b"four", Replaces::Unknown)),
            (Some(3), 4)
        );
        // After a replacement the base stats first: a new file is still new.
        assert_eq!(old(put(&mut s, "b", b"x", Replaces::Unknown)), (None, 1));
        assert_eq!(
            old(put(&mut s, "b", b"yy", Replaces::Unknown)),
            (Some(1), 2)
        );
        assert_eq!(old(put(&mut s, "a", b"", Replaces::Unknown)), (Some(4), 0));
        // A length measured above is taken as it is, without a look.
        let known = Replaces::Known(Some(2));
        assert_eq!(old(put(&mut s, "b", b"zzz", known)), (Some(2), 3));
        let known = Replaces::Known(None);
        assert_eq!(old(put(&mut s, "c", b"c", known)), (None, 1));
        let read = |p: &str| {
            std::fs::read(
                dir.path()
                    .join(layout::asset_dir(id().hex().as_str()))
                    .join(p),
            )
            .unwrap()
        };
        assert_eq!(
            (read("a"), read("b"), read("c")),
            (vec![], b"zzz".to_vec(), b"c".to_vec())
        );
    }
}
