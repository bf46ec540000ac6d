//! The scan at open: what is really on disk.
//!
//! This is the only walk of the tree; it runs once per open and gives the
//! sizes the index is reconciled against. Temp files of dead writers and
//! half-deleted assets in `trash/` are removed when the caller owns the root.

use std::fs;
use std::path::{Path, PathBuf};

use crate::id::{AssetId, IdMap};
use crate::store::FsStore;
use crate::store::fs::{ASSETS_DIR, TRASH_DIR, is_temp_name};

/// Bytes and files of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub bytes: u64,
    pub files: u64,
    /// The newest modification time of its files, in ms since the epoch:
    /// the best recency the disk can tell for an asset the index lost.
    pub newest_ms: u64,
}

/// What the scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub assets: IdMap<Usage>,
    /// Temp files found (removed when cleaning).
    pub temps: u64,
    /// Entries that are not the cache's and were left alone, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

impl FsStore {
    /// Walks the tree; never fails (what it cannot read it reports as skipped).
    /// With `clean`, removes temp files and trash.
    pub(crate) fn scan(&self, clean: bool) -> Scan {
        let mut scan = Scan::default();
        let root = self.root();
        if clean {
            let trash = root.join(TRASH_DIR);
            // Best effort: an undeletable leftover must not keep the cache from opening.
            if trash.exists()
                && let Err(e) = fs::remove_dir_all(&trash)
            {
                tracing::warn!(path = %trash.display(), error = %e, "cannot empty trash");
                scan.skipped.push((trash, "trash could not be emptied"));
            }
        }
        scan.temps_in(root, clean);
        let assets = root.join(ASSETS_DIR);
        match fs::symlink_metadata(&assets) {
            Ok(m) if m.is_dir() => {}
            // A link or file planted as `assets` is never entered.
            Ok(_) => {
                scan.skip(assets, "symlink or special file is not followed");
                return scan;
            }
            Err(_) => return scan,
        }
        let Ok(shards) = fs::read_dir(&assets) else {
            return scan;
        };
        for shard in shards.flatten() {
            let shard_path = shard.path();
            let shard_name = shard.file_name();
            let shard_name = shard_name.to_str().unwrap_or_default();
            if !shard.file_type().is_ok_and(|t| t.is_dir()) || !is_shard(shard_name) {
                scan.skip(shard_path, "not a shard directory");
                continue;
            }
            let Ok(entries) = fs::read_dir(&shard_path) else {
                scan.skip(shard_path, "unreadable directory");
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let id = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<AssetId>().ok())
                    .filter(|id| id.to_hex().starts_with(shard_name));
                match id {
                    Some(id) if entry.file_type().is_ok_and(|t| t.is_dir()) => {
                        let mut usage = Usage::default();
                        scan.walk(&path, clean, &mut usage);
                        scan.assets.insert(id, usage);
                    }
                    Some(_) => scan.skip(path, "asset entry is not a directory"),
                    None => scan.skip(path, "not an asset directory"),
                }
            }
        }
        scan
    }
}

impl Scan {
    fn skip(&mut self, path: PathBuf, reason: &'static str) {
        tracing::warn!(path = %path.display(), reason, "skipping unexpected cache entry");
        self.skipped.push((path, reason));
    }

    fn temps_in(&mut self, dir: &Path, clean: bool) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if is_temp_name(&entry.file_name()) && entry.file_type().is_ok_and(|t| t.is_file()) {
                self.temp(&entry.path(), clean);
            }
        }
    }

    fn temp(&mut self, path: &Path, clean: bool) {
        self.temps += 1;
        if clean && let Err(e) = fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove temp file");
        }
    }

    fn walk(&mut self, dir: &Path, clean: bool, usage: &mut Usage) {
        let Ok(entries) = fs::read_dir(dir) else {
            self.skip(dir.to_path_buf(), "unreadable directory");
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // file_type() does not follow symlinks, so a planted link is never entered.
            let Ok(kind) = entry.file_type() else {
                self.skip(path, "cannot read entry type");
                continue;
            };
            if kind.is_dir() {
                self.walk(&path, clean, usage);
            } else if kind.is_file() && is_temp_name(&entry.file_name()) {
                self.temp(&path, clean);
            } else if kind.is_file() {
                match entry.metadata() {
                    Ok(m) => {
                        usage.bytes += m.len();
                        usage.files += 1;
                        let ms = m
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                        usage.newest_ms = usage.newest_ms.max(ms);
                    }
                    Err(_) => self.skip(path, "cannot read file size"),
                }
            } else {
                self.skip(path, "symlink or special file is not followed");
            }
        }
    }
}

fn is_shard(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
