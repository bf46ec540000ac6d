//! `CacheOptions::run_max_bytes`: a limit for one open, in force and
//! evicted to, but not stored for the next owner.

use kithara_cache::{AssetCache, AssetId, CacheOptions, CachePath};

fn put(cache: &AssetCache, n: u8, bytes: usize) -> AssetId {
    let url = url::Url::parse(&format!("https://example.com/{n}/master.m3u8")).unwrap();
    let id = AssetId::from_url(&url).unwrap();
    let asset = cache.asset(id);
    asset
        .put_atomic(&CachePath::new(["seg", "0.ts"]).unwrap(), &vec![n; bytes])
        .unwrap();
    id
}

#[test]
fn a_run_limit_is_in_force_and_evicts_but_the_stored_limit_survives() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = AssetCache::open(CacheOptions::new(dir.path()).max_bytes(1 << 20)).unwrap();
        put(&cache, 1, 1000);
        put(&cache, 2, 1000);
    }
    {
        let cache = AssetCache::open(CacheOptions::new(dir.path()).run_max_bytes(1500)).unwrap();
        assert_eq!(cache.stats().unwrap().max_bytes, 1500, "in force");
        assert_eq!(cache.max_bytes(), 1500, "the accessor says the same");
        assert_eq!(cache.recovery().evicted.len(), 1, "evicted to fit at open");
        assert_eq!(cache.stats().unwrap().asset_count, 1);
    }
    let cache = AssetCache::open(CacheOptions::new(dir.path())).unwrap();
    assert_eq!(
        cache.stats().unwrap().max_bytes,
        1 << 20,
        "the stored limit is back"
    );
    assert_eq!(cache.max_bytes(), 1 << 20);
}

#[test]
fn set_max_bytes_stores_and_replaces_a_run_limit() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = AssetCache::open(CacheOptions::new(dir.path()).run_max_bytes(1500)).unwrap();
        cache.set_max_bytes(4096).unwrap();
        assert_eq!(cache.stats().unwrap().max_bytes, 4096);
    }
    let cache = AssetCache::open(CacheOptions::new(dir.path())).unwrap();
    assert_eq!(cache.stats().unwrap().max_bytes, 4096);
}
