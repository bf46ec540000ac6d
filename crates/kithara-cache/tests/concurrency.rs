//! 8 threads of mixed operations on a small cache: the accounting stays exact,
//! the limit holds, pinned assets survive, and no reader sees a torn file.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use common::{disk_usage, files, id, p, payload, payload_is_whole};
use kithara_cache::{AssetCache, CacheError, CacheOptions, Durability, LeaseGuard};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const THREADS: u32 = 8;
const MAX_BYTES: u64 = 512 * 1024;

fn ops_per_thread() -> u32 {
    std::env::var("KITHARA_STRESS_OPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000)
}

fn allowed(e: &CacheError) -> bool {
    matches!(
        e,
        CacheError::CacheFull { .. } | CacheError::AssetInUse { .. }
    )
}

fn worker(cache: AssetCache, t: u32, ops: u32, reads: Arc<AtomicU64>) {
    let mut rng = StdRng::seed_from_u64(u64::from(t));
    let mine = cache.asset(id(1000 + t));
    let _keep = mine.pin();
    mine.put_atomic(&p("pinned.bin"), &payload(u64::from(t), 4096))
        .unwrap();
    let mut guards: Vec<LeaseGuard> = Vec::new();
    for _ in 0..ops {
        let asset = cache.asset(id(rng.random_range(0..24)));
        let path = p(&format!("r{}", rng.random_range(0..4)));
        match rng.random_range(0..100) {
            0..35 => {
                let bytes = payload(rng.random(), rng.random_range(16..24_000));
                if let Err(e) = asset.put_atomic(&path, &bytes) {
                    assert!(allowed(&e), "put: {e}");
                }
            }
            35..50 => {
                let bytes = payload(rng.random(), rng.random_range(16..24_000));
                let mut w = asset.writer(&path).unwrap();
                for chunk in bytes.chunks(4096) {
                    w.write_all(chunk).unwrap();
                }
                if let Err(e) = w.commit() {
                    assert!(allowed(&e), "commit: {e}");
                }
            }
            50..80 => {
                if let Some(bytes) = asset.read(&path).unwrap() {
                    assert!(payload_is_whole(&bytes), "a reader saw a torn file");
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
            80..88 => guards.push(asset.pin()),
            88..94 => {
                if !guards.is_empty() {
                    guards.swap_remove(rng.random_range(0..guards.len()));
                }
            }
            94..98 => {
                if let Err(e) = asset.remove_all() {
                    assert!(allowed(&e), "remove: {e}");
                }
            }
            _ => cache.flush().unwrap(),
        }
    }
    drop(guards);
    let bytes = mine
        .read(&p("pinned.bin"))
        .unwrap()
        .expect("a pinned asset was lost");
    assert!(payload_is_whole(&bytes));
}

#[test]
fn mixed_operations_from_8_threads_keep_every_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CacheOptions::new(dir.path())
        .max_bytes(MAX_BYTES)
        .durability(Durability::Buffered);
    let cache = AssetCache::open(opts).unwrap();
    let reads = Arc::new(AtomicU64::new(0));
    let ops = ops_per_thread();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cache, reads) = (cache.clone(), Arc::clone(&reads));
            thread::spawn(move || worker(cache, t, ops, reads))
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let stats = cache.stats().unwrap();
    let (bytes, count) = disk_usage(dir.path());
    assert_eq!(stats.total_bytes, bytes);
    assert_eq!(stats.file_count, count as u64);
    assert!(stats.total_bytes <= MAX_BYTES);
    assert_eq!(stats.pinned_assets, 0);
    assert!(
        reads.load(Ordering::Relaxed) > 0,
        "the readers never hit: the test proves nothing"
    );
    for f in files(&dir.path().join("assets")) {
        assert!(
            payload_is_whole(&std::fs::read(&f).unwrap()),
            "{}",
            f.display()
        );
    }
    drop(cache);
    let reopened = AssetCache::open(CacheOptions::new(dir.path())).unwrap();
    assert!(reopened.recovery().is_clean(), "{:?}", reopened.recovery());
    assert_eq!(reopened.stats().unwrap().total_bytes, bytes);
    eprintln!(
        "stress: {THREADS} threads x {ops} ops, {} hits",
        reads.load(Ordering::Relaxed)
    );
}

/// Issue 15 hole 7: removing the last asset of a shard removes the shard's
/// directory, under the engine lock, while a first write to that shard
/// creates it outside the lock. Two assets of one shard, each written and
/// removed in turn by its own thread: no write ever fails.
#[test]
fn removing_a_shard_never_fails_a_concurrent_first_write_to_it() {
    use kithara_cache::AssetId;

    let a = AssetId::from_key(b"shard-race-0");
    let b = (1u32..)
        .map(|n| AssetId::from_key(format!("shard-race-{n}").as_bytes()))
        .find(|b| b.to_hex()[..2] == a.to_hex()[..2])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = common::open(dir.path(), 1 << 20);
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|id| {
            let asset = cache.asset(id);
            std::thread::spawn(move || {
                for round in 0..400 {
                    asset
                        .put_atomic(&common::p("v0/seg/000001.ts"), b"x")
                        .unwrap_or_else(|e| panic!("round {round}: {e}"));
                    asset.remove_all().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
