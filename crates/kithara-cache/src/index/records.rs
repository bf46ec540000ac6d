//! The integrity records the index keeps in memory, a few words per file.
//!
//! A hit checks the length it read against the file's record without a
//! syscall, so the record of every file is in memory, and a cache may hold
//! hundreds of thousands of files (a long VOD alone has tens of thousands of
//! segments). A record is therefore keyed by a 64-bit hash of its path, not
//! by the path, in a sorted array beside a small hash table of the newest
//! (merged into the array once they are an eighth of it): about 27 bytes a
//! file, where a hash table of all of them holds twice that on average and
//! three times while it doubles. A lookup is a binary search, ~16 steps at
//! 30,000 files, beside a hit's syscalls. The hash is keyed with a secret
//! drawn when the cache opens, so nobody can name two files of an asset
//! that collide; by chance, two of an asset's
//! paths share a hash once in 2^64 / files² pairs, and then a hit is
//! refused or checked against the other's length (the bytes served are
//! still the file's own).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};
use std::path::Path;

use crate::id::{AssetId, IdHasher, IdMap};
use crate::path::CachePath;
use crate::store::record::Record;

/// The records of one asset, by path hash.
#[derive(Debug, Default)]
struct AssetRecords {
    /// By key, no key twice.
    sorted: Vec<(u64, Record)>,
    /// Records not yet merged into `sorted` (keys already hashes: passed
    /// through). No key is in both.
    recent: HashMap<u64, Record, BuildHasherDefault<IdHasher>>,
}

/// The most records [`Records::expect`] makes room for ahead (24 MB).
const MAX_EXPECTED: usize = 1 << 20;

/// Records a small asset keeps in `recent` alone.
const MIN_RECENT: usize = 64;

impl AssetRecords {
    fn find(&self, key: u64) -> Result<usize, usize> {
        self.sorted.binary_search_by_key(&key, |&(k, _)| k)
    }

    fn get(&self, key: u64) -> Option<Record> {
        match self.recent.get(&key) {
            Some(r) => Some(*r),
            None => self.find(key).ok().map(|i| self.sorted[i].1),
        }
    }

    fn insert(&mut self, key: u64, record: Record) {
        if let Ok(i) = self.find(key) {
            self.sorted[i].1 = record;
            return;
        }
        self.recent.insert(key, record);
        if self.recent.len() > MIN_RECENT.max(self.sorted.len() / 8) {
            self.sorted.reserve_exact(self.recent.len());
            self.sorted.extend(self.recent.drain());
            self.sorted.sort_unstable_by_key(|&(k, _)| k);
        }
    }

    fn remove(&mut self, key: u64) -> Option<Record> {
        self.recent
            .remove(&key)
            .or_else(|| Some(self.sorted.remove(self.find(key).ok()?).1))
    }
}

/// The integrity record of every recorded resource, by asset and path.
#[derive(Debug, Default)]
pub(crate) struct Records {
    secret: RandomState,
    assets: IdMap<AssetRecords>,
}

impl Records {
    fn key(&self, path: &str) -> u64 {
        self.secret.hash_one(path)
    }

    /// The record of `path` in asset `id`.
    pub(crate) fn get(&self, id: &AssetId, path: &CachePath) -> Option<Record> {
        self.assets.get(id)?.get(self.key(path.as_str()))
    }

    /// Record `path` of asset `id`.
    pub(crate) fn insert(&mut self, id: AssetId, path: &CachePath, record: Record) {
        let key = self.key(path.as_str());
        self.assets.entry(id).or_default().insert(key, record);
    }

    /// Record the file at `rel` (relative to the asset's directory) as the
    /// scan finds it; a name that is not a [`CachePath`] is recorded too,
    /// harmlessly: no hit asks for it. Appended unsorted: the scan calls
    /// [`sorted`](Self::sorted) once it has walked the asset, so an asset
    /// of many files is sorted once, not merged an eighth at a time.
    pub(crate) fn insert_found(&mut self, id: AssetId, rel: &Path, record: Record) {
        // Joined by `/` as a `CachePath` is (the store is unix only).
        let Some(rel) = rel.to_str() else { return };
        let key = self.key(rel);
        self.assets
            .entry(id)
            .or_default()
            .sorted
            .push((key, record));
    }

    /// Make room for `n` records [`insert_found`](Self::insert_found) will
    /// append to asset `id` (a hint: more or fewer may come). The hint is
    /// capped, so that a damaged index cannot make the open allocate much.
    pub(crate) fn expect(&mut self, id: AssetId, n: usize) {
        let n = n.min(MAX_EXPECTED);
        if n > 0 {
            self.assets.entry(id).or_default().sorted.reserve_exact(n);
        }
    }

    /// Put the records [`insert_found`](Self::insert_found) appended to
    /// asset `id` in order (a file found twice, which a walk never does,
    /// keeps one record).
    pub(crate) fn sorted(&mut self, id: &AssetId) {
        if let Some(a) = self.assets.get_mut(id) {
            a.sorted.sort_unstable_by_key(|&(k, _)| k);
            a.sorted.dedup_by_key(|&mut (k, _)| k);
            a.sorted.shrink_to_fit();
        }
    }

    /// Forget the record of `path` of asset `id`, returning it.
    pub(crate) fn remove(&mut self, id: &AssetId, path: &CachePath) -> Option<Record> {
        let key = self.key(path.as_str());
        self.assets.get_mut(id)?.remove(key)
    }

    /// Forget every record of asset `id`.
    pub(crate) fn forget(&mut self, id: &AssetId) {
        self.assets.remove(id);
    }

    /// Heap bytes held by the records of asset `id`.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self, id: &AssetId) -> usize {
        self.assets.get(id).map_or(0, |m| {
            let entry = size_of::<(u64, Record)>();
            m.sorted.capacity() * entry + m.recent.capacity() * (entry + 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CachePath {
        CachePath::parse(s).unwrap()
    }

    #[test]
    fn a_record_is_found_by_the_path_it_was_given_or_found_under() {
        let id = AssetId::from_key(b"a");
        let other = AssetId::from_key(b"b");
        let mut r = Records::default();
        let rec = |len| Record {
            len,
            digest: len * 7,
        };
        r.insert(id, &p("v0/seg/1.ts"), rec(1));
        r.insert_found(id, Path::new("v0/seg/2.ts"), rec(2));
        r.insert_found(id, Path::new("v0/seg/0.ts"), rec(0));
        r.sorted(&id);
        assert_eq!(r.get(&id, &p("v0/seg/1.ts")), Some(rec(1)));
        assert_eq!(r.get(&id, &p("v0/seg/2.ts")), Some(rec(2)));
        assert_eq!(r.get(&id, &p("v0/seg/0.ts")), Some(rec(0)));
        assert_eq!(r.get(&id, &p("v0/seg/3.ts")), None);
        assert_eq!(r.get(&other, &p("v0/seg/1.ts")), None);
        assert_eq!(r.remove(&id, &p("v0/seg/1.ts")), Some(rec(1)));
        assert_eq!(r.get(&id, &p("v0/seg/1.ts")), None);
        r.forget(&id);
        assert_eq!(r.get(&id, &p("v0/seg/2.ts")), None);
    }

    #[test]
    fn a_file_costs_a_few_words() {
        let id = AssetId::from_key(b"a");
        let mut r = Records::default();
        let n = 30_000;
        for i in 0..n {
            r.insert(
                id,
                &p(&format!("v0/seg/{i:06}.ts")),
                Record { len: 1, digest: 2 },
            );
        }
        let per_file = r.heap_bytes(&id) as f64 / f64::from(n);
        assert!(per_file <= 32.0, "{per_file} bytes per file");
        // Found wherever they are (merged or recent); replaced in place;
        // removed from either part.
        for i in 0..n {
            let path = p(&format!("v0/seg/{i:06}.ts"));
            assert_eq!(r.get(&id, &path), Some(Record { len: 1, digest: 2 }), "{i}");
            if i % 3 == 0 {
                r.insert(id, &path, Record { len: 3, digest: 4 });
            }
        }
        for i in 0..n {
            let path = p(&format!("v0/seg/{i:06}.ts"));
            let want = Record {
                len: if i % 3 == 0 { 3 } else { 1 },
                digest: if i % 3 == 0 { 4 } else { 2 },
            };
            assert_eq!(r.remove(&id, &path), Some(want), "{i}");
            assert_eq!(r.get(&id, &path), None);
        }
    }
}
