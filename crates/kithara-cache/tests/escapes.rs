//! No escape through any link, no hang on any special file (issue 15 holes
//! 1–3), tried through the public API a player uses: a link planted at any
//! depth of a resource's path is never written through, read through or
//! removed through; a FIFO where a resource or the index should be never
//! blocks a read or an open; the lock file is never followed nor truncated
//! when it is not the cache's own; nor is a pin file, which is never
//! followed or blocked on either, by the owner or by an inspector.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::{asset_dir, id, open, p};
use kithara_cache::{AssetCache, CacheOptions};

const OUTSIDE_BYTES: &[u8] = b"outside the cache";

/// Every directory on the way from the root to `v0/seg/000001.ts` of asset
/// 1, as `(depth name, path of the directory)`.
fn levels(root: &Path) -> Vec<(&'static str, PathBuf)> {
    let adir = asset_dir(root, &id(1));
    vec![
        ("assets", root.join("assets")),
        ("shard", adir.parent().unwrap().to_path_buf()),
        ("asset", adir.clone()),
        ("v0", adir.join("v0")),
        ("seg", adir.join("v0/seg")),
    ]
}

/// A copy of `dir`'s tree at `to` (files only), so that a link can stand
/// where `dir` was and point at the copy: anything done through the link
/// shows in the copy.
fn copy_tree(dir: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = kithara_test_utils::files_recursive(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_link_at_any_depth_is_never_followed() {
    for depth in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let cache = open(dir.path(), 1 << 20);
        let asset = cache.asset(id(1));
        asset.put_atomic(&p("v0/seg/000001.ts"), b"cached").unwrap();
        asset
            .put_atomic(&p("v0/seg/000002.ts"), b"cached too")
            .unwrap();
        let (name, level) = levels(dir.path()).swap_remove(depth);
        // Move the real level aside and plant a link to a look-alike
        // outside the cache, holding other bytes at the same names.
        let elsewhere = outside.path().join("elsewhere");
        copy_tree(&level, &elsewhere);
        for f in kithara_test_utils::files_recursive(&elsewhere) {
            std::fs::write(&f, OUTSIDE_BYTES).unwrap();
        }
        std::fs::rename(&level, outside.path().join("moved-away")).unwrap();
        symlink(&elsewhere, &level).unwrap();
        let before = snapshot(outside.path());

        // Read through it: a miss (or an error), never the outside bytes.
        for path in ["v0/seg/000001.ts", "v0/seg/000002.ts"] {
            if let Ok(Some(bytes)) = asset.read(&p(path)) {
                panic!("{name}: read {path} through a link: {bytes:?}");
            }
            assert!(
                !asset.exists(&p(path)),
                "{name}: {path} exists through a link"
            );
            if let Ok(Some(_)) = asset.open(&p(path)) {
                panic!("{name}: opened {path} through a link");
            }
        }
        // Write, remove, evict through it: refused or done inside; the
        // outside tree is unchanged either way.
        let _ = asset.put_atomic(&p("v0/seg/000003.ts"), b"new");
        let _ = asset.put_atomic(&p("v0/seg/000001.ts"), b"replaced");
        let _ = asset.remove(&p("v0/seg/000002.ts"));
        let _ = asset.remove_all();
        assert_eq!(
            snapshot(outside.path()),
            before,
            "{name}: the outside tree changed"
        );
        drop(asset);
        drop(cache);
        // A reopen (scan, recovery) leaves it alone too.
        let _ = AssetCache::open(CacheOptions::new(dir.path()).max_bytes(1 << 20));
        assert_eq!(
            snapshot(outside.path()),
            before,
            "{name}: a reopen changed the outside tree"
        );
    }
}

/// Run `f` on a thread; fail if it does not finish within 10 s (a blocked
/// open of a FIFO never would).
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}

#[test]
fn a_fifo_never_blocks_a_read_an_open_or_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let asset = cache.asset(id(1));
    asset
        .put_atomic(&p("v0/playlist.m3u8"), b"#EXTM3U")
        .unwrap();
    cache.flush().unwrap();
    mkfifo(&asset_dir(dir.path(), &id(1)).join("v0/fifo.ts"));
    let a = asset.clone();
    let read = finishes("a read of a FIFO", move || a.read(&p("v0/fifo.ts")));
    assert!(!matches!(read, Ok(Some(_))), "{read:?}");
    let a = asset.clone();
    let opened = finishes("an open of a FIFO", move || {
        a.open(&p("v0/fifo.ts")).map(|r| r.is_some())
    });
    assert!(!matches!(opened, Ok(true)), "{opened:?}");
    drop(asset);
    drop(cache);

    // The index is a FIFO: the open recovers from the files, without waiting.
    let state = dir.path().join("state.json");
    std::fs::remove_file(&state).unwrap();
    mkfifo(&state);
    let root = dir.path().to_path_buf();
    let reopened = finishes("an open with a FIFO for an index", move || {
        AssetCache::open(CacheOptions::new(&root).max_bytes(1 << 20))
            .map(|c| c.stats().map(|s| s.total_bytes))
    });
    assert_eq!(reopened.unwrap().unwrap(), 7);
    let root = dir.path().to_path_buf();
    let inspected = finishes("a read-only open with a FIFO for an index", move || {
        AssetCache::open_read_only(&root).map(|c| c.stats().map(|s| s.total_bytes))
    });
    assert_eq!(inspected.unwrap().unwrap(), 7);
}

#[test]
fn a_planted_lock_file_is_neither_followed_nor_truncated() {
    for how in ["symlink", "hardlink"] {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let foreign = outside.path().join("precious.txt");
        std::fs::write(&foreign, OUTSIDE_BYTES).unwrap();
        let lock = dir.path().join(".lock");
        match how {
            "symlink" => symlink(&foreign, &lock).unwrap(),
            _ => std::fs::hard_link(&foreign, &lock).unwrap(),
        }
        let opened = AssetCache::open(CacheOptions::new(dir.path()).max_bytes(1 << 20));
        assert_eq!(
            std::fs::read(&foreign).unwrap(),
            OUTSIDE_BYTES,
            "{how}: the foreign file changed"
        );
        let err = opened
            .err()
            .unwrap_or_else(|| panic!("{how}: the cache opened over a foreign lock file"));
        assert!(err.to_string().contains(".lock"), "{how}: {err}");
    }
}

/// The pinned assets a read-only open of `root` counts; fails the test
/// if the inspection blocks.
fn pins_seen(root: &Path) -> usize {
    let root = root.to_path_buf();
    finishes("an inspection", move || {
        AssetCache::open_read_only(&root)
            .unwrap()
            .stats()
            .unwrap()
            .pinned_assets
    })
}

#[test]
fn planted_pin_files_are_neither_followed_nor_blocked_on() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let foreign = outside.path().join("precious.txt");
    std::fs::write(&foreign, OUTSIDE_BYTES).unwrap();
    let cache = open(dir.path(), 1 << 20);
    for n in 1..=2 {
        cache.asset(id(n)).put_atomic(&p("a"), b"inside").unwrap();
    }
    let pins = dir.path().join("pins");
    let name = |n| pins.join(id(n).to_hex());

    // The folder itself is a link: nothing is created through it, and
    // the pin still protects.
    symlink(outside.path(), &pins).unwrap();
    let pin = cache.pin(id(1)).unwrap();
    assert!(cache.remove(id(1)).is_err(), "a pinned asset was removed");
    drop(pin);
    std::fs::remove_file(&pins).unwrap();

    // Its files: a link to a foreign file and a FIFO stand where the
    // owner's pin files go. The owner replaces them, without blocking.
    std::fs::create_dir(&pins).unwrap();
    symlink(&foreign, name(1)).unwrap();
    mkfifo(&name(2));
    let c = cache.clone();
    let guards = finishes("a pin over a FIFO", move || {
        (c.pin(id(1)).unwrap(), c.pin(id(2)).unwrap())
    });
    assert_eq!(pins_seen(dir.path()), 2, "the owner's pins are not seen");
    drop(guards);
    assert_eq!(
        snapshot(outside.path()),
        vec![(foreign.clone(), OUTSIDE_BYTES.to_vec())]
    );
    drop(cache);

    // An inspector is not fooled either: a link to a file someone holds
    // locked is not followed, a FIFO does not block it.
    let held = std::fs::File::open(&foreign).unwrap();
    held.lock_shared().unwrap();
    symlink(&foreign, name(1)).unwrap();
    mkfifo(&name(2));
    assert_eq!(
        pins_seen(dir.path()),
        0,
        "a planted pin file counted as a pin"
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Any valid resource path, with a link to an outside look-alike
        /// planted at any level of it (root side first): the production
        /// put, read, exists, remove and remove_all never reach outside.
        #[test]
        fn no_operation_goes_through_a_link_at_any_depth(
            segs in prop::collection::vec("[a-z0-9]{1,3}", 1..4),
            depth in 0usize..8,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let outside = tempfile::tempdir().unwrap();
            let cache = open(dir.path(), 1 << 20);
            let asset = cache.asset(id(1));
            let path = kithara_cache::CachePath::new(&segs).unwrap();
            asset.put_atomic(&path, b"inside").unwrap();
            // The levels: assets, shard, asset dir, then each directory of
            // the path, then the file itself.
            let adir = asset_dir(dir.path(), &id(1));
            let mut levels = vec![dir.path().join("assets"), adir.parent().unwrap().to_path_buf(), adir.clone()];
            let mut cur = adir.clone();
            for s in &segs {
                cur = cur.join(s);
                levels.push(cur.clone());
            }
            let level = levels[depth.min(levels.len() - 1)].clone();
            let elsewhere = outside.path().join("elsewhere");
            if level.is_dir() {
                copy_tree(&level, &elsewhere);
                for f in kithara_test_utils::files_recursive(&elsewhere) {
                    std::fs::write(&f, OUTSIDE_BYTES).unwrap();
                }
                std::fs::remove_dir_all(&level).unwrap();
            } else {
                std::fs::write(&elsewhere, OUTSIDE_BYTES).unwrap();
                std::fs::remove_file(&level).unwrap();
            }
            symlink(&elsewhere, &level).unwrap();
            let before = snapshot(outside.path());
            // The inside file is gone; anything read came through the link.
            prop_assert!(!matches!(asset.read(&path), Ok(Some(_))), "read through a link");
            prop_assert!(!asset.exists(&path));
            let _ = asset.put_atomic(&path, b"again");
            let _ = asset.remove(&path);
            let _ = asset.remove_all();
            prop_assert_eq!(snapshot(outside.path()), before);
        }
    }
}
