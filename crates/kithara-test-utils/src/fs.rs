//! File-system helpers for tests that inspect a cache directory.

use std::any::Any;
use std::path::{Path, PathBuf};

/// Counts the regular files below `path`, recursively.
///
/// Symbolic links are neither followed nor counted. A missing or unreadable
/// directory counts as empty (returns 0); unreadable sub-directories are
/// skipped.
pub fn count_files_recursive(path: impl AsRef<Path>) -> usize {
    let mut count = 0;
    visit_files(path.as_ref(), &mut |_| {
        count += 1;
        true
    });
    count
}

/// Every regular file below `path`, recursively, sorted.
///
/// Symbolic links are neither followed nor listed; a missing or unreadable
/// directory lists nothing.
pub fn files_recursive(path: impl AsRef<Path>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    visit_files(path.as_ref(), &mut |f| {
        files.push(f.to_path_buf());
        true
    });
    files.sort();
    files
}

/// Returns `true` if at least one regular file exists anywhere below `path`.
///
/// A missing directory returns `false`. Empty sub-directories do not count.
pub fn dir_nonempty_recursive(path: impl AsRef<Path>) -> bool {
    let mut found = false;
    visit_files(path.as_ref(), &mut |_| {
        found = true;
        false
    });
    found
}

/// Asserts that at least one regular file exists below `path`.
///
/// # Panics
///
/// Panics, naming the path, if no regular file exists below it (including when
/// the directory does not exist).
#[track_caller]
pub fn assert_dir_not_empty(path: impl AsRef<Path>) {
    let path = path.as_ref();
    assert!(
        dir_nonempty_recursive(path),
        "expected at least one regular file below {} (exists: {}), found none",
        path.display(),
        path.exists()
    );
}

/// Walks the tree below `dir` and calls `on_file` for every regular file.
/// Stops early when `on_file` returns `false`. Returns `false` if stopped.
fn visit_files(dir: &Path, on_file: &mut dyn FnMut(&Path) -> bool) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    for entry in entries.flatten() {
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let entry_path = entry.path();
        if file_type.is_file() {
            if !on_file(&entry_path) {
                return false;
            }
        } else if file_type.is_dir() && !visit_files(&entry_path, on_file) {
            return false;
        }
    }
    true
}

/// Every file of a fuzz corpus directory as `(name, bytes)`, sorted by name.
///
/// # Panics
///
/// If the directory cannot be read or is empty: a regression test over an
/// empty corpus would pass without testing anything.
pub fn corpus(dir: impl AsRef<Path>) -> Vec<(String, Vec<u8>)> {
    let dir = dir.as_ref();
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let bytes = std::fs::read(e.path())
                .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "empty corpus {}", dir.display());
    out
}

/// The message of a caught panic (`&str` or `String` payloads), else empty.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}
