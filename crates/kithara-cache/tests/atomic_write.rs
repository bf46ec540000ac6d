//! Atomic writes: whole old file, whole new file, or nothing; exact accounting.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};

use common::{asset_dir, disk_usage, holding, id, open, p, temp_files};
use kithara_cache::{AssetCache, CacheError, CacheOptions, Durability};

#[test]
fn put_then_read_returns_the_bytes_and_the_file_is_where_the_layout_says() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open(CacheOptions::new(dir.path())).unwrap(); // default Durability::Sync
    let a = cache.asset(id(1));
    let put = a
        .put_atomic(&p("v0/seg/000001.ts"), b"segment one")
        .unwrap();
    assert_eq!(put.bytes_written, 11);
    assert!(put.evicted.is_empty());
    assert!(a.exists(&p("v0/seg/000001.ts")));
    assert_eq!(
        a.read(&p("v0/seg/000001.ts")).unwrap().unwrap(),
        &b"segment one"[..]
    );
    let on_disk = asset_dir(dir.path(), &id(1)).join("v0/seg/000001.ts");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"segment one");
    assert!(a.read(&p("v0/seg/missing.ts")).unwrap().is_none());
    assert!(a.open(&p("v0/seg/missing.ts")).unwrap().is_none());
}

#[test]
fn shorter_rewrite_replaces_exactly_and_accounting_never_underflows() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let a = cache.asset(id(1));
    a.put_atomic(&p("f"), &[7u8; 5000]).unwrap();
    a.put_atomic(&p("f"), b"tiny").unwrap();
    assert_eq!(a.read(&p("f")).unwrap().unwrap(), &b"tiny"[..]);
    let stats = cache.stats().unwrap();
    assert_eq!(stats.total_bytes, 4);
    assert_eq!(stats.file_count, 1);
    assert_eq!(disk_usage(dir.path()), (4, 1));
    a.put_atomic(&p("f"), b"").unwrap();
    assert_eq!(cache.stats().unwrap().total_bytes, 0);
    a.remove_all().unwrap();
    let stats = cache.stats().unwrap();
    assert_eq!(
        (stats.total_bytes, stats.file_count, stats.asset_count),
        (0, 0, 0)
    );
}

#[test]
fn streaming_writer_is_invisible_until_commit_and_leaves_nothing_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, a) = holding(dir.path(), "s", b"old");
    let mut w = a.writer(&p("s")).unwrap();
    for chunk in 0..10u8 {
        w.write_all(&[chunk; 1000]).unwrap();
    }
    assert_eq!(w.len(), 10_000);
    assert_eq!(
        a.read(&p("s")).unwrap().unwrap(),
        &b"old"[..],
        "readers see the old file mid-write"
    );
    assert_eq!(
        temp_files(dir.path()).len(),
        1,
        "the temp file sits beside its destination"
    );
    let temp = &temp_files(dir.path())[0];
    assert_eq!(temp.parent(), Some(asset_dir(dir.path(), &id(1)).as_path()));
    let put = w.commit().unwrap();
    assert_eq!(put.bytes_written, 10_000);
    let mut r = a.open(&p("s")).unwrap().unwrap();
    assert_eq!(r.len(), 10_000);
    r.seek(SeekFrom::Start(9_000)).unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, vec![9u8; 1000]);
    assert!(temp_files(dir.path()).is_empty());

    let mut w = a.writer(&p("never")).unwrap();
    w.write_all(b"abandoned").unwrap();
    drop(w);
    assert!(!a.exists(&p("never")));
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(cache.stats().unwrap().total_bytes, 10_000);
}

#[test]
fn temp_names_are_unique_for_concurrent_writers_of_one_path() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let a = cache.asset(id(1));
    let mut w1 = a.writer(&p("same")).unwrap();
    let mut w2 = a.writer(&p("same")).unwrap();
    w1.write_all(b"first").unwrap();
    w2.write_all(b"second!").unwrap();
    assert_eq!(temp_files(dir.path()).len(), 2);
    w1.commit().unwrap();
    w2.commit().unwrap();
    assert_eq!(a.read(&p("same")).unwrap().unwrap(), &b"second!"[..]);
    assert_eq!(
        cache.stats().unwrap().total_bytes,
        7,
        "the replaced file is not counted twice"
    );
}

#[test]
fn buffered_and_sync_durability_store_the_same_bytes() {
    for durability in [Durability::Sync, Durability::Buffered] {
        let dir = tempfile::tempdir().unwrap();
        let cache = AssetCache::open(CacheOptions::new(dir.path()).durability(durability)).unwrap();
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        cache.asset(id(3)).put_atomic(&p("big"), &bytes).unwrap();
        drop(cache);
        let cache = AssetCache::open(CacheOptions::new(dir.path())).unwrap();
        assert_eq!(
            cache.asset(id(3)).read(&p("big")).unwrap().unwrap(),
            &bytes[..]
        );
    }
}

#[test]
fn a_directory_where_a_file_belongs_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, a) = holding(dir.path(), "v0/x", b"x");
    let asset = asset_dir(dir.path(), &id(1));
    // Each error names the entry in the way, by its full path (a bare
    // `contains("x")` would match any path with an x in it).
    let err = a.put_atomic(&p("v0"), b"file over dir").unwrap_err();
    assert!(
        matches!(&err, CacheError::Unexpected { path, .. } if *path == asset.join("v0")),
        "{err:?}"
    );
    let err = a.put_atomic(&p("v0/x/y"), b"below a file").unwrap_err();
    assert!(
        matches!(&err, CacheError::Unexpected { path, .. } if *path == asset.join("v0/x")),
        "{err:?}"
    );
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(cache.stats().unwrap().total_bytes, 1);
}

#[test]
fn removing_one_resource_updates_the_accounting_even_on_a_pinned_asset() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let a = cache.asset(id(1));
    a.put_atomic(&p("keys/k.key"), &[1; 16]).unwrap();
    a.put_atomic(&p("v0/seg/000000.ts"), &[2; 1000]).unwrap();
    let _playing = a.pin();
    assert!(a.remove(&p("keys/k.key")).unwrap());
    assert!(!a.exists(&p("keys/k.key")));
    assert!(
        !a.remove(&p("keys/k.key")).unwrap(),
        "a second remove finds nothing"
    );
    let stats = cache.stats().unwrap();
    assert_eq!((stats.total_bytes, stats.file_count), (1000, 1));
    assert_eq!(disk_usage(dir.path()), (1000, 1));
    let err = a.remove(&p("v0/seg")).unwrap_err();
    assert!(
        matches!(&err, CacheError::Unexpected { path, .. }
            if *path == asset_dir(dir.path(), &id(1)).join("v0/seg")),
        "a directory is not a resource: {err:?}"
    );
    drop((_playing, a, cache));
    let reopened = open(dir.path(), 1 << 20);
    assert!(reopened.recovery().is_clean(), "{:?}", reopened.recovery());

    let mem = AssetCache::in_memory(1 << 20);
    mem.asset(id(2)).put_atomic(&p("x"), b"abc").unwrap();
    assert!(mem.asset(id(2)).remove(&p("x")).unwrap());
    assert_eq!(mem.stats().unwrap().total_bytes, 0);
}

#[test]
fn a_write_can_choose_its_own_durability() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open(CacheOptions::new(dir.path())).unwrap(); // Sync by default
    let a = cache.asset(id(1));
    a.put_atomic_with(&p("v0/seg/000000.ts"), b"media", Durability::Buffered)
        .unwrap();
    let mut w = a
        .writer_with(&p("v0/seg/000001.ts"), Durability::Buffered)
        .unwrap();
    w.write_all(b"streamed").unwrap();
    w.commit().unwrap();
    a.put_atomic_with(&p("keys/k.key"), &[7; 16], Durability::Sync)
        .unwrap();
    assert_eq!(
        a.read(&p("v0/seg/000000.ts")).unwrap().unwrap(),
        &b"media"[..]
    );
    assert_eq!(
        a.read(&p("v0/seg/000001.ts")).unwrap().unwrap(),
        &b"streamed"[..]
    );
    assert_eq!(cache.stats().unwrap().total_bytes, 5 + 8 + 16);
    assert!(temp_files(dir.path()).is_empty());
}
