//! The owner's advisory lock on `<root>/.lock`.
//!
//! The lock belongs to the open file description, so the kernel releases it
//! when the owner exits for any reason, kill -9 included: a crash never leaves
//! the directory locked. The file says who the owner is (`<pid>\n<command>\n`)
//! so that a second opener's error can name it.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process;

use rustix::fs::{FileType, Mode, OFlags};

use crate::error::{CacheError, Owner, Result};
use crate::layout::LOCK_FILE;

/// How much of a lock file is read to name its owner.
const OWNER_BYTES: usize = 256;
/// How many characters of the owner's command are shown.
const COMMAND_CHARS: usize = 64;

/// Takes the exclusive lock or fails with [`CacheError::InUse`]; never
/// waits. `command` is what the owner says it is.
pub(crate) fn acquire(root: &Path, command: &str) -> Result<File> {
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
                owner: owner(&file),
            });
        }
        Err(TryLockError::Error(e)) => return Err(CacheError::io("lock", path)(e)),
    }
    // Who owns it is for people (and a second opener's error); the lock
    // itself is the flock.
    let command: String = command.chars().filter(|c| !c.is_control()).collect();
    file.set_len(0)
        .and_then(|()| write!(file, "{}\n{command}\n", process::id()))
        .map_err(CacheError::io("write lock file", &path))?;
    Ok(file)
}

/// The owner as its lock file says: a bounded read of a file already known
/// to be regular, shown and never trusted (control characters dropped,
/// the command cut short). `None` if it says nothing usable, e.g. an owner
/// that has locked the file and not written it yet.
fn owner(file: &File) -> Option<Owner> {
    let mut buf = [0u8; OWNER_BYTES];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let command: String = lines
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(COMMAND_CHARS)
        .collect();
    let command = match command.trim() {
        "" => "unknown".to_owned(),
        c => c.to_owned(),
    };
    Some(Owner { pid, command })
}
