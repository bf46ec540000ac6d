//! The rename that refuses to replace.
//!
//! A commit must know whether it replaced a file (and how long it was) to
//! keep the accounting exact. A rename that fails rather than replace tells
//! "the name was free" by succeeding, so a new file (a cache filling up)
//! needs no `stat` first; only a real replacement pays for one.

use std::path::Path;

#[cfg(target_os = "linux")]
use rustix::fs::{CWD, RenameFlags, renameat_with};

/// Renames `from` to `to` only if nothing has that name. `false` if
/// something does, or if this system or file system cannot tell (no
/// `renameat2`, or no `RENAME_NOREPLACE`); then the caller looks and
/// renames over it, which reports any real error with its context.
#[cfg(target_os = "linux")]
pub(crate) fn if_new(from: &Path, to: &Path) -> bool {
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).is_ok()
}

/// Always `false`: Android's app sandbox may kill a process that calls
/// `renameat2` (seccomp) on older releases, and other systems lack it, so
/// they take the portable path.
#[cfg(not(target_os = "linux"))]
pub(crate) fn if_new(_from: &Path, _to: &Path) -> bool {
    false
}
