//! `max_bytes` bounds the whole cache; LRU by asset; several victims; CacheFull changes nothing.

mod common;

use std::io::Write;

use common::{disk_usage, id, open, p, snapshot};
use kithara_cache::CacheError;

#[test]
fn the_limit_bounds_all_assets_together_and_lru_goes_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 10_000);
    for n in 1..=4 {
        cache
            .asset(id(n))
            .put_atomic(&p("a"), &[n as u8; 2500])
            .unwrap();
    }
    assert_eq!(cache.stats().unwrap().total_bytes, 10_000);
    let put = cache.asset(id(5)).put_atomic(&p("a"), &[5; 100]).unwrap();
    assert_eq!(
        put.evicted,
        vec![id(1)],
        "the least recently used asset goes"
    );
    let stats = cache.stats().unwrap();
    assert_eq!(stats.total_bytes, 7_600);
    assert_eq!(disk_usage(dir.path()).0, 7_600);
    assert!(!cache.asset(id(1)).exists(&p("a")));
}

#[test]
fn several_assets_are_evicted_to_make_room_for_one_put() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 10_000);
    for n in 1..=10 {
        cache.asset(id(n)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    }
    let put = cache
        .asset(id(11))
        .put_atomic(&p("big"), &[0; 3500])
        .unwrap();
    assert_eq!(put.evicted, vec![id(1), id(2), id(3), id(4)]);
    assert_eq!(cache.stats().unwrap().total_bytes, 9_500);
    assert_eq!(disk_usage(dir.path()), (9_500, 7));
}

#[test]
fn a_hit_counts_as_an_access() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 3000);
    for n in 1..=3 {
        cache.asset(id(n)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    }
    // Reading asset 1 makes asset 2 the oldest.
    assert!(cache.asset(id(1)).read(&p("a")).unwrap().is_some());
    let put = cache.asset(id(4)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(2)]);
    // open() counts too.
    let _ = cache.asset(id(3)).open(&p("a")).unwrap().unwrap();
    let put = cache.asset(id(5)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(1)]);
    // exists() does not.
    assert!(cache.asset(id(4)).exists(&p("a")));
    let put = cache.asset(id(6)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(4)]);
}

#[test]
fn repeated_hits_on_the_newest_asset_keep_every_other_asset_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 4000);
    for n in 1..=4 {
        cache.asset(id(n)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    }
    // A player reading one track over and over (4 is already the newest),
    // then a switch to track 1, then more reads of 4, then a removed and
    // re-added newest asset: the order must be 2, 3, 1, 4 after all of it.
    for _ in 0..5 {
        assert!(cache.asset(id(4)).read(&p("a")).unwrap().is_some());
    }
    assert!(cache.asset(id(1)).read(&p("a")).unwrap().is_some());
    for _ in 0..5 {
        assert!(cache.asset(id(4)).read(&p("a")).unwrap().is_some());
    }
    cache.remove(id(4)).unwrap();
    cache.asset(id(4)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    let order: Vec<_> = cache.assets().unwrap().iter().rev().map(|a| a.id).collect();
    assert_eq!(order, vec![id(2), id(3), id(1), id(4)]);
    let put = cache.asset(id(5)).put_atomic(&p("a"), &[0; 2000]).unwrap();
    assert_eq!(put.evicted, vec![id(2), id(3)]);
}

#[test]
fn recency_survives_a_reopen_on_the_logical_clock() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 3000);
        for n in 1..=3 {
            cache.asset(id(n)).put_atomic(&p("a"), &[0; 1000]).unwrap();
        }
        cache.asset(id(1)).read(&p("a")).unwrap();
    }
    let cache = open(dir.path(), 3000);
    let ticks: Vec<_> = cache
        .assets()
        .unwrap()
        .iter()
        .map(|a| (a.id, a.access_tick))
        .collect();
    assert_eq!(
        ticks.iter().map(|t| t.0).collect::<Vec<_>>(),
        vec![id(1), id(3), id(2)]
    );
    let put = cache.asset(id(4)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(2)]);
    let newest = cache.assets().unwrap()[0].access_tick;
    assert!(newest > ticks[0].1, "the clock continues after reopen");
}

#[test]
fn pinned_assets_and_the_asset_being_written_are_never_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 4000);
    for n in 1..=3 {
        cache.asset(id(n)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    }
    let _pin = cache.pin(id(1)).unwrap();
    // Asset 4 writes into itself; asset 1 is oldest but pinned, so 2 then 3 go.
    let a4 = cache.asset(id(4));
    a4.put_atomic(&p("a"), &[0; 1000]).unwrap();
    let put = a4.put_atomic(&p("b"), &[0; 1500]).unwrap();
    assert_eq!(put.evicted, vec![id(2), id(3)]);
    assert!(cache.asset(id(1)).exists(&p("a")));
    assert!(a4.exists(&p("a")), "the writer's own asset stays");
}

#[test]
fn cache_full_fails_the_put_and_leaves_the_cache_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 4000);
    for n in 1..=3 {
        cache
            .asset(id(n))
            .put_atomic(&p("a"), &[n as u8; 1000])
            .unwrap();
    }
    let _p1 = cache.pin(id(1)).unwrap();
    let _p2 = cache.pin(id(2)).unwrap();
    let before = (snapshot(dir.path()), cache.stats().unwrap());
    // 3000 is more than the 2000 bytes that could be freed (asset 3 and the rest of the room).
    let err = cache
        .asset(id(4))
        .put_atomic(&p("a"), &[9; 3000])
        .unwrap_err();
    match err {
        CacheError::CacheFull { needed, available } => {
            assert_eq!(needed, 3000);
            assert_eq!(available, 2000);
        }
        other => panic!("expected CacheFull, got {other}"),
    }
    // The same through the streaming writer.
    let mut w = cache.asset(id(4)).writer(&p("s")).unwrap();
    w.write_all(&[1; 2500]).unwrap();
    assert!(w.commit().unwrap_err().is_cache_full());
    // Bigger than the whole cache: refused before writing.
    assert!(
        cache
            .asset(id(5))
            .put_atomic(&p("a"), &[0; 5000])
            .unwrap_err()
            .is_cache_full()
    );
    let mut w = cache.asset(id(5)).writer(&p("s")).unwrap();
    assert!(w.write_all(&[0; 5000]).is_err());
    drop(w);
    assert_eq!((snapshot(dir.path()), cache.stats().unwrap()), before);
    drop((_p1, _p2, cache));
    let reopened = open(dir.path(), 4000);
    assert!(reopened.recovery().is_clean(), "{:?}", reopened.recovery());
}

#[test]
fn gc_and_a_lower_limit_evict_oldest_until_the_cache_fits() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 10_000);
    for n in 1..=5 {
        cache.asset(id(n)).put_atomic(&p("a"), &[0; 2000]).unwrap();
    }
    let _pin = cache.pin(id(1)).unwrap();
    let evicted = cache.set_max_bytes(5000).unwrap();
    assert_eq!(evicted, vec![id(2), id(3), id(4)]);
    assert_eq!(cache.stats().unwrap().total_bytes, 4000);
    assert!(cache.gc().unwrap().is_empty());
    drop(_pin);
    drop(cache);
    let cache =
        kithara_cache::AssetCache::open(kithara_cache::CacheOptions::new(dir.path())).unwrap();
    assert_eq!(
        cache.stats().unwrap().max_bytes,
        5000,
        "the limit is stored in the index"
    );
}

#[test]
fn a_replacing_write_needs_room_only_for_the_growth() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 3000);
    cache.asset(id(1)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    cache.asset(id(2)).put_atomic(&p("a"), &[0; 1500]).unwrap();
    let put = cache.asset(id(2)).put_atomic(&p("a"), &[0; 2000]).unwrap();
    assert!(put.evicted.is_empty());
    assert_eq!(cache.stats().unwrap().total_bytes, 3000);
}

/// A policy that repeats one asset and invents others: it can reorder
/// evictions, never make the cache outgrow its limit (issue 15 hole 11).
#[test]
fn a_policy_with_duplicate_or_unknown_ids_cannot_under_evict() {
    use kithara_cache::{AssetCache, AssetId, CacheOptions, Durability, EvictionPolicy};

    struct Liar(AssetId);
    impl EvictionPolicy for Liar {
        fn on_access(&mut self, _: AssetId, _: u64) {}
        fn on_remove(&mut self, _: &AssetId) {}
        fn victims(&self) -> Box<dyn Iterator<Item = AssetId> + '_> {
            let ghost = AssetId::from_key(b"never stored");
            Box::new([self.0, self.0, ghost, self.0, ghost].into_iter())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open(
        CacheOptions::new(dir.path())
            .max_bytes(300_000)
            .durability(Durability::Buffered)
            .policy(Liar(id(1))),
    )
    .unwrap();
    for n in 1..=3 {
        cache
            .asset(id(n))
            .put_atomic(&p("a.bin"), &vec![1u8; 100_000])
            .unwrap();
    }
    // 250 KB more needs three victims; the policy names only one, thrice.
    let put = cache
        .asset(id(9))
        .put_atomic(&p("a.bin"), &vec![2u8; 250_000])
        .unwrap();
    assert_eq!(put.evicted.len(), 3, "{:?}", put.evicted);
    assert_eq!(put.evicted[0], id(1), "the policy's own choice goes first");
    let stats = cache.stats().unwrap();
    assert!(stats.total_bytes <= 300_000, "{stats:?}");
    assert_eq!(stats.total_bytes, common::disk_usage(dir.path()).0);
}

/// Issue 15 hole 9: bytes staged by writes not yet committed are on disk
/// already; they count against `max_bytes`, so a put that cannot fit beside
/// them gets `CacheFull` instead of the disk holding more than the limit.
#[test]
fn bytes_in_flight_count_against_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1_000_000);
    let streaming = cache.asset(id(1));
    let mut w = streaming.writer(&p("v0/seg/000001.ts")).unwrap();
    w.write_all(&vec![1u8; 600_000]).unwrap();
    w.flush().unwrap();
    // 600 KB staged + 500 KB > 1 MB, and nothing is evictable.
    let err = cache
        .asset(id(2))
        .put_atomic(&p("a.bin"), &vec![2u8; 500_000])
        .unwrap_err();
    assert!(matches!(err, CacheError::CacheFull { .. }), "{err}");
    assert!(!cache.asset(id(2)).exists(&p("a.bin")));
    // What fits beside it still lands, and the stream commits.
    cache
        .asset(id(3))
        .put_atomic(&p("a.bin"), &vec![3u8; 300_000])
        .unwrap();
    w.commit().unwrap();
    let stats = cache.stats().unwrap();
    assert_eq!(stats.total_bytes, 900_000);
    // A dropped writer gives its share back.
    let mut w = cache.asset(id(4)).writer(&p("x")).unwrap();
    w.write_all(&vec![4u8; 90_000]).unwrap();
    drop(w);
    cache
        .asset(id(5))
        .put_atomic(&p("a.bin"), &vec![5u8; 100_000])
        .unwrap();
    assert_eq!(cache.stats().unwrap().total_bytes, 1_000_000);
}
