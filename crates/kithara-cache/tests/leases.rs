//! Leases: reference-counted, owned, never persisted.

mod common;

use std::thread;

use common::{id, open, p};
use kithara_cache::{AssetCache, CacheError, LeaseGuard};

fn assert_send_sync_static<T: Send + Sync + 'static>() {}

#[test]
fn guards_and_handles_are_owned_and_thread_safe() {
    assert_send_sync_static::<LeaseGuard>();
    assert_send_sync_static::<AssetCache>();
    assert_send_sync_static::<kithara_cache::AssetHandle>();
}

#[test]
fn two_guards_on_one_asset_drop_one_it_stays_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 2000);
    cache.asset(id(1)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    let g1 = cache.pin(id(1)).unwrap();
    let g2 = g1.clone();
    let g3 = cache.pin(id(1)).unwrap();
    assert_eq!(cache.stats().unwrap().pinned_assets, 1);
    drop(g1);
    drop(g3);
    // The last guard moves into another thread and still protects the asset.
    let keeper = thread::spawn(move || g2);
    let g2 = keeper.join().unwrap();
    cache.asset(id(2)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    let err = cache
        .asset(id(3))
        .put_atomic(&p("a"), &[0; 1500])
        .unwrap_err();
    assert!(err.is_cache_full(), "{err}");
    assert!(cache.asset(id(1)).exists(&p("a")));
    assert!(matches!(
        cache.remove(id(1)),
        Err(CacheError::AssetInUse { .. })
    ));
    drop(g2);
    assert_eq!(cache.stats().unwrap().pinned_assets, 0);
    let put = cache.asset(id(3)).put_atomic(&p("a"), &[0; 1500]).unwrap();
    assert_eq!(put.evicted, vec![id(1), id(2)]);
}

#[test]
fn pins_are_not_persisted_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 2000);
        cache.asset(id(1)).put_atomic(&p("a"), &[0; 1000]).unwrap();
        let _guard = cache.pin(id(1)).unwrap();
        cache.flush().unwrap();
        // What a restart would read while the pin is held: nothing pinned.
        let index = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
        assert!(!index.contains("pin"), "{index}");
    }
    // A new cache has no pins by construction (they live in memory); what
    // can fail is whether the old pin still protects the asset: it must not.
    let cache = open(dir.path(), 2000);
    let put = cache.asset(id(2)).put_atomic(&p("a"), &[0; 1500]).unwrap();
    assert_eq!(put.evicted, vec![id(1)]);
}

#[test]
fn an_asset_can_be_pinned_before_it_has_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 2000);
    cache.asset(id(1)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    let _g = cache.asset(id(2)).pin();
    cache.asset(id(2)).put_atomic(&p("a"), &[0; 800]).unwrap();
    let put = cache.asset(id(3)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(1)]);
    assert_eq!(cache.stats().unwrap().pinned_bytes, 800);
}
