//! Workload 1: put of 64 KiB and 1 MiB resources.
//!
//! Every variant rotates over the same 32 destinations of one asset. In the
//! `put_<size>` groups each put replaces an existing file (a re-downloaded
//! segment); in `put_<size>_new` each put makes a new one (a cache filling:
//! the destinations are removed between rounds of 32, untimed, and each
//! variant first waits out ext4's recently-deleted window, see `quiesce`).
//! No directory is created in the measured loop.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, Throughput};
use kithara_cache::{CachePath, Durability};

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{self, KIB, MIB, asset_id, payload, quiesce, seg, settle};
use crate::raw::{self, RawWriter};

const SLOTS: usize = 32;

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    for new in [false, true] {
        for (label, len) in [("64KiB", 64 * KIB), ("1MiB", MIB)] {
            let name = format!("put_{label}{}", if new { "_new" } else { "" });
            group(c, cfg, &name, len, new);
        }
    }
}

/// One group: the raw baselines, kithara, cacache, all putting `len` bytes.
/// `new`: every put makes a new resource (the slots are emptied between
/// rounds, untimed); else every put replaces one.
fn group(c: &mut Criterion, cfg: &Cfg, name: &str, len: usize, new: bool) {
    let data = payload(len, 1);
    let mut g = cfg.group(c, name);
    g.throughput(Throughput::Bytes(len as u64));
    let id = asset_id("put", 0);
    let cache_paths: Vec<CachePath> = (0..SLOTS).map(seg).collect();

    for (name, sync, dir_sync) in [
        ("raw_buffered", false, false),
        ("raw_sync", true, false),
        ("raw_sync_dirsync", true, true),
    ] {
        let dir = scratch("put-raw");
        let seg_dir = raw::asset_dir(dir.path(), &id).join("v0").join("seg");
        fs::create_dir_all(&seg_dir).expect("create dirs");
        let dests: Vec<PathBuf> = (0..SLOTS)
            .map(|n| seg_dir.join(format!("{n:06}.ts")))
            .collect();
        let mut w = RawWriter::default();
        if new {
            quiesce();
        }
        g.bench_function(name, |b| {
            settle();
            rounds(
                b,
                new,
                |slot| {
                    w.put(&dests[slot], &data, sync).expect("raw put");
                    if dir_sync {
                        raw::sync_dir(&seg_dir).expect("sync dir");
                    }
                },
                |slot| fs::remove_file(&dests[slot]).expect("raw remove"),
            );
        });
    }

    for (name, durability) in [
        ("kithara_buffered", Durability::Buffered),
        ("kithara_sync", Durability::Sync),
    ] {
        let dir = scratch("put-kithara");
        let cache = fixture::open(dir.path(), durability);
        let handle = cache.asset(id);
        if new {
            quiesce();
        }
        g.bench_function(name, |b| {
            settle();
            rounds(
                b,
                new,
                |slot| {
                    black_box(
                        handle
                            .put_atomic(&cache_paths[slot], &data)
                            .expect("kithara put"),
                    );
                },
                |slot| {
                    handle.remove(&cache_paths[slot]).expect("kithara remove");
                },
            );
        });
    }

    let dir = scratch("put-cacache");
    let keys: Vec<String> = (0..SLOTS).map(|n| format!("put/{n}")).collect();
    if new {
        quiesce();
    }
    g.bench_function("cacache_write_sync", |b| {
        settle();
        rounds(
            b,
            new,
            |slot| {
                black_box(
                    cacache::write_sync(dir.path(), &keys[slot], &data).expect("cacache put"),
                );
            },
            // Drops the key; the content stays (cacache removes content only on request).
            |slot| cacache::remove_sync(dir.path(), &keys[slot]).expect("cacache remove"),
        );
    });
    g.finish();
}

/// Times `put` over the slots in rounds of `SLOTS`; with `new`, `clear`
/// empties each slot after its round, outside the timing.
fn rounds(b: &mut Bencher, new: bool, mut put: impl FnMut(usize), mut clear: impl FnMut(usize)) {
    b.iter_custom(|iters| {
        let mut timed = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            let n = usize::try_from(iters - done).map_or(SLOTS, |left| left.min(SLOTS));
            let start = Instant::now();
            (0..n).for_each(&mut put);
            timed += start.elapsed();
            if new {
                (0..n).for_each(&mut clear);
            }
            done += n as u64;
        }
        timed
    });
}
