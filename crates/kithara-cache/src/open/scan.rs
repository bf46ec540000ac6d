//! The scan at open: what is really on disk.
//!
//! This is the only walk of the tree; it runs once per open and gives the
//! sizes the index is reconciled against. Temp files of dead writers and
//! half-deleted assets in `trash/` are removed when the caller owns the root.

use std::fs;
use std::path::{Path, PathBuf};

use crate::id::{AssetId, IdMap};
use crate::index::Records;
use crate::layout::{ASSETS_DIR, KEPT_MARKER, TRASH_DIR};
use crate::store::FsStore;
use crate::store::is_temp_name;
use crate::store::record;

/// Bytes and files of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub bytes: u64,
    pub files: u64,
    /// The newest modification time of its files, in ms since the epoch:
    /// the best recency the disk can tell for an asset the index lost.
    pub newest_ms: u64,
    /// Its folder holds the kept marker (a regular file).
    pub kept: bool,
}

/// What the scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub assets: IdMap<Usage>,
    /// Temp files found (removed when cleaning).
    pub temps: u64,
    /// Entries that are not the cache's and were left alone, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// The integrity record of every resource that has one.
    pub records: Records,
    /// Resources whose length is not their record's: torn (a power cut
    /// under a `Buffered` write) or cut since. Removed and not counted
    /// when cleaning; counted (a hit refuses them) otherwise.
    pub torn: Vec<PathBuf>,
    /// Resources without a record (older versions wrote none): served
    /// unverified.
    pub unverified: u64,
}

impl FsStore {
    /// Walks the tree; never fails (what it cannot read it reports as skipped).
    /// With `clean`, removes temp files and trash.
    /// `files`: how many files an asset is expected to hold (a hint).
    pub(crate) fn scan(&self, clean: bool, files: impl Fn(&AssetId) -> usize) -> Scan {
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
                        let mut records = std::mem::take(&mut scan.records);
                        records.expect(id, files(&id));
                        let mut at = Walk {
                            id,
                            asset: &path,
                            clean,
                            usage: &mut usage,
                            records: &mut records,
                        };
                        scan.walk(&path, &mut at);
                        records.sorted(&id);
                        scan.records = records;
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

    fn walk(&mut self, dir: &Path, at: &mut Walk<'_>) {
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
            if entry.file_name() == KEPT_MARKER && dir == at.asset {
                // The mark, not a resource; only a regular file counts.
                if kind.is_file() {
                    at.usage.kept = true;
                } else {
                    self.skip(path, "kept marker is not a regular file");
                }
            } else if kind.is_dir() {
                self.walk(&path, at);
            } else if kind.is_file() && is_temp_name(&entry.file_name()) {
                self.temp(&path, at.clean);
            } else if kind.is_file() {
                match entry.metadata() {
                    Ok(m) => self.file(path, &m, at),
                    Err(_) => self.skip(path, "cannot read file size"),
                }
            } else {
                self.skip(path, "symlink or special file is not followed");
            }
        }
    }

    /// A regular file of an asset: counted, with its record if it has one;
    /// a file whose length is not its record's is torn.
    fn file(&mut self, path: PathBuf, m: &fs::Metadata, at: &mut Walk<'_>) {
        let found = record::read_at(&path);
        if let Some(r) = found
            && r.len != m.len()
        {
            tracing::warn!(path = %path.display(), recorded = r.len, found = m.len(), "resource length differs from its record");
            if at.clean {
                match fs::remove_file(&path) {
                    Ok(()) => {
                        self.torn.push(path);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot remove torn resource");
                    }
                }
            }
            // Left in place: recorded below, so its hits are refused.
            self.torn.push(path.clone());
        }
        match (found, path.strip_prefix(at.asset)) {
            (Some(r), Ok(rel)) => at.records.insert_found(at.id, rel, r),
            (Some(_), Err(_)) => {}
            (None, _) => self.unverified += 1,
        }
        let usage = &mut *at.usage;
        usage.bytes += m.len();
        usage.files += 1;
        let ms = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        usage.newest_ms = usage.newest_ms.max(ms);
    }
}

/// Where a walk is: the asset's directory, whether it cleans, and what it
/// has counted.
struct Walk<'a> {
    id: AssetId,
    asset: &'a Path,
    clean: bool,
    usage: &'a mut Usage,
    records: &'a mut Records,
}

fn is_shard(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
