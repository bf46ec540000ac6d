//! Invalid and hostile paths: rejected with a clear error; nothing escapes an asset.

mod common;

use common::{asset_dir, holding, id, open, p};
use kithara_cache::{CacheError, CachePath};
use proptest::prelude::*;

#[test]
fn rejects_every_kind_of_bad_path() {
    let bad = [
        "",
        ".",
        "..",
        "a/../b",
        "a/./b",
        "/etc/passwd",
        "a//b",
        "a/",
        "a\\b",
        "..\\..\\x",
        "a\0b",
        "state.json",
        "v0/.lock",
        "seg.ts.kithara-tmp",
        "CON",
        "nul.txt",
        "v0/com1",
        "LPT9.log",
        "c:x",
        "trailing.",
        "tab\tname",
        "star*",
        "what?",
        "a|b",
        "<x>",
        "quote\"",
        "COM\u{b9}",
        "lpt\u{b3}.txt",
    ];
    for s in bad {
        match CachePath::parse(s) {
            Err(CacheError::InvalidPath { path, reason }) => {
                assert_eq!(path, s, "error names the path");
                assert!(!reason.is_empty());
            }
            other => panic!("{s:?} was accepted or gave the wrong error: {other:?}"),
        }
    }
    assert!(CachePath::new(Vec::<&str>::new()).is_err());
    assert!(
        CachePath::new(["a/b"]).is_err(),
        "separator inside a segment"
    );
}

#[test]
fn accepts_ordinary_resource_names() {
    for s in [
        "master.m3u8",
        "v0/playlist.m3u8",
        "v0/seg/000001.ts",
        "keys/ab12.key",
        ".hidden",
        "console.log",
        "com10",
    ] {
        let path = CachePath::parse(s).unwrap();
        assert_eq!(path.to_string(), s);
    }
    assert_eq!(
        CachePath::new(["v1", "init.mp4"]).unwrap(),
        p("v1/init.mp4")
    );
}

/// Through the production path (a put into a real cache, then the file
/// looked for where the asset's directory and the segments say).
fn stays_inside(path: &CachePath) {
    assert!(kithara_cache::fuzzing::parse_path(&path.to_string()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_accepted_string_resolves_outside(s in "[a-zA-Z0-9./\\\\:\\x00 _-]{0,24}") {
        if let Ok(path) = CachePath::parse(&s) {
            stays_inside(&path);
        }
    }

    #[test]
    fn no_accepted_segments_resolve_outside(segs in prop::collection::vec(".{0,8}", 0..5)) {
        if let Ok(path) = CachePath::new(&segs) {
            stays_inside(&path);
        }
    }
}

#[test]
fn assets_live_in_directories_named_by_the_full_id() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    cache.asset(id(1)).put_atomic(&p("a.bin"), b"one").unwrap();
    cache.asset(id(2)).put_atomic(&p("a.bin"), b"two").unwrap();
    let one = asset_dir(dir.path(), &id(1)).join("a.bin");
    assert_eq!(std::fs::read(one).unwrap(), b"one");
    assert_eq!(id(1).to_hex().len(), 64);
}

#[cfg(unix)]
#[test]
fn eviction_and_remove_never_follow_a_symlink_out_of_the_cache() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, b"keep me").unwrap();
    std::fs::create_dir(outside.path().join("dir")).unwrap();
    std::fs::write(outside.path().join("dir/inner.txt"), b"keep me too").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 3000);
    let a = cache.asset(id(1));
    a.put_atomic(&p("x.bin"), &[1; 1000]).unwrap();
    let adir = asset_dir(dir.path(), &id(1));
    symlink(&secret, adir.join("link")).unwrap();
    symlink(outside.path().join("dir"), adir.join("dirlink")).unwrap();
    // Evict asset 1 by filling the cache with asset 2.
    let put = cache
        .asset(id(2))
        .put_atomic(&p("y.bin"), &[2; 2500])
        .unwrap();
    assert_eq!(put.evicted, vec![id(1)]);
    assert!(!adir.exists());
    assert_eq!(std::fs::read(&secret).unwrap(), b"keep me");
    assert_eq!(
        std::fs::read(outside.path().join("dir/inner.txt")).unwrap(),
        b"keep me too"
    );

    // remove_all of an asset whose directory was replaced by a symlink removes only the link.
    let bdir = asset_dir(dir.path(), &id(2));
    std::fs::remove_dir_all(&bdir).unwrap();
    symlink(outside.path(), &bdir).unwrap();
    cache.asset(id(2)).remove_all().unwrap();
    assert!(secret.exists());
    assert!(std::fs::symlink_metadata(&bdir).is_err());
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_is_not_counted_and_the_open_survives_odd_entries() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("big"), vec![0u8; 50_000]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 1 << 20);
        cache.asset(id(1)).put_atomic(&p("a"), b"abc").unwrap();
    }
    symlink(
        outside.path().join("big"),
        asset_dir(dir.path(), &id(1)).join("big"),
    )
    .unwrap();
    // An asset "directory" that is a file, and a stray entry with an unexpected name.
    let hex = id(2).to_hex();
    std::fs::create_dir_all(dir.path().join("assets").join(&hex[..2])).unwrap();
    std::fs::write(asset_dir(dir.path(), &id(2)), b"not a dir").unwrap();
    std::fs::create_dir_all(dir.path().join("assets/zz")).unwrap();

    let cache = open(dir.path(), 1 << 20);
    let stats = cache.stats().unwrap();
    assert_eq!(stats.total_bytes, 3);
    assert_eq!(stats.asset_count, 1);
    assert!(
        cache.recovery().skipped.len() >= 3,
        "{:?}",
        cache.recovery()
    );
}

#[test]
fn a_planted_link_to_a_device_is_refused_not_read() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let (_cache, asset) = holding(dir.path(), "a", b"abc");
    // An endless file: a read that followed the link never would end. A
    // link is never followed: the resource is a miss.
    symlink("/dev/zero", asset_dir(dir.path(), &id(1)).join("zero")).unwrap();
    assert!(matches!(asset.read(&p("zero")), Ok(None)));
    assert!(matches!(asset.open(&p("zero")), Ok(None)));
    assert!(!asset.exists(&p("zero")));
    assert_eq!(asset.read(&p("a")).unwrap().unwrap().as_ref(), b"abc");
}

#[cfg(unix)]
#[test]
fn a_put_over_a_planted_symlink_replaces_the_link_and_counts_only_its_own_bytes() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, vec![1u8; 50_000]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cache, asset) = holding(dir.path(), "a", b"abc");
    let link = asset_dir(dir.path(), &id(1)).join("seg");
    symlink(&secret, &link).unwrap();

    asset.put_atomic(&p("seg"), b"mine").unwrap();

    assert_eq!(std::fs::read(&secret).unwrap(), vec![1u8; 50_000]);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(asset.read(&p("seg")).unwrap().unwrap().as_ref(), b"mine");
    let stats = cache.stats().unwrap();
    assert_eq!((stats.total_bytes, stats.file_count), (7, 2));
}

#[test]
fn a_put_where_a_directory_stands_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, asset) = holding(dir.path(), "a", b"abc");
    let planted = asset_dir(dir.path(), &id(1)).join("seg");
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("inside"), b"kept").unwrap();

    let got = asset.put_atomic(&p("seg"), b"mine");

    assert!(matches!(got, Err(CacheError::Unexpected { .. })), "{got:?}");
    assert_eq!(std::fs::read(planted.join("inside")).unwrap(), b"kept");
    assert!(common::temp_files(dir.path()).is_empty());
    let stats = cache.stats().unwrap();
    assert_eq!((stats.total_bytes, stats.file_count), (3, 1));
}
