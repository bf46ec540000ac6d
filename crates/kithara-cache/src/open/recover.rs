//! Reconciling the index with the file system at open.
//!
//! The file system is the source of truth: every asset directory found is in
//! the index, with the sizes measured on disk and whether it is kept (its
//! marker file); entries whose directory is gone are dropped. The index contributes only what the disk cannot tell: recency,
//! creation time, the source URL and the logical clock.

use std::path::PathBuf;

use crate::id::{AssetId, IdMap};
use crate::index::Index;
use crate::open::Scan;
use crate::persist::load::Loaded;
use crate::persist::state::Entry;

/// What opening the cache found and repaired. With
/// [`AssetCache::open_read_only`](crate::AssetCache::open_read_only) nothing
/// is repaired on disk; the report says what an owner would fix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The index was missing and rebuilt from the file system.
    pub index_missing: bool,
    /// The index was damaged (the reason) and rebuilt from the file system.
    pub index_damaged: Option<String>,
    /// Assets on disk that the index did not list.
    pub assets_added: usize,
    /// Index entries whose directory was gone.
    pub assets_dropped: usize,
    /// Assets whose size or file count in the index was wrong.
    pub sizes_corrected: usize,
    /// Temp files of dead writers found (removed by an owner).
    pub temp_files: u64,
    /// Entries that are not the cache's, left alone, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// Resources whose length differs from their integrity record (torn by
    /// a power cut, or cut since): removed by an owner's open, refused by
    /// reads in a read-only one.
    pub torn: Vec<PathBuf>,
    /// Resources without an integrity record (written by an older version,
    /// or on a file system without extended attributes): served
    /// unverified. Not a problem.
    pub unverified: u64,
    /// Assets evicted by the open to fit `max_bytes` (a smaller limit, or
    /// a cache fuller than allowed after a crash), as they were, oldest
    /// first. Not a problem: the limit doing its job.
    pub evicted: Vec<crate::stats::AssetInfo>,
}

impl RecoveryReport {
    /// True when the index matched the file system exactly.
    pub fn is_clean(&self) -> bool {
        !self.index_missing
            && self.index_damaged.is_none()
            && self.assets_added == 0
            && self.assets_dropped == 0
            && self.sizes_corrected == 0
            && self.temp_files == 0
            && self.skipped.is_empty()
            && self.torn.is_empty()
    }

    /// One line per problem, for people: [`repairs`](Self::repairs), then
    /// the entries left alone.
    pub fn problems(&self) -> Vec<String> {
        let mut out = self.repairs();
        for (path, reason) in &self.skipped {
            out.push(format!("unexpected entry {}: {reason}", path.display()));
        }
        out
    }

    /// One line per problem that an owner's open repairs (everything but
    /// the entries it leaves alone).
    pub fn repairs(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.index_missing {
            out.push("index state.json is missing".to_owned());
        }
        if let Some(reason) = &self.index_damaged {
            out.push(format!("index state.json is damaged: {reason}"));
        }
        let counts = [
            (self.assets_added, "asset(s) on disk missing from the index"),
            (
                self.assets_dropped,
                "index entry(ies) without files on disk",
            ),
            (
                self.sizes_corrected,
                "asset(s) with wrong sizes in the index",
            ),
        ];
        for (n, what) in counts {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        }
        if self.temp_files > 0 {
            out.push(format!("{} leftover temp file(s)", self.temp_files));
        }
        for path in &self.torn {
            out.push(format!(
                "torn resource {}: its length differs from its record",
                path.display()
            ));
        }
        out
    }
}

/// A clock this high cannot come from real use (2^62 accesses); it is
/// renumbered so ticks never run out.
const CLOCK_LIMIT: u64 = 1 << 62;

/// Gives the entries ticks 1..=n in their current order; returns n.
fn renumber(entries: &mut IdMap<Entry>) -> u64 {
    let mut order: Vec<(u64, AssetId)> =
        entries.iter().map(|(id, e)| (e.last_access, *id)).collect();
    order.sort_unstable();
    for (rank, (_, id)) in order.iter().enumerate() {
        if let Some(e) = entries.get_mut(id) {
            e.last_access = rank as u64 + 1;
        }
    }
    order.len() as u64
}

/// Give the assets `found` on disk without an index entry (`(newest mtime,
/// id)`) a place in the LRU order: each after the last known asset that was
/// used before its files were last written, so a track downloaded behind
/// the index's back is neither the first to go nor the newest. Then every
/// asset gets ticks 1..=n in that order; returns n.
fn place_found(entries: &mut IdMap<Entry>, mut found: Vec<(u64, AssetId)>) -> u64 {
    found.sort_unstable();
    let placed: std::collections::HashSet<AssetId> = found.iter().map(|(_, id)| *id).collect();
    let mut known: Vec<(u64, u64, AssetId)> = entries
        .iter()
        .filter(|(id, _)| !placed.contains(*id))
        .map(|(id, e)| (e.last_access, e.last_access_ms, *id))
        .collect();
    known.sort_unstable();
    let mut order = Vec::with_capacity(entries.len());
    let mut k = 0;
    for (ms, id) in found {
        while k < known.len() && known[k].1 <= ms {
            order.push(known[k].2);
            k += 1;
        }
        order.push(id);
    }
    order.extend(known[k..].iter().map(|(_, _, id)| *id));
    for (rank, id) in order.iter().enumerate() {
        if let Some(e) = entries.get_mut(id) {
            e.last_access = rank as u64 + 1;
        }
    }
    order.len() as u64
}

/// Builds the in-memory index from what was loaded and what is on disk.
pub(crate) fn reconcile(loaded: Loaded, scan: Scan, now_ms: u64) -> (Index, RecoveryReport) {
    let mut report = RecoveryReport {
        temp_files: scan.temps,
        skipped: scan.skipped,
        torn: scan.torn,
        unverified: scan.unverified,
        ..RecoveryReport::default()
    };
    let records = scan.records;
    let state = match loaded {
        Loaded::Found(state) => Some(state),
        Loaded::Missing => {
            // A new, empty root has no index yet; that is not a problem.
            report.index_missing = !scan.assets.is_empty();
            None
        }
        Loaded::Damaged(reason) => {
            tracing::warn!(%reason, "cache index damaged; rebuilding from the file system");
            report.index_damaged = Some(reason);
            None
        }
    };
    let (mut clock, stored_max, stored_kept_max, mut known) = match state {
        Some(s) => (s.clock, s.max_bytes, s.max_kept_bytes, s.assets),
        None => Default::default(),
    };
    let mut entries = IdMap::with_capacity_and_hasher(scan.assets.len(), Default::default());
    // Assets the index did not list, by their files' newest mtime.
    let mut found: Vec<(u64, AssetId)> = Vec::new();
    for (id, usage) in scan.assets {
        let entry = match known.remove(&id) {
            Some(mut e) => {
                if e.bytes != usage.bytes || e.files != usage.files {
                    report.sizes_corrected += 1;
                    e.bytes = usage.bytes;
                    e.files = usage.files;
                }
                e.kept = usage.kept;
                e
            }
            // An empty directory left by a write that failed holds nothing
            // to account for; a kept one is a download yet to start.
            None if usage.files == 0 && !usage.kept => continue,
            None => {
                report.assets_added += 1;
                found.push((usage.newest_ms, id));
                // Placed among the others by `place_found` below.
                Entry {
                    bytes: usage.bytes,
                    files: usage.files,
                    last_access: 0,
                    last_access_ms: usage.newest_ms,
                    created_ms: usage.newest_ms.min(now_ms),
                    source_url: None,
                    kept: usage.kept,
                }
            }
        };
        clock = clock.max(entry.last_access);
        entries.insert(id, entry);
    }
    report.assets_dropped = known.len();
    if !found.is_empty() {
        clock = place_found(&mut entries, found);
    }
    if clock >= CLOCK_LIMIT {
        // An index from a hostile or broken writer: keep the order, lose the gaps.
        clock = renumber(&mut entries);
        report
            .index_damaged
            .get_or_insert_with(|| "logical clock out of range; renumbered".into());
    }
    if !report.is_clean() {
        tracing::warn!(problems = ?report.problems(), "cache index reconciled with the file system");
    }
    let dirty = !report.is_clean();
    let index = Index::new(clock, stored_max, entries, dirty)
        .with_max_kept_bytes(stored_kept_max)
        .with_records(records);
    (index, report)
}
