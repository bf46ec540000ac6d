//! Kept assets (downloads): one cache, two budgets. `max_bytes` bounds the
//! streamed assets, `max_kept_bytes` the kept ones; eviction never chooses
//! a kept asset; the mark lives with the asset on disk, so a lost index
//! cannot turn a download into an evictable asset.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;

use common::{asset_dir, files, id, p, payload, snapshot};
use kithara_cache::{AssetCache, AssetId, CacheError, CacheOptions, CacheStats, Durability};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MARKER: &str = ".kithara-kept";

fn open_with(root: &Path, max: u64, max_kept: Option<u64>) -> AssetCache {
    let mut opts = CacheOptions::new(root)
        .max_bytes(max)
        .durability(Durability::Buffered);
    if let Some(kept) = max_kept {
        opts = opts.max_kept_bytes(kept);
    }
    AssetCache::open(opts).unwrap()
}

fn is_marker(f: &Path) -> bool {
    f.file_name().is_some_and(|n| n == MARKER)
}

/// Bytes and count of the resources on disk (markers are not resources).
fn resources(root: &Path) -> (u64, u64) {
    let found: Vec<PathBuf> = files(&root.join("assets"))
        .into_iter()
        .filter(|f| !is_marker(f))
        .collect();
    let bytes = found.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
    (bytes, found.len() as u64)
}

/// The assets whose folder holds a marker file.
fn marked(root: &Path) -> Vec<PathBuf> {
    files(&root.join("assets"))
        .into_iter()
        .filter(|f| is_marker(f))
        .collect()
}

fn kept_ids(cache: &AssetCache) -> Vec<AssetId> {
    let mut ids: Vec<AssetId> = cache
        .assets()
        .unwrap()
        .into_iter()
        .filter(|a| a.kept)
        .map(|a| a.id)
        .collect();
    ids.sort();
    ids
}

fn segment(n: u32, k: u32) -> Vec<u8> {
    payload(u64::from(n) << 8 | u64::from(k), 1000)
}

/// The scenario the issue opens with, on disk and in memory: a kept track
/// larger than `max_bytes`, then five times `max_bytes` streamed. The kept
/// track is untouched and replays (offline, after a reopen on disk) byte
/// for byte; the streamed tracks went in LRU order.
#[test]
fn a_kept_track_outlives_streaming_five_times_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let on_disk = open_with(dir.path(), 4000, None);
    for cache in [on_disk, AssetCache::in_memory(4000)] {
        let kept = cache.asset(id(0));
        kept.keep().unwrap();
        for k in 0..5 {
            kept.put_atomic(&p(&format!("v0/seg/{k}.ts")), &segment(0, k))
                .unwrap();
        }
        let mut evicted = Vec::new();
        for n in 1..=20 {
            let track = cache.asset(id(n));
            for k in 0..2 {
                let mut w = track.writer(&p(&format!("v0/seg/{k}.ts"))).unwrap();
                w.write_all(&segment(n, k)[..500]).unwrap();
                evicted.extend(w.commit().unwrap().evicted);
            }
        }
        assert_eq!(evicted, (1..=16).map(id).collect::<Vec<_>>());
        let s = cache.stats().unwrap();
        assert_eq!(
            (s.kept_bytes, s.kept_assets, s.max_kept_bytes),
            (5000, 1, None)
        );
        assert_eq!(s.total_bytes, 5000 + 4000);
        assert_eq!(s.evictions, 16);
        assert_eq!(kept_ids(&cache), vec![id(0)]);
        // Nothing more to evict: the kept track is not a candidate.
        assert!(cache.gc().unwrap().is_empty());
        let check = |cache: &AssetCache| {
            for k in 0..5 {
                let got = cache.asset(id(0)).read(&p(&format!("v0/seg/{k}.ts")));
                assert_eq!(got.unwrap().as_deref(), Some(&segment(0, k)[..]));
            }
        };
        check(&cache);
        if cache.root().is_some() {
            drop((kept, cache));
            let reopened = open_with(dir.path(), 4000, None);
            check(&reopened);
            assert_eq!(kept_ids(&reopened), vec![id(0)]);
            assert_eq!(reopened.stats().unwrap().kept_bytes, 5000);
        }
    }
}

/// A write into a kept asset, or a keep, past `max_kept_bytes` is
/// `KeptFull` and changes nothing: files on disk, stats, marks. The limit
/// is stored like `max_bytes`; `run_max_kept_bytes` is not.
#[test]
fn a_full_kept_budget_is_a_typed_error_that_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_with(dir.path(), 10_000, Some(3000));
    let kept = cache.asset(id(1));
    kept.keep().unwrap();
    kept.put_atomic(&p("a"), &payload(1, 2500)).unwrap();
    let streamed = cache.asset(id(2));
    streamed.put_atomic(&p("a"), &payload(2, 1000)).unwrap();
    let before = (snapshot(dir.path()), cache.stats().unwrap());
    let full = |e: CacheError, n: u64, a: u64| match e {
        CacheError::KeptFull { needed, available } => assert_eq!((needed, available), (n, a)),
        other => panic!("expected KeptFull, got {other}"),
    };
    full(
        kept.put_atomic(&p("b"), &payload(3, 1000)).unwrap_err(),
        1000,
        500,
    );
    let mut w = kept.writer(&p("b")).unwrap();
    w.write_all(&payload(4, 800)).unwrap();
    full(w.commit().unwrap_err(), 800, 500);
    // Larger than the whole budget: refused before a byte is staged.
    full(
        kept.put_atomic(&p("c"), &payload(5, 3001)).unwrap_err(),
        3001,
        3000,
    );
    full(streamed.keep().unwrap_err(), 1000, 500);
    assert!(!streamed.info().unwrap().kept);
    assert_eq!((snapshot(dir.path()), cache.stats().unwrap()), before);
    // A replacement that does not grow the asset fits.
    kept.put_atomic(&p("a"), &payload(6, 2000)).unwrap();
    assert_eq!(cache.stats().unwrap().kept_bytes, 2000);
    drop((kept, streamed, cache));
    let stored = AssetCache::open(CacheOptions::new(dir.path()).run_max_kept_bytes(100)).unwrap();
    assert_eq!(stored.stats().unwrap().max_kept_bytes, Some(100));
    drop(stored);
    let stored = AssetCache::open(CacheOptions::new(dir.path())).unwrap();
    assert_eq!(stored.stats().unwrap().max_kept_bytes, Some(3000));
}

/// `keep` moves the bytes to the kept total; `unkeep` moves them back and
/// makes the asset the newest streamed one, then evicts down to
/// `max_bytes`: others first, the asset itself only if it alone is too
/// big and not pinned. Kept assets leave only by `gc_kept`, past their limit.
#[test]
fn unkeep_moves_the_bytes_back_as_the_newest_streamed_asset() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_with(dir.path(), 3000, None);
    let big = cache.asset(id(9));
    big.put_atomic(&p("a"), &payload(9, 2500)).unwrap();
    big.keep().unwrap();
    for n in 1..=3 {
        cache
            .asset(id(n))
            .put_atomic(&p("a"), &payload(n.into(), 1000))
            .unwrap();
    }
    let s = cache.stats().unwrap();
    assert_eq!((s.total_bytes, s.kept_bytes), (5500, 2500));
    assert!(marked(dir.path()) == vec![asset_dir(dir.path(), &id(9)).join(MARKER)]);
    assert_eq!(big.unkeep().unwrap(), vec![id(1), id(2), id(3)]);
    assert!(marked(dir.path()).is_empty());
    let s = cache.stats().unwrap();
    assert_eq!((s.total_bytes, s.kept_bytes, s.kept_assets), (2500, 0, 0));
    assert_eq!(cache.assets().unwrap()[0].id, id(9));
    // Kept again and grown past max_bytes, then unkept while pinned.
    big.keep().unwrap();
    big.put_atomic(&p("b"), &payload(10, 1500)).unwrap();
    cache
        .asset(id(4))
        .put_atomic(&p("a"), &payload(4, 1000))
        .unwrap();
    let pin = big.pin();
    assert_eq!(big.unkeep().unwrap(), vec![id(4)]);
    assert_eq!(cache.stats().unwrap().total_bytes, 4000);
    drop(pin);
    assert_eq!(cache.gc().unwrap(), vec![id(9)]);
    // gc_kept evicts kept assets, oldest first, only past max_kept_bytes.
    for n in 5..=7 {
        let a = cache.asset(id(n));
        a.keep().unwrap();
        a.put_atomic(&p("a"), &payload(n.into(), 1000)).unwrap();
    }
    assert!(cache.gc_kept().unwrap().is_empty());
    cache.set_max_kept_bytes(1500).unwrap();
    assert_eq!(cache.gc_kept().unwrap(), vec![id(5), id(6)]);
    assert_eq!(kept_ids(&cache), vec![id(7)]);
}

/// 8 threads keep, unkeep, write, remove and read at random, then each
/// keeps an asset of its own: the kept and total bytes are exactly what the
/// files on disk and the marks say, both budgets hold, and a reopen finds
/// the same kept assets.
#[test]
fn keep_and_unkeep_accounting_is_exact_under_8_threads() {
    const MAX: u64 = 64 * 1024;
    const MAX_KEPT: u64 = 48 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let cache = open_with(dir.path(), MAX, Some(MAX_KEPT));
    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            let cache = cache.clone();
            thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                for _ in 0..300 {
                    let asset = cache.asset(id(rng.random_range(0..12)));
                    let path = p(&format!("r{}", rng.random_range(0..3)));
                    let done = match rng.random_range(0..100) {
                        0..40 => asset
                            .put_atomic(&path, &payload(rng.random(), rng.random_range(16..6000)))
                            .map(drop),
                        40..55 => asset.keep(),
                        55..70 => asset.unkeep().map(drop),
                        70..75 => asset.remove(&path).map(drop),
                        75..80 => asset.remove_all(),
                        _ => asset.read(&path).map(drop),
                    };
                    if let Err(e) = done {
                        assert!(
                            matches!(
                                e,
                                CacheError::CacheFull { .. }
                                    | CacheError::KeptFull { .. }
                                    | CacheError::AssetInUse { .. }
                            ),
                            "{e}"
                        );
                    }
                }
                // Then keep an asset no other thread touches, so that the
                // check below has kept assets to account for whatever the
                // interleaving left of the random ones (an unkeep or a
                // remove_all may come last for every one of them). Refused
                // only when the kept budget is full: then others are kept.
                let own = cache.asset(id(100 + u32::try_from(t).unwrap()));
                let kept = own
                    .put_atomic(&p("own"), &payload(t, 1000))
                    .and_then(|_| own.keep());
                if let Err(e) = kept {
                    assert!(
                        matches!(
                            e,
                            CacheError::CacheFull { .. } | CacheError::KeptFull { .. }
                        ),
                        "{e}"
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let check = |cache: &AssetCache| -> CacheStats {
        let s = cache.stats().unwrap();
        let assets = cache.assets().unwrap();
        let kept: Vec<_> = assets.iter().filter(|a| a.kept).collect();
        assert_eq!(s.kept_assets, kept.len());
        assert_eq!(s.kept_bytes, kept.iter().map(|a| a.bytes).sum::<u64>());
        assert_eq!((s.total_bytes, s.file_count), resources(dir.path()));
        let mut on_disk: Vec<PathBuf> = kept
            .iter()
            .map(|a| asset_dir(dir.path(), &a.id).join(MARKER))
            .collect();
        on_disk.sort();
        assert_eq!(marked(dir.path()), on_disk);
        assert!(s.kept_bytes <= MAX_KEPT && s.total_bytes - s.kept_bytes <= MAX);
        s
    };
    // An unkeep evicts down to max_bytes only as far as the writes of
    // the moment let it; with none left, gc does the rest.
    cache.gc().unwrap();
    let before = check(&cache);
    assert!(
        before.kept_assets > 0,
        "nothing kept: the test proves nothing"
    );
    let ids = kept_ids(&cache);
    drop(cache);
    let reopened = open_with(dir.path(), MAX, None);
    assert!(reopened.recovery().is_clean(), "{:?}", reopened.recovery());
    assert_eq!(kept_ids(&reopened), ids);
    assert_eq!(check(&reopened).kept_bytes, before.kept_bytes);
}

/// The file system says what is kept: with `state.json` deleted, or cut
/// at every length, the kept assets (one not written yet) are kept after
/// the reopen and the streamed one is not.
#[test]
fn kept_survives_a_lost_or_truncated_index() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_with(dir.path(), 1 << 20, None);
    cache.asset(id(1)).keep().unwrap();
    cache
        .asset(id(1))
        .put_atomic(&p("v0/a.ts"), &payload(1, 700))
        .unwrap();
    cache.asset(id(2)).keep().unwrap();
    cache
        .asset(id(3))
        .put_atomic(&p("a"), &payload(3, 300))
        .unwrap();
    drop(cache);
    let index = dir.path().join("state.json");
    let full = fs::read(&index).unwrap();
    let mut expected = vec![id(1), id(2)];
    expected.sort();
    for len in (0..=full.len()).rev().chain([usize::MAX]) {
        match full.get(..len) {
            Some(cut) => fs::write(&index, cut).unwrap(),
            None => fs::remove_file(&index).unwrap(),
        }
        let cache = open_with(dir.path(), 1 << 20, None);
        assert_eq!(kept_ids(&cache), expected, "state.json cut at {len}");
        let s = cache.stats().unwrap();
        assert_eq!((s.kept_bytes, s.kept_assets, s.total_bytes), (700, 2, 1000));
    }
}

/// A link, FIFO or directory planted as the marker is never taken for
/// one nor followed: the asset is not kept, an open does not block, and
/// `keep` replaces the planted entry (never its target) or refuses it.
#[test]
fn a_planted_marker_is_never_taken_for_one_nor_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    fs::write(&target, b"precious").unwrap();
    let cache = open_with(dir.path(), 1 << 20, None);
    for n in 1..=3 {
        cache.asset(id(n)).put_atomic(&p("a"), b"x").unwrap();
    }
    drop(cache);
    let marker = |n| asset_dir(dir.path(), &id(n)).join(MARKER);
    std::os::unix::fs::symlink(&target, marker(1)).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        marker(2),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    fs::create_dir(marker(3)).unwrap();
    let cache = open_with(dir.path(), 1 << 20, None);
    assert!(kept_ids(&cache).is_empty());
    assert_eq!(cache.stats().unwrap().file_count, 3);
    cache.asset(id(1)).keep().unwrap();
    cache.asset(id(2)).keep().unwrap();
    assert!(matches!(
        cache.asset(id(3)).keep().unwrap_err(),
        CacheError::Unexpected { .. }
    ));
    assert_eq!(fs::read(&target).unwrap(), b"precious");
    for n in [1, 2] {
        assert!(fs::symlink_metadata(marker(n)).unwrap().is_file());
    }
    assert_eq!(kept_ids(&cache), {
        let mut v = vec![id(1), id(2)];
        v.sort();
        v
    });
}

/// A power cut after any file-system operation of keeps, unkeeps and
/// `Buffered` puts (none of the puts synced): every keep or unkeep that
/// returned before the cut holds after it, under a journaling file
/// system's order and under the strict model (only what a sync made
/// durable), with the index lost or not.
#[cfg(target_os = "linux")]
#[test]
fn a_returned_keep_or_unkeep_survives_a_power_cut_after_every_operation() {
    use kithara_cache::fuzzing::power::{self, Crash, Model};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open(
        CacheOptions::new(dir.path())
            .max_bytes(1 << 30)
            .durability(Durability::Buffered)
            .flush_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let baseline = Model::from_disk(dir.path()).unwrap();
    power::arm(dir.path());
    // (asset, kept after the call, operations before it, after it)
    let mut calls = Vec::new();
    let mut rng = StdRng::seed_from_u64(17);
    for round in 0..16u64 {
        let n = rng.random_range(1..4);
        let asset = cache.asset(id(n));
        if rng.random_bool(0.5) {
            let path = p(&format!("v0/seg/{}.ts", rng.random_range(0..3)));
            asset.put_atomic(&path, &payload(round, 300)).unwrap();
            continue;
        }
        let kept = rng.random_bool(0.6);
        let start = power::recorded();
        if kept {
            asset.keep().unwrap();
        } else {
            asset.unkeep().unwrap();
        }
        calls.push((id(n), kept, start, power::recorded()));
        if round % 6 == 5 {
            cache.flush().unwrap();
        }
    }
    let ops = power::disarm();
    drop(cache);
    assert!(calls.iter().any(|c| c.1) && calls.iter().any(|c| !c.1));
    for cut in 0..=ops.len() {
        let mut model = baseline.clone();
        for op in &ops[..cut] {
            model.apply(op);
        }
        for crash in [Crash::Ordered, Crash::Strict] {
            let state = tempfile::tempdir().unwrap();
            model.materialize(crash, state.path()).unwrap();
            let cache = open_with(state.path(), 1 << 30, None);
            for n in 1..4 {
                // The last call that returned before the cut, unless one
                // was still running at it.
                let mine: Vec<_> = calls.iter().filter(|c| c.0 == id(n)).collect();
                if mine.iter().any(|c| c.2 < cut && cut < c.3) {
                    continue;
                }
                let expected = mine.iter().rev().find(|c| c.3 <= cut).is_some_and(|c| c.1);
                let kept = cache.asset(id(n)).info().is_some_and(|i| i.kept);
                assert_eq!(
                    kept,
                    expected,
                    "asset {n}, cut after {cut} of {}, {crash:?}",
                    ops.len()
                );
            }
        }
    }
}
