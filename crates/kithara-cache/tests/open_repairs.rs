//! What an open repairs besides the index (issue 15 holes 4, 5, 10): it
//! never fails for want of an index write, it enforces `max_bytes` at once,
//! and assets it finds without an index entry get their recency from their
//! files, not "oldest of all".

mod common;

use std::time::{Duration, SystemTime};

use common::{asset_dir, id, p};
use kithara_cache::{AssetCache, CacheOptions, Durability};

fn opts(root: &std::path::Path, max: u64) -> CacheOptions {
    CacheOptions::new(root)
        .max_bytes(max)
        .durability(Durability::Buffered)
}

/// Set every file of asset `n` to `mtime`.
fn age(root: &std::path::Path, n: u32, mtime: SystemTime) {
    for f in kithara_test_utils::files_recursive(asset_dir(root, &id(n))) {
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(mtime).unwrap();
    }
}

#[test]
fn an_open_with_a_smaller_limit_evicts_down_to_it_in_lru_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = AssetCache::open(opts(dir.path(), 1 << 20)).unwrap();
        for n in 1..=4 {
            cache
                .asset(id(n))
                .put_atomic(&p("a.bin"), &[n as u8; 100_000])
                .unwrap();
        }
        // Asset 1 is the most recently used.
        cache.asset(id(1)).read(&p("a.bin")).unwrap();
    }
    let cache = AssetCache::open(opts(dir.path(), 250_000)).unwrap();
    let stats = cache.stats().unwrap();
    assert!(stats.total_bytes <= 250_000, "{stats:?}");
    let left: Vec<u32> = (1..=4)
        .filter(|n| cache.asset(id(*n)).exists(&p("a.bin")))
        .collect();
    assert_eq!(left, vec![1, 4], "the least recently used went first");
    let reported: Vec<_> = cache
        .recovery()
        .evicted
        .iter()
        .map(|a| (a.id, a.bytes))
        .collect();
    assert_eq!(reported, vec![(id(2), 100_000), (id(3), 100_000)]);
    // On disk too.
    assert!(!asset_dir(dir.path(), &id(2)).exists());
}

#[test]
fn an_open_that_cannot_write_its_index_still_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = AssetCache::open(opts(dir.path(), 1 << 20)).unwrap();
        cache
            .asset(id(1))
            .put_atomic(&p("a.bin"), b"still here")
            .unwrap();
    }
    // A directory where the index belongs: it can be neither read nor
    // replaced (what a full or broken disk does to the write).
    let state = dir.path().join("state.json");
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("x"), b"keep the directory non-empty").unwrap();
    let cache = AssetCache::open(opts(dir.path(), 1 << 20)).expect("the open recovers in memory");
    assert_eq!(
        cache.asset(id(1)).read(&p("a.bin")).unwrap().unwrap(),
        &b"still here"[..]
    );
    assert_eq!(cache.stats().unwrap().total_bytes, 10);
    // The index is written later, once it can be.
    std::fs::remove_dir_all(&state).unwrap();
    cache.flush().unwrap();
    assert!(state.is_file());
}

#[test]
fn assets_missing_from_the_index_take_their_recency_from_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    {
        let cache = AssetCache::open(opts(dir.path(), 1 << 20)).unwrap();
        for n in 1..=3 {
            cache
                .asset(id(n))
                .put_atomic(&p("a.bin"), &[n as u8; 100_000])
                .unwrap();
        }
    }
    // The index is lost; the files say 2 was written last, then 1, then 3.
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    age(dir.path(), 3, now - Duration::from_secs(3000));
    age(dir.path(), 1, now - Duration::from_secs(2000));
    age(dir.path(), 2, now - Duration::from_secs(1000));
    let cache = AssetCache::open(opts(dir.path(), 1 << 20)).unwrap();
    let order = |cache: &AssetCache| {
        let mut a = cache.assets().unwrap();
        a.sort_by_key(|i| i.access_tick);
        a.iter()
            .map(|i| (1..=4).find(|n| id(*n) == i.id).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&cache), vec![3, 1, 2]);
    // And a new asset among known ones: one added behind the index's back
    // with an old mtime is not the newest.
    cache.asset(id(1)).read(&p("a.bin")).unwrap();
    cache.flush().unwrap();
    drop(cache);
    let adir = asset_dir(dir.path(), &id(4));
    std::fs::create_dir_all(&adir).unwrap();
    std::fs::write(adir.join("a.bin"), [4u8; 10]).unwrap();
    age(dir.path(), 4, now - Duration::from_secs(2500));
    let cache = AssetCache::open(opts(dir.path(), 1 << 20)).unwrap();
    assert_eq!(order(&cache), vec![3, 4, 2, 1]);
}
