//! The owner's advisory lock on `<root>/.lock`.
//!
//! The lock belongs to the open file description, so the kernel releases it
//! when the owner exits for any reason, kill -9 included: a crash never leaves
//! the directory locked.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::Path;
use std::process;

use rustix::fs::{FileType, Mode, OFlags};

use crate::error::{CacheError, Result};
use crate::layout::LOCK_FILE;

/// Takes the exclusive lock or fails with [`CacheError::InUse`]; never waits.
pub(crate) fn acquire(root: &Path) -> Result<File> {
    let path = root.join(LOCK_FILE);
    // Never through a link, and never a file with other names (a hard
    // link): the pid written below must not truncate a file that is not
    // the cache's own.
    let flags =
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = rustix::fs::open(&path, flags, Mode::from_raw_mode(0o644))
        .map_err(|e| CacheError::io("open lock file", &path)(e.into()))?;
    let stat =
        rustix::fs::fstat(&fd).map_err(|e| CacheError::io("inspect lock file", &path)(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile || stat.st_nlink != 1 {
        return Err(CacheError::Unexpected {
            path,
            reason: "the lock file is not the cache's own (a special file, or a file with other names)",
        });
    }
    let mut file = File::from(fd);
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
