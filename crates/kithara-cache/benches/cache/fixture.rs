//! Scratch directories, payloads and pre-filled caches.

use std::thread;
use std::time::{Duration, Instant};

use kithara_cache::{AssetCache, AssetId, CacheOptions, CachePath, Durability};

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;
/// Large enough that nothing is evicted unless a workload wants it.
pub const HUGE: u64 = 1 << 40;

/// Deterministic, incompressible-looking bytes.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// The id of the `n`th asset of a fixture.
pub fn asset_id(tag: &str, n: usize) -> AssetId {
    AssetId::from_key(format!("{tag}/{n}").as_bytes())
}

/// `v0/seg/NNNNNN.ts`.
pub fn seg(n: usize) -> CachePath {
    CachePath::parse(&format!("v0/seg/{n:06}.ts")).expect("valid path")
}

/// An owned cache on `dir` with the given durability and no size pressure.
pub fn open(dir: &std::path::Path, durability: Durability) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(dir)
            .max_bytes(HUGE)
            .durability(durability),
    )
    .expect("open cache")
}

/// Fills `dir` through the public API with `assets` assets of `files` files
/// of `len` bytes each (`v0/seg/NNNNNN.ts` when `nested`, else `NNNNNN.ts`),
/// then closes the cache so the index is on disk.
pub fn populate(
    dir: &std::path::Path,
    tag: &str,
    assets: usize,
    files: usize,
    len: usize,
    nested: bool,
) {
    let t = Instant::now();
    // No index rewrites while filling: the flusher would serialize a growing index every second.
    let cache = AssetCache::open(
        CacheOptions::new(dir)
            .max_bytes(HUGE)
            .durability(Durability::Buffered)
            .flush_interval(Duration::from_secs(3600)),
    )
    .expect("open cache");
    let body = payload(len, 7);
    let paths: Vec<CachePath> = (0..files)
        .map(|f| {
            if nested {
                seg(f)
            } else {
                CachePath::parse(&format!("{f:06}.ts")).expect("valid path")
            }
        })
        .collect();
    for a in 0..assets {
        let handle = cache.asset(asset_id(tag, a));
        for p in &paths {
            handle.put_atomic(p, &body).expect("populate");
        }
    }
    let stats = cache.stats().expect("stats");
    assert_eq!(
        stats.asset_count, assets,
        "fixture has the wrong asset count"
    );
    drop(cache);
    eprintln!(
        "fixture {tag}: {assets} assets x {files} files of {len} B filled in {:.1?}",
        t.elapsed()
    );
}

/// Writes back every dirty page (`sync`), outside any measurement, so that a
/// benchmark does not pay for the writeback of the one before it.
pub fn settle() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("cannot run sync: {e}");
    }
}

/// How long an ext4 without a journal (this machine's) treats a freed inode
/// as "recently deleted" (5 s once its inode table block is clean). While
/// any are, creating a file scans past them (`recently_deleted()` in the
/// inode allocator), so one benchmark that deletes files makes the creates
/// of the next one slower (seen here: the same put 18 µs after a quiet
/// spell, 26 µs right after another variant's churn).
const RECENTLY_DELETED: Duration = Duration::from_secs(6);

/// `settle`, then waits out ext4's recently-deleted window, so a benchmark
/// that creates files starts from the same file system state as the others.
/// Once per variant, not per sample.
pub fn quiesce() {
    settle();
    thread::sleep(RECENTLY_DELETED);
}
