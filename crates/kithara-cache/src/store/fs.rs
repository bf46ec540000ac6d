//! `FsStore`: the base layer on the file system.
//!
//! Layout: `<root>/assets/<id[0..2]>/<id>/<cache path>`. A write goes to a
//! uniquely named temp file in the destination's own directory and is renamed
//! over the final name, so a reader sees the old file, the new file, or
//! nothing. An evicted asset directory is first renamed into `<root>/trash/`
//! (atomic), then deleted; a crash in between leaves only trash, which the
//! next open deletes.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::iter;
use std::mem;
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::error::{CacheError, Result};
use crate::id::AssetId;
use crate::options::Durability;
use crate::path::{CachePath, TEMP_SUFFIX};
use crate::store::read::append;
use crate::store::staged::{Body, TempFile};
use crate::store::{AssetReader, Commit, Staged, Store};

pub(crate) const ASSETS_DIR: &str = "assets";
pub(crate) const TRASH_DIR: &str = "trash";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Files on disk under one root. Cheap to clone.
#[derive(Clone)]
pub(crate) struct FsStore {
    cfg: Arc<Config>,
}

struct Config {
    root: PathBuf,
    durability: Durability,
    /// Evicted asset directories renamed into `trash/`, to delete outside the engine lock.
    graves: Mutex<Vec<PathBuf>>,
}

impl FsStore {
    pub(crate) fn new(root: PathBuf, durability: Durability) -> Self {
        Self {
            cfg: Arc::new(Config {
                root,
                durability,
                graves: Mutex::new(Vec::new()),
            }),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.cfg.root
    }

    fn sync(&self) -> bool {
        self.cfg.durability == Durability::Sync
    }

    /// `<root>/assets/<id[0..2]>/<id>`.
    pub(crate) fn asset_dir(&self, id: &AssetId) -> PathBuf {
        let hex = id.hex();
        let hex = hex.as_str();
        join(&self.cfg.root, [ASSETS_DIR, &hex[..2], hex].into_iter())
    }

    fn file(&self, id: &AssetId, path: &CachePath) -> PathBuf {
        let hex = id.hex();
        let hex = hex.as_str();
        let parts = [ASSETS_DIR, &hex[..2], hex].into_iter();
        join(&self.cfg.root, parts.chain(path.segments()))
    }

    /// Creates `dir` and its missing parents, refusing to go through a
    /// symlink or a file, and (with `sync`, or when the store is
    /// `Durability::Sync`) syncs each parent that gained an entry so the new
    /// directories survive a power cut.
    fn ensure_dir(&self, dir: &Path, sync: bool) -> Result<()> {
        let mut gained = Vec::new();
        let created = self.create_dirs(dir, &mut gained);
        // Synced only once all are created: a journaling file system commits
        // the whole chain with the first sync, and the others find nothing
        // left to do (one journal commit instead of one per level). Synced
        // after a failure too: a later call finds these levels present and
        // would never sync them.
        if sync || self.sync() {
            for parent in gained.iter().rev() {
                let synced = sync_dir(parent);
                if created.is_ok() {
                    synced?;
                }
            }
        }
        created
    }

    /// Creates the missing levels of `dir`; `gained` gets each parent that
    /// gained an entry, outermost first.
    fn create_dirs(&self, dir: &Path, gained: &mut Vec<PathBuf>) -> Result<()> {
        let rel = dir.strip_prefix(&self.cfg.root).unwrap_or(dir);
        let mut cur = self.cfg.root.clone();
        for part in rel.components() {
            let parent = cur.clone();
            cur.push(part);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => {
                    return Err(CacheError::Unexpected {
                        path: cur,
                        reason: "expected a directory, found a file or symlink",
                    });
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(CacheError::io("inspect directory", cur)(e)),
            }
            match fs::create_dir(&cur) {
                Ok(()) => gained.push(parent),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(CacheError::io("create directory", cur)(e)),
            }
        }
        Ok(())
    }

    /// Starts a write of resource `path` of asset `id` at `dest` (the
    /// caller may already know the asset's directory), with its own
    /// durability; `buffered` for a write that arrives in pieces.
    pub(crate) fn stage_at(
        &self,
        id: &AssetId,
        path: &CachePath,
        dest: PathBuf,
        durability: Durability,
        buffered: bool,
    ) -> Result<Staged> {
        let sync = durability == Durability::Sync;
        let temp = match create_temp(&dest, sync, buffered) {
            Ok(t) => t,
            Err(CacheError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                self.ensure_dir(dest.parent().unwrap_or(&self.cfg.root), sync)?;
                create_temp(&dest, sync, buffered)?
            }
            Err(e) => return Err(e),
        };
        Ok(Staged::file(*id, path.clone(), temp))
    }

    /// Creates an asset's directory (for an asset that has metadata but no files yet).
    pub(crate) fn ensure_asset_dir(&self, id: &AssetId) -> Result<()> {
        self.ensure_dir(&self.asset_dir(id), false)
    }

    /// Writes a file at the root (the index) atomically.
    pub(crate) fn write_root_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let mut temp = create_temp(&self.cfg.root.join(name), self.sync(), false)?;
        temp.write_bytes(bytes)?;
        temp.finish()?;
        temp.persist()?;
        if self.sync() {
            sync_dir(&self.cfg.root)?;
        }
        Ok(())
    }
}

impl Store for FsStore {
    fn exists(&self, id: &AssetId, path: &CachePath) -> bool {
        fs::symlink_metadata(self.file(id, path)).is_ok_and(|m| m.is_file())
    }

    fn len(&self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        let file = self.file(id, path);
        match fs::symlink_metadata(&file) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            // A symlink is replaced by the rename and never counted.
            Ok(m) if m.is_symlink() => Ok(None),
            Ok(_) => Err(CacheError::Unexpected {
                path: file,
                reason: "a directory stands where a file belongs",
            }),
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
                Ok(None)
            }
            Err(e) => Err(CacheError::io("inspect file", file)(e)),
        }
    }

    fn open(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<AssetReader>> {
        open_path(self.file(id, path))
    }

    fn stage(&self, id: &AssetId, path: &CachePath) -> Result<Staged> {
        let dest = self.file(id, path);
        self.stage_at(id, path, dest, self.cfg.durability, true)
    }

    fn commit(&mut self, staged: Staged) -> Result<Commit> {
        let new_len = staged.len();
        let Staged {
            id,
            path,
            body,
            replaces,
            ..
        } = staged;
        let Body::File(mut t) = body else {
            unreachable!("an FsStore stages files")
        };
        let old_len = match replaces {
            Some(known) => {
                t.persist()?;
                known
            }
            // A new file: the rename itself says the name was free, no stat needed.
            None if t.persist_new() => None,
            None => {
                let old = self.len(&id, &path)?;
                t.persist()?;
                old
            }
        };
        Ok(Commit {
            old_len,
            new_len,
            evicted: Vec::new(),
        })
    }

    fn remove_file(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        // A symlink (never counted) is unlinked itself; a directory is refused by len().
        let len = self.len(id, path)?;
        let file = self.file(id, path);
        match fs::remove_file(&file) {
            Ok(()) => Ok(len),
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
                Ok(None)
            }
            Err(e) => Err(CacheError::io("remove", file)(e)),
        }
    }

    fn remove_all(&mut self, id: &AssetId) -> Result<()> {
        let dir = self.asset_dir(id);
        let meta = match fs::symlink_metadata(&dir) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CacheError::io("inspect asset", dir)(e)),
        };
        if !meta.is_dir() {
            // A file or symlink planted in place of the asset: remove the entry itself, never its target.
            return fs::remove_file(&dir).map_err(CacheError::io("remove asset entry", dir));
        }
        let grave = self
            .cfg
            .root
            .join(TRASH_DIR)
            .join(unique_name(&format!("{}-", id.hex().as_str()), ""));
        // The rename is the eviction: atomic, and cheap enough for the engine
        // lock. The slow delete happens in `bury`, after the lock is released.
        match fs::rename(&dir, &grave) {
            Err(e) if e.kind() == ErrorKind::NotFound && !dir.exists() => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let trash = self.cfg.root.join(TRASH_DIR);
                fs::create_dir_all(&trash).map_err(CacheError::io("create directory", &trash))?;
                fs::rename(&dir, &grave).map_err(CacheError::io("move asset to trash", &dir))?;
            }
            other => other.map_err(CacheError::io("move asset to trash", &dir))?,
        }
        self.cfg.graves.lock().push(grave);
        if let Some(shard) = dir.parent() {
            // Fails while other assets share the shard directory; that is fine.
            let _ = fs::remove_dir(shard);
        }
        Ok(())
    }
}

impl FsStore {
    /// Deletes evicted assets waiting in `trash/`. A failure is logged and
    /// left for the next open, which empties `trash/`.
    pub(crate) fn bury(&self) {
        let graves = mem::take(&mut *self.cfg.graves.lock());
        for grave in graves {
            // remove_dir_all never follows symlinks, so nothing outside the cache is touched.
            if let Err(e) = fs::remove_dir_all(&grave) {
                tracing::warn!(path = %grave.display(), error = %e, "cannot delete evicted asset; the next open will");
            }
        }
    }
}

/// Syncs a directory so a rename or a new entry in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(CacheError::io("sync directory", dir))
}

/// `<prefix><pid>-<counter>-<nanos><suffix>`, hex numbers: unique in this
/// process, and across processes with `create_new` or a rename into a
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

/// Creates a temp file `.<unique>.kithara-tmp` beside `dest`; `create_new`
/// makes the name unique even across processes.
fn create_temp(dest: &Path, sync: bool, buffered: bool) -> Result<TempFile> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    loop {
        let temp = join(dir, iter::once(unique_name(".", TEMP_SUFFIX).as_str()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(f) => return Ok(TempFile::new(f, temp, dest.to_path_buf(), sync, buffered)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(CacheError::io("create temp file", temp)(e)),
        }
    }
}

/// True if a directory entry name is one of our temp files.
pub(crate) fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.ends_with(TEMP_SUFFIX))
}

/// `<dir>/<path>`: a resource of the asset whose directory is `dir`.
pub(crate) fn resource(dir: &Path, path: &CachePath) -> PathBuf {
    join(dir, path.segments())
}

/// `base` with `parts` appended, in one allocation of the final size and
/// without `Path::push`'s separator logic: a path is built on every hit,
/// where chained `join`s cost more than the rest of the bookkeeping.
fn join<'a>(base: &Path, parts: impl Iterator<Item = &'a str> + Clone) -> PathBuf {
    let base = base.as_os_str();
    let len = base.len() + parts.clone().map(|p| p.len() + 1).sum::<usize>();
    let mut out = OsString::with_capacity(len);
    out.push(base);
    // An empty base is the current directory: no leading separator.
    let mut sep = !base.is_empty() && !base.as_encoded_bytes().ends_with(b"/");
    for part in parts {
        if sep {
            out.push("/");
        }
        out.push(part);
        sep = true;
    }
    PathBuf::from(out)
}

/// Reads a whole cached file; `None` if it is not there. Anything but a
/// regular file is refused before a byte is read (a planted link to
/// `/dev/zero` must not be read until memory runs out); the length that
/// check sees sizes the read.
pub(crate) fn read_path(file: PathBuf) -> Result<Option<Vec<u8>>> {
    let Some((f, len)) = open_regular(&file)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    append(&f, len, &mut buf).map_err(CacheError::io("read", file))?;
    Ok(Some(buf))
}

/// Opens a cached file; `None` if it is not there. Needs no lock: a
/// concurrent eviction renames the whole asset away, so this sees the file
/// or nothing.
pub(crate) fn open_path(file: PathBuf) -> Result<Option<AssetReader>> {
    Ok(open_regular(&file)?.map(|(f, len)| AssetReader::file(f, len)))
}

/// Opens `file` if it is a regular file (a link is followed), with its length.
fn open_regular(file: &Path) -> Result<Option<(File, u64)>> {
    let f = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
            return Ok(None);
        }
        Err(e) => return Err(CacheError::io("open", file)(e)),
    };
    let meta = f.metadata().map_err(CacheError::io("inspect file", file))?;
    if !meta.is_file() {
        return Err(CacheError::Unexpected {
            path: file.to_path_buf(),
            reason: "something other than a file stands where a file belongs",
        });
    }
    Ok(Some((f, meta.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_matches_path_join_for_every_kind_of_base() {
        for base in ["", ".", "/", "/r", "/r/", "r", "r/s/", "//r"] {
            let parts = ["assets", "ab", "cd"];
            let expected = parts.iter().fold(PathBuf::from(base), |p, s| p.join(s));
            let got = join(Path::new(base), parts.into_iter());
            assert_eq!(got, expected, "base {base:?}");
            assert_eq!(got.as_os_str(), expected.as_os_str(), "base {base:?}");
        }
    }
}
