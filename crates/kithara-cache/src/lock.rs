//! The owner's advisory lock on `<root>/.lock`.
//!
//! The lock belongs to the open file description, so the kernel releases it
//! when the owner exits for any reason, kill -9 included: a crash never leaves
//! the directory locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;
use std::process;

use crate::error::{CacheError, Result};
use crate::path::LOCK_FILE;

/// Takes the exclusive lock or fails with [`CacheError::InUse`]; never waits.
pub(crate) fn acquire(root: &Path) -> Result<File> {
    let path = root.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(CacheError::io("open lock file", &path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(CacheError::InUse {
                root: root.to_path_buf(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(CacheError::io("lock", path)(e)),
    }
    // The pid is for people inspecting the directory; the lock itself is the flock.
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", process::id()))
        .map_err(CacheError::io("write lock file", &path))?;
    Ok(file)
}
