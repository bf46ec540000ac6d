//! A leaked writer does not hold its asset or its bytes forever (issue 15
//! hole 9, second half): a streaming writer's lease lasts
//! `CacheOptions::write_lease` after its last write; past it the writer
//! neither protects its asset from eviction nor counts its staged bytes
//! against `max_bytes`, and its commit fails with `WriteExpired`, writing
//! nothing. The time is not waited for: a zero lease is expired at once,
//! an hour-long one is not, and both run the same production code.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{asset_dir, disk_usage, id, p, temp_files};
use kithara_cache::{AssetCache, CacheError, CacheOptions, Durability};

const KB: usize = 1000;

fn cache(root: &Path, lease: Duration) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(1000 * KB as u64)
            .durability(Durability::Buffered)
            .write_lease(lease),
    )
    .unwrap()
}

/// Asset 1 holds 300 KB and a writer on it has staged 600 KB, then is
/// forgotten (never dropped, never committed).
fn leak_a_writer(cache: &AssetCache) {
    let asset = cache.asset(id(1));
    asset.put_atomic(&p("old"), &vec![1; 300 * KB]).unwrap();
    let mut w = asset.writer(&p("new")).unwrap();
    w.write_all(&vec![2; 600 * KB]).unwrap();
    std::mem::forget(w);
}

#[test]
fn a_leaked_writer_past_its_lease_protects_nothing_and_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path(), Duration::ZERO);
    leak_a_writer(&cache);
    // 300 KB committed + 600 KB staged + 500 KB would be 1.4 MB: with the
    // lease over, the staged bytes do not count and asset 1 can go.
    let put = cache
        .asset(id(2))
        .put_atomic(&p("seg"), &vec![3; 500 * KB])
        .unwrap();
    assert_eq!(put.evicted, Vec::<kithara_cache::AssetId>::new());
    let put = cache
        .asset(id(3))
        .put_atomic(&p("seg"), &vec![4; 400 * KB])
        .unwrap();
    assert_eq!(
        put.evicted,
        vec![id(1)],
        "the leaked writer's asset is evictable"
    );
    assert!(!asset_dir(dir.path(), &id(1)).exists());
    assert_eq!(cache.stats().unwrap().total_bytes, 900 * KB as u64);
    assert_eq!(disk_usage(dir.path()).0, 900 * KB as u64);
}

#[test]
fn within_its_lease_a_writer_protects_its_asset_and_counts_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path(), Duration::from_secs(3600));
    leak_a_writer(&cache);
    let err = cache
        .asset(id(2))
        .put_atomic(&p("seg"), &vec![3; 500 * KB])
        .unwrap_err();
    assert!(err.is_cache_full(), "{err}");
    assert_eq!(
        cache.asset(id(1)).remove_all().unwrap_err().to_string(),
        CacheError::AssetInUse { id: id(1) }.to_string()
    );
    assert!(cache.asset(id(1)).exists(&p("old")));
}

#[test]
fn a_writer_whose_lease_expired_cannot_commit_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path(), Duration::ZERO);
    let asset = cache.asset(id(1));
    let mut w = asset.writer(&p("seg")).unwrap();
    w.write_all(&[5; 1000]).unwrap();
    let err = w.commit().unwrap_err();
    assert!(
        matches!(&err, CacheError::WriteExpired { path } if path == "seg"),
        "{err}"
    );
    assert!(!asset.exists(&p("seg")));
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(cache.stats().unwrap().total_bytes, 0);
    // A one-shot put is never subject to the lease: it cannot be leaked.
    asset.put_atomic(&p("seg"), &[6; 1000]).unwrap();
    assert_eq!(asset.read(&p("seg")).unwrap().unwrap().len(), 1000);
}
