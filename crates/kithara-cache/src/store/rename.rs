//! The rename that refuses to replace.
//!
//! A commit must know whether it replaced a file (and how long it was) to
//! keep the accounting exact. A rename that fails rather than replace tells
//! "the name was free" by succeeding, so a new file (a cache filling up)
//! needs no `stat` first; only a real replacement pays for one.

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;

#[cfg(target_os = "linux")]
use rustix::fs::{RenameFlags, renameat_with};

/// Renames `from` to `to` in the directory `dir` only if nothing has that
/// name. `false` if something does, or if this system or file system
/// cannot tell (no `renameat2`, or no `RENAME_NOREPLACE`); then the caller
/// looks and renames over it, which reports any real error with its context.
#[cfg(target_os = "linux")]
pub(crate) fn if_new_at(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> bool {
    renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE).is_ok()
}

/// Always `false`: Android's app sandbox may kill a process that calls
/// `renameat2` (seccomp) on older releases, and other systems lack it, so
/// they take the portable path.
#[cfg(not(target_os = "linux"))]
pub(crate) fn if_new_at(_dir: BorrowedFd<'_>, _from: &OsStr, _to: &OsStr) -> bool {
    false
}
