//! Memory-only mode: the same API, bounded by the same eviction, and no files.

mod common;

use std::io::Write;

use common::{files, id, p, spawn_child_in, wait_for_line};
use kithara_cache::{AssetCache, CacheError};

fn exercise(cache: &AssetCache) {
    let a = cache.asset(id(1));
    a.put_atomic(&p("v0/seg/000001.ts"), &[1; 1000]).unwrap();
    let mut w = a.writer(&p("v0/seg/000002.ts")).unwrap();
    w.write_all(&[2; 1000]).unwrap();
    w.commit().unwrap();
    assert_eq!(
        a.read(&p("v0/seg/000002.ts")).unwrap().unwrap(),
        &[2u8; 1000][..]
    );
    let _pin = cache.pin(id(1)).unwrap();
    cache.asset(id(2)).put_atomic(&p("x"), &[0; 1500]).unwrap();
    let put = cache.asset(id(3)).put_atomic(&p("x"), &[0; 1500]).unwrap();
    assert_eq!(put.evicted, vec![id(2)]);
    let err = cache
        .asset(id(4))
        .put_atomic(&p("x"), &[0; 2500])
        .unwrap_err();
    assert!(matches!(err, CacheError::CacheFull { .. }));
    let stats = cache.stats().unwrap();
    assert_eq!(
        (stats.total_bytes, stats.max_bytes, stats.root),
        (3500, 4000, None)
    );
    cache.flush().unwrap();
}

#[test]
#[ignore = "helper process for the memory-mode test"]
fn child_in_memory() {
    if std::env::var("KITHARA_TEST_MEMORY").is_err() {
        return;
    }
    exercise(&AssetCache::in_memory(4000));
    println!("done");
}

#[test]
fn memory_mode_offers_the_same_api() {
    exercise(&AssetCache::in_memory(4000));
}

#[test]
fn memory_mode_creates_no_files() {
    let dir = tempfile::tempdir().unwrap();
    // The child runs with its working and temp directories set to `dir`.
    let mut child = spawn_child_in(
        "child_in_memory",
        &[("KITHARA_TEST_MEMORY", "1")],
        Some(dir.path()),
    );
    let out = wait_for_line(&mut child, "done");
    assert!(child.wait().unwrap().success());
    assert_eq!(out.as_deref(), Some("done"));
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
}

#[test]
fn a_read_or_an_open_in_memory_counts_as_an_access() {
    let cache = AssetCache::in_memory(3000);
    for n in 1..=3 {
        cache.asset(id(n)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    }
    assert!(cache.asset(id(1)).read(&p("a")).unwrap().is_some());
    let put = cache.asset(id(4)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(2)]);
    assert!(cache.asset(id(3)).open(&p("a")).unwrap().is_some());
    let put = cache.asset(id(5)).put_atomic(&p("a"), &[0; 1000]).unwrap();
    assert_eq!(put.evicted, vec![id(1)]);
}
