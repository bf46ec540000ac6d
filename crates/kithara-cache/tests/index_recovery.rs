//! `state.json` is an index, not the truth: damaged or stale, the cache opens and is right.

mod common;

use std::fs;
use std::time::Duration;

use common::{asset_dir, disk_usage, id, p};
use kithara_cache::{AssetCache, CacheOptions, Durability};

fn opts(root: &std::path::Path) -> CacheOptions {
    CacheOptions::new(root)
        .max_bytes(10_000)
        .durability(Durability::Buffered)
        .flush_interval(Duration::from_secs(3600))
}

fn populate(root: &std::path::Path) {
    let cache = AssetCache::open(opts(root)).unwrap();
    for n in 1..=4 {
        let a = cache.asset(id(n));
        a.put_atomic(&p("v0/seg/000000.ts"), &[n as u8; 1000])
            .unwrap();
        a.put_atomic(&p("master.m3u8"), b"#EXTM3U\n").unwrap();
        a.set_source_url(
            &url::Url::parse(&format!("https://origin.test/track{n}/master.m3u8")).unwrap(),
        )
        .unwrap();
    }
}

fn assert_true_sizes(cache: &AssetCache, root: &std::path::Path) {
    let stats = cache.stats().unwrap();
    let (bytes, files) = disk_usage(root);
    assert_eq!(stats.total_bytes, bytes);
    assert_eq!(stats.file_count, files as u64);
    let listed: u64 = cache.assets().unwrap().iter().map(|a| a.bytes).sum();
    assert_eq!(listed, bytes);
}

/// After any repair, eviction must still free exactly what it claims.
fn assert_evicts_correctly(cache: &AssetCache, root: &std::path::Path) {
    let put = cache
        .asset(id(99))
        .put_atomic(&p("big"), &[0; 9000])
        .unwrap();
    assert!(!put.evicted.is_empty());
    assert_true_sizes(cache, root);
    assert!(cache.stats().unwrap().total_bytes <= 10_000);
}

#[test]
fn the_index_holds_schema_clock_and_per_asset_metadata() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    let text = fs::read_to_string(dir.path().join("state.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["schema"], 1);
    // The clock is the newest tick, and each asset's tick orders it.
    let ticks: Vec<u64> = (1..=4)
        .map(|n| {
            json["assets"][id(n).to_hex()]["last_access"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{ticks:?}");
    assert_eq!(json["clock"].as_u64(), ticks.last().copied());
    assert_eq!(json["max_bytes"], 10_000);
    let entry = &json["assets"][id(1).to_hex()];
    assert_eq!(entry["bytes"], 1008);
    assert_eq!(entry["files"], 2);
    assert_eq!(
        entry["source_url"],
        "https://origin.test/track1/master.m3u8"
    );
    for key in ["last_access", "last_access_ms", "created_ms"] {
        assert!(entry[key].as_u64().unwrap() > 0, "{key}");
    }
}

#[test]
fn the_index_is_debounced_not_rewritten_per_put_and_flush_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    let at_open = fs::read(dir.path().join("state.json")).unwrap();
    for n in 0..50 {
        cache
            .asset(id(1))
            .put_atomic(&p(&format!("s{n}")), b"x")
            .unwrap();
    }
    assert_eq!(fs::read(dir.path().join("state.json")).unwrap(), at_open);
    cache.flush().unwrap();
    let flushed = fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(flushed.contains(&id(1).to_hex()));
    cache.asset(id(2)).put_atomic(&p("x"), b"x").unwrap();
    drop(cache);
    let closed = fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(closed.contains(&id(2).to_hex()), "drop persists the index");
}

#[test]
fn the_background_flusher_persists_changes() {
    let dir = tempfile::tempdir().unwrap();
    let cache =
        AssetCache::open(opts(dir.path()).flush_interval(Duration::from_millis(20))).unwrap();
    cache.asset(id(7)).put_atomic(&p("x"), b"x").unwrap();
    let hex = id(7).to_hex();
    // Bounded wait for the background thread (polling, not a sleep-then-assert).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !fs::read_to_string(dir.path().join("state.json"))
        .unwrap()
        .contains(&hex)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the flusher never wrote the index"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_deleted_index_is_rebuilt_from_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    fs::remove_file(dir.path().join("state.json")).unwrap();
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    assert!(cache.recovery().index_missing);
    assert_eq!(cache.recovery().assets_added, 4);
    assert_eq!(cache.stats().unwrap().asset_count, 4);
    assert_true_sizes(&cache, dir.path());
    assert!(
        dir.path().join("state.json").exists(),
        "the owner writes the repaired index"
    );
    assert_evicts_correctly(&cache, dir.path());
}

#[test]
fn an_index_truncated_at_every_length_opens_with_true_sizes() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    let good = fs::read(dir.path().join("state.json")).unwrap();
    for len in 0..good.len() {
        fs::write(dir.path().join("state.json"), &good[..len]).unwrap();
        let cache = AssetCache::open(opts(dir.path())).unwrap();
        assert!(
            cache.recovery().index_damaged.is_some() || len == 0,
            "length {len}"
        );
        assert_true_sizes(&cache, dir.path());
    }
}

#[test]
fn garbage_and_a_foreign_schema_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    let good = fs::read_to_string(dir.path().join("state.json")).unwrap();
    let future = good.replacen("\"schema\":1", "\"schema\":99", 1);
    let damaged: [&[u8]; 4] = [
        b"\xff\xfe garbage \x00",
        b"{}",
        b"[1,2,3]",
        future.as_bytes(),
    ];
    for bytes in damaged {
        fs::write(dir.path().join("state.json"), bytes).unwrap();
        let cache = AssetCache::open(opts(dir.path())).unwrap();
        let reason = cache.recovery().index_damaged.clone().unwrap();
        assert!(!reason.is_empty());
        assert_true_sizes(&cache, dir.path());
    }
}

#[test]
fn lying_sizes_missing_assets_and_unlisted_files_are_reconciled() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    json["assets"][id(1).to_hex()]["bytes"] = 999_999.into();
    json["assets"][id(2).to_hex()]["files"] = 0.into();
    let ghost = serde_json::json!({"bytes": 5, "files": 1, "last_access": 3, "last_access_ms": 1, "created_ms": 1});
    json["assets"][id(50).to_hex()] = ghost;
    fs::write(
        dir.path().join("state.json"),
        serde_json::to_vec(&json).unwrap(),
    )
    .unwrap();
    fs::remove_dir_all(asset_dir(dir.path(), &id(3))).unwrap();
    fs::write(asset_dir(dir.path(), &id(4)).join("extra.ts"), [0u8; 321]).unwrap();

    let cache = AssetCache::open(opts(dir.path())).unwrap();
    let r = cache.recovery();
    assert_eq!(r.sizes_corrected, 3, "{r:?}");
    assert_eq!(r.assets_dropped, 2, "{r:?}");
    assert_eq!(cache.stats().unwrap().asset_count, 3);
    assert_true_sizes(&cache, dir.path());
    let a1 = cache.asset(id(1)).info().unwrap();
    assert_eq!(
        a1.source_url.as_deref(),
        Some("https://origin.test/track1/master.m3u8")
    );
    assert_evicts_correctly(&cache, dir.path());
    drop(cache);
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    assert!(cache.recovery().is_clean(), "{:?}", cache.recovery());
}

#[test]
fn an_asset_with_only_a_source_url_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::parse("https://origin.test/new/master.m3u8").unwrap();
    {
        let cache = AssetCache::open(opts(dir.path())).unwrap();
        cache.asset(id(8)).set_source_url(&url).unwrap();
    }
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    assert_eq!(
        cache.asset(id(8)).info().unwrap().source_url.as_deref(),
        Some(url.as_str())
    );
}

#[test]
fn an_exhausted_logical_clock_is_renumbered_keeping_the_lru_order() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    json["clock"] = u64::MAX.into();
    json["assets"][id(1).to_hex()]["last_access"] = (u64::MAX - 5).into();
    json["assets"][id(2).to_hex()]["last_access"] = u64::MAX.into();
    fs::write(
        dir.path().join("state.json"),
        serde_json::to_vec(&json).unwrap(),
    )
    .unwrap();
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    assert!(cache.recovery().index_damaged.is_some());
    let order: Vec<_> = cache.assets().unwrap().iter().map(|a| a.id).collect();
    assert_eq!(&order[..2], &[id(2), id(1)], "newest first, as before");
    cache.asset(id(3)).read(&p("master.m3u8")).unwrap();
    assert_eq!(
        cache.assets().unwrap()[0].id,
        id(3),
        "the clock still moves"
    );
}

#[test]
fn reads_alone_do_not_make_the_flusher_rewrite_the_index() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    // The thread never ticks on its own here: the test runs its steps.
    let cache =
        AssetCache::open(opts(dir.path()).flush_interval(Duration::from_secs(3600))).unwrap();
    let index = dir.path().join("state.json");
    let before = fs::read(&index).unwrap();
    for n in 1..=4 {
        cache.asset(id(n)).read(&p("master.m3u8")).unwrap();
        kithara_cache::fuzzing::flusher_tick(&cache).unwrap();
    }
    assert_eq!(
        fs::read(&index).unwrap(),
        before,
        "reads alone were written"
    );
    // The same step does write a change of sizes: the check above can fail.
    cache.asset(id(1)).put_atomic(&p("new"), b"n").unwrap();
    kithara_cache::fuzzing::flusher_tick(&cache).unwrap();
    let sized = fs::read(&index).unwrap();
    assert_ne!(sized, before, "the flusher's step writes a size change");
    cache.asset(id(2)).read(&p("master.m3u8")).unwrap();
    kithara_cache::fuzzing::flusher_tick(&cache).unwrap();
    assert_eq!(fs::read(&index).unwrap(), sized);
    let before = sized;
    cache.flush().unwrap();
    assert_ne!(
        fs::read(dir.path().join("state.json")).unwrap(),
        before,
        "flush persists recency"
    );
}

#[test]
fn closing_and_reopening_at_once_never_races_the_flusher() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..50 {
        let cache =
            AssetCache::open(opts(dir.path()).flush_interval(Duration::from_micros(50))).unwrap();
        cache.asset(id(round)).put_atomic(&p("x"), b"x").unwrap();
        drop(cache);
    }
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    assert!(cache.recovery().is_clean(), "{:?}", cache.recovery());
}

#[test]
fn the_file_system_is_scanned_at_open_only_never_per_operation() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    let cache = AssetCache::open(opts(dir.path())).unwrap();
    let before = cache.stats().unwrap();
    // Behind the cache's back: an operation that walked the tree would see this.
    fs::remove_dir_all(asset_dir(dir.path(), &id(2))).unwrap();
    cache
        .asset(id(1))
        .put_atomic(&p("new.ts"), &[0; 10])
        .unwrap();
    cache.asset(id(3)).read(&p("master.m3u8")).unwrap();
    let after = cache.stats().unwrap();
    assert_eq!(
        after.asset_count, before.asset_count,
        "a put or a hit rescanned"
    );
    assert_eq!(after.total_bytes, before.total_bytes + 10);
    drop(cache);
    let reopened = AssetCache::open(opts(dir.path())).unwrap();
    assert_eq!(
        reopened.recovery().assets_dropped,
        1,
        "the next open sees it"
    );
    assert_eq!(
        reopened.stats().unwrap().asset_count,
        before.asset_count - 1
    );
}
