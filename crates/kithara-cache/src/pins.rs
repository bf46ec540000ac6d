//! Pins other processes can see.
//!
//! A pin is counted in memory (`lease.rs`), which is all eviction needs. So
//! that an inspector in another process (`kithara ls`) can tell which
//! assets the owner has pinned, the owner also holds a shared advisory
//! lock on `<root>/pins/<id>` while the asset is pinned: taken when the
//! first pin is, released when the last goes. The lock belongs to the open
//! file, so the kernel drops it when the owner dies, kill -9 included: a
//! pin can never be left behind. An inspector tries an exclusive lock
//! without waiting; refused, the asset is pinned.
//!
//! Pins stay cheap: a pin of an asset already pinned is a count under a
//! mutex, no syscall. The file is created fresh at each first pin
//! (`O_CREAT | O_EXCL`, no link followed, in a folder reached without
//! links), so whatever was planted at its name is never opened, and no
//! other process can already hold a lock on it.

use std::ffi::OsStr;
use std::fs::{File, TryLockError};

use parking_lot::Mutex;

use crate::id::{AssetId, IdMap};
use crate::layout::PINS_DIR;
use crate::store::FsStore;
use crate::store::beneath::Dir;

/// How a cache shows its pins, or reads another process's.
pub(crate) enum PinFiles {
    /// Memory mode: no files.
    None,
    /// The owner: holds a lock per pinned asset.
    Owner {
        fs: FsStore,
        held: Mutex<IdMap<Held>>,
    },
    /// A read-only cache: reads the owner's locks.
    Inspector(FsStore),
}

/// The pins of one asset.
pub(crate) struct Held {
    count: usize,
    /// The locked file; `None` if it could not be made (then the pin still
    /// protects, it is only not visible).
    file: Option<File>,
}

impl PinFiles {
    /// The owner's: removes the pin files a dead owner left (their locks
    /// died with it), so the folder holds only live pins.
    pub(crate) fn owner(fs: FsStore) -> Self {
        let dir = fs.root().join(PINS_DIR);
        // Never follows a link planted as the folder: it removes the link.
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %dir.display(), error = %e, "cannot clear old pin files")
            }
        }
        Self::Owner {
            fs,
            held: Mutex::new(IdMap::default()),
        }
    }

    /// One more pin on `id`; the first takes the lock.
    pub(crate) fn pin(&self, id: &AssetId) {
        let Self::Owner { fs, held } = self else {
            return;
        };
        let mut held = held.lock();
        let h = held.entry(*id).or_insert(Held {
            count: 0,
            file: None,
        });
        h.count += 1;
        if h.count == 1 {
            h.file = show(fs, id)
                .inspect_err(|e| {
                    tracing::warn!(asset = %id, error = %e, "pin not visible to other processes");
                })
                .ok();
        }
    }

    /// One pin fewer on `id`; the last removes the file and drops the lock.
    pub(crate) fn unpin(&self, id: &AssetId) {
        let Self::Owner { fs, held } = self else {
            return;
        };
        let mut held = held.lock();
        let Some(h) = held.get_mut(id) else {
            return;
        };
        h.count -= 1;
        if h.count > 0 {
            return;
        }
        if let Some(file) = held.remove(id).and_then(|h| h.file) {
            // Removed before it is unlocked: a new pin creates a new file.
            if let Ok(Some(dir)) = fs.pin_dir(false) {
                let _ = dir.remove_file(OsStr::new(id.hex().as_str()));
            }
            drop(file);
        }
    }

    /// Assets another process holds pinned; empty unless this is an
    /// inspector. Reads the folder once and tests each lock.
    pub(crate) fn seen(&self) -> IdMap<()> {
        let mut out = IdMap::default();
        let Self::Inspector(fs) = self else {
            return out;
        };
        let Ok(Some(dir)) = fs.pin_dir(false) else {
            return out;
        };
        for name in dir.names().unwrap_or_default() {
            let Some(id) = name.to_str().and_then(|n| n.parse::<AssetId>().ok()) else {
                continue;
            };
            if held_elsewhere(&dir, &name) {
                out.insert(id, ());
            }
        }
        out
    }

    /// Whether another process holds `id` pinned (inspectors only).
    pub(crate) fn seen_one(&self, id: &AssetId) -> bool {
        let Self::Inspector(fs) = self else {
            return false;
        };
        matches!(fs.pin_dir(false), Ok(Some(dir)) if held_elsewhere(&dir, OsStr::new(id.hex().as_str())))
    }
}

/// Creates `pins/<id>` fresh and takes its shared lock.
fn show(fs: &FsStore, id: &AssetId) -> std::io::Result<File> {
    let dir = fs
        .pin_dir(true)?
        .ok_or_else(|| std::io::Error::other("the pins folder is not a folder"))?;
    let hex = id.hex();
    let name = OsStr::new(hex.as_str());
    // Whatever stands there (a dead owner's file, something planted) goes;
    // a folder planted there stays, and the create below refuses it.
    let _ = dir.remove_file(name);
    let file = dir.create_new(name)?;
    // A file this new is locked by nobody but an inspector testing it
    // this instant, who lets go at once: the wait is that short.
    file.lock_shared()?;
    Ok(file)
}

/// Whether someone holds a lock on the regular file `name` in `dir`: an
/// exclusive lock is refused. Never through a link, never blocking on a
/// FIFO (a special file is not a pin).
fn held_elsewhere(dir: &Dir, name: &OsStr) -> bool {
    match dir.open_file(name) {
        Ok(Some(file)) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
        _ => false,
    }
}
