//! Verifying every resource against its integrity record.
//!
//! Each committed resource carries a record of its length and XXH3-64
//! digest (`store/record.rs`). A hit compares the length it read with the
//! record (no syscall: the records are in memory); with
//! [`CacheOptions::verify_reads`](crate::CacheOptions::verify_reads) it
//! compares the digest too. [`AssetCache::verify`] reads every resource and
//! compares both; [`AssetCache::repair`] removes exactly the resources it
//! found bad.

use std::fmt;
use std::fs;
use std::path::PathBuf;

use crate::cache::AssetCache;
use crate::error::Result;
use crate::id::AssetId;
use crate::path::CachePath;
use crate::store::is_temp_name;

/// What is wrong with a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Its length is not the recorded one (torn, cut, or grown).
    Length {
        /// Bytes recorded when it was committed.
        recorded: u64,
        /// Bytes it holds now.
        found: u64,
    },
    /// Its bytes do not hash to the recorded digest (rotted or rewritten).
    Digest,
    /// It could not be read (the I/O error).
    Unreadable(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Length { recorded, found } => {
                write!(f, "length {found} differs from the recorded {recorded}")
            }
            Problem::Digest => f.write_str("content differs from its recorded digest"),
            Problem::Unreadable(e) => write!(f, "unreadable: {e}"),
        }
    }
}

/// One resource that failed verification.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BadResource {
    /// Its asset.
    pub id: AssetId,
    /// Its path in the asset.
    pub path: CachePath,
    /// The file on disk.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: Problem,
}

/// What [`AssetCache::verify`] found.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Resources read and checked against their record.
    pub verified: u64,
    /// Resources without a record (written by an older version, or on a
    /// file system without extended attributes): read, but nothing to
    /// check them against.
    pub unverifiable: u64,
    /// Resources that failed, in the order found.
    pub bad: Vec<BadResource>,
}

impl VerifyReport {
    /// True when no resource failed.
    pub fn is_ok(&self) -> bool {
        self.bad.is_empty()
    }
}

impl AssetCache {
    /// Reads every resource of every asset and checks its length and
    /// digest against its record. Works read-only beside an owner too.
    /// Never counts as an access.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let Some(fs) = self.inner.fs() else {
            // Memory holds what was written; there is nothing to rot.
            return Ok(report);
        };
        let ids: Vec<AssetId> = {
            let engine = self.inner.engine();
            let mut ids: Vec<AssetId> = engine
                .inner()
                .inner()
                .entries()
                .map(|(id, _)| *id)
                .collect();
            ids.sort();
            ids
        };
        for id in ids {
            let asset = fs.asset_rel(&id);
            for path in resources(&fs.root().join(&asset)) {
                let file = fs
                    .root()
                    .join(&asset)
                    .join(path.segments().collect::<PathBuf>());
                let (measured, recorded) = match fs.measure_at(&asset, &path) {
                    Ok(Some(m)) => (m.measured, m.attached),
                    // Removed since the listing (evicted, replaced): nothing to check.
                    Ok(None) => continue,
                    Err(e) => {
                        report.bad.push(BadResource {
                            id,
                            path,
                            file,
                            problem: Problem::Unreadable(e.to_string()),
                        });
                        continue;
                    }
                };
                let Some(recorded) = recorded else {
                    report.unverifiable += 1;
                    continue;
                };
                report.verified += 1;
                let problem = if measured.len != recorded.len {
                    Problem::Length {
                        recorded: recorded.len,
                        found: measured.len,
                    }
                } else if measured.digest != recorded.digest {
                    Problem::Digest
                } else {
                    continue;
                };
                report.bad.push(BadResource {
                    id,
                    path,
                    file,
                    problem,
                });
            }
        }
        Ok(report)
    }

    /// Removes the resources `report` found bad (wrong length or digest),
    /// and nothing else: each is measured again first, so one replaced by
    /// a good write since the report, or unreadable, is left alone. Returns the
    /// ones removed. The rest of each asset stays, accounted.
    pub fn repair(&self, report: &VerifyReport) -> Result<Vec<BadResource>> {
        self.inner.writable()?;
        let Some(fs) = self.inner.fs() else {
            return Ok(Vec::new());
        };
        let mut removed = Vec::new();
        for bad in &report.bad {
            // An unreadable file is not known to be bad (a permission, a
            // passing I/O error): it is reported, not removed.
            if matches!(bad.problem, Problem::Unreadable(_)) {
                continue;
            }
            let asset = fs.asset_rel(&bad.id);
            // Measured again under the engine lock, where no commit can
            // replace it: a good write since the report is kept.
            let mut engine = self.inner.engine();
            match fs.measure_at(&asset, &bad.path) {
                Ok(Some(m)) if m.attached.is_some_and(|r| r != m.measured) => {}
                _ => continue,
            }
            if crate::store::Store::remove_file(&mut *engine, &bad.id, &bad.path)?.is_some() {
                removed.push(bad.clone());
            }
        }
        Ok(removed)
    }
}

/// Every resource under an asset directory, as cache paths: regular files
/// only (a link or special file is never followed nor read), temp files
/// and names the cache could not have written left out.
fn resources(dir: &std::path::Path) -> Vec<CachePath> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), Vec::<String>::new())];
    while let Some((at, prefix)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let mut segments = prefix.clone();
            segments.push(name);
            if kind.is_dir() {
                stack.push((entry.path(), segments));
            } else if kind.is_file()
                && !is_temp_name(&entry.file_name())
                && let Ok(path) = CachePath::new(&segments)
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
