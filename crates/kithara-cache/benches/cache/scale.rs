//! Workload 3: put and hit of a 64 KiB resource with 100, 10,000 and 100,000
//! assets already in the cache (each holding one 1 KiB file).
//!
//! The fixture of each size is built once, through the public API, and shared
//! by the put and the hit benchmarks of that size; the cache is then reopened
//! with the default settings (index flushed every second), so the steady-state
//! cost of keeping the index is part of the measurement. The raw baseline
//! writes and reads beside the same files, in the same (equally full) tree.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput};
use kithara_cache::{AssetCache, AssetHandle, CacheOptions, CachePath, Durability};
use tempfile::TempDir;

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{KIB, asset_id, payload, populate, seg, settle};
use crate::raw::{self, RawWriter};

const TARGETS: usize = 32;
const LEN: usize = 64 * KIB;

struct Fixture {
    // Dropped in this order: the handles (and with them the cache), then the directory.
    targets: Vec<AssetHandle>,
    path: CachePath,
    raw_paths: Vec<PathBuf>,
    writer: RawWriter,
    next: usize,
    _dir: TempDir,
}

impl Fixture {
    fn new(n: usize, data: &[u8]) -> Self {
        let dir = scratch("scale");
        populate(dir.path(), "scale", n, 1, KIB, false);
        let cache =
            AssetCache::open(CacheOptions::new(dir.path()).durability(Durability::Buffered))
                .expect("reopen");
        assert_eq!(cache.stats().expect("stats").asset_count, n);
        // Targets spread over the whole population (and over the LRU order).
        let ids: Vec<_> = (0..TARGETS)
            .map(|j| asset_id("scale", j * n / TARGETS))
            .collect();
        let targets: Vec<AssetHandle> = ids.iter().map(|id| cache.asset(*id)).collect();
        let path = seg(1);
        for t in &targets {
            t.put_atomic(&path, data).expect("seed put");
        }
        let mut writer = RawWriter::default();
        let raw_paths: Vec<PathBuf> = ids
            .iter()
            .map(|id| {
                raw::asset_dir(dir.path(), id)
                    .join("v0")
                    .join("seg")
                    .join("raw.ts")
            })
            .collect();
        for p in &raw_paths {
            writer.put(p, data, false).expect("seed raw put");
        }
        Self {
            targets,
            path,
            raw_paths,
            writer,
            next: 0,
            _dir: dir,
        }
    }

    fn slot(&mut self) -> usize {
        self.next += 1;
        self.next % TARGETS
    }
}

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    let data = payload(LEN, 5);
    for n in cfg.scale_sizes {
        let mut fx: Option<Fixture> = None;
        {
            let mut g = cfg.group(c, "scale_put_64KiB");
            g.throughput(Throughput::Bytes(LEN as u64));
            g.bench_function(BenchmarkId::new("raw", n), |b| {
                settle();
                let fx = fx.get_or_insert_with(|| Fixture::new(n, &data));
                b.iter(|| {
                    let s = fx.slot();
                    fx.writer
                        .put(&fx.raw_paths[s], &data, false)
                        .expect("raw put");
                });
            });
            g.bench_function(BenchmarkId::new("kithara", n), |b| {
                settle();
                let fx = fx.get_or_insert_with(|| Fixture::new(n, &data));
                b.iter(|| {
                    let s = fx.slot();
                    black_box(fx.targets[s].put_atomic(&fx.path, &data).expect("put"));
                });
            });
            g.finish();
        }
        {
            let mut g = cfg.group(c, "scale_hit_64KiB");
            g.throughput(Throughput::Bytes(LEN as u64));
            g.bench_function(BenchmarkId::new("raw", n), |b| {
                settle();
                let fx = fx.get_or_insert_with(|| Fixture::new(n, &data));
                b.iter(|| {
                    let s = fx.slot();
                    black_box(raw::read(&fx.raw_paths[s]).expect("raw read"));
                });
            });
            g.bench_function(BenchmarkId::new("kithara", n), |b| {
                settle();
                let fx = fx.get_or_insert_with(|| Fixture::new(n, &data));
                b.iter(|| {
                    let s = fx.slot();
                    black_box(fx.targets[s].read(&fx.path).expect("read").expect("hit"));
                });
            });
            g.finish();
        }
        // Deletes this size's tree before the next one is built.
        drop(fx);
    }
}
