//! Workload 4: a 64 KiB put that must evict 0, 1, 10 or 100 assets.
//!
//! Before each measured put (outside the timing) the previous new asset is
//! removed and `k` victim assets are written, each one file
//! `v0/seg/000000.ts` of `ceil(64 KiB / k)` bytes, filling `max_bytes`
//! exactly; the put of a new 64 KiB asset then has to evict all `k`. The
//! written bytes are the same for every `k`, so `t(k) - t(0)` is the cost of
//! the eviction. The raw baseline does the same put and removes the same
//! directories (`remove_dir_all` of each victim, then its shard if empty),
//! without choosing victims or keeping an index.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use kithara_cache::{AssetCache, CacheOptions, Durability};

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{HUGE, KIB, asset_id, payload, seg, settle};
use crate::raw::{self, RawWriter};

const LEN: usize = 64 * KIB;
pub const VICTIMS: [usize; 4] = [0, 1, 10, 100];

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    let data = payload(LEN, 3);
    let mut g = cfg.group(c, "evict_put_64KiB");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    for k in VICTIMS {
        let victim_len = if k == 0 { 0 } else { LEN.div_ceil(k) };
        let victim_body = payload(victim_len, 4);
        let path = seg(0);

        {
            let dir = scratch("evict-raw");
            let root = dir.path().to_path_buf();
            let new_dir = raw::asset_dir(&root, &asset_id("evict-new", k));
            let dest = new_dir.join("v0").join("seg").join("000000.ts");
            let mut w = RawWriter::default();
            let mut next = 0usize;
            let mut refill = || {
                if new_dir.exists() {
                    std::fs::remove_dir_all(&new_dir).expect("remove new asset");
                }
                (0..k)
                    .map(|_| {
                        next += 1;
                        let v = raw::asset_dir(&root, &asset_id("evict-victim", next));
                        let seg_dir = v.join("v0").join("seg");
                        std::fs::create_dir_all(&seg_dir).expect("create victim");
                        std::fs::write(seg_dir.join("000000.ts"), &victim_body)
                            .expect("write victim");
                        v
                    })
                    .collect::<Vec<PathBuf>>()
            };
            g.bench_function(BenchmarkId::new("raw", k), |b| {
                settle();
                b.iter_batched(
                    &mut refill,
                    |victims| {
                        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
                        w.put(&dest, &data, false).expect("raw put");
                        for v in victims {
                            std::fs::remove_dir_all(&v).expect("remove victim");
                            if let Some(shard) = v.parent() {
                                let _ = std::fs::remove_dir(shard);
                            }
                        }
                    },
                    BatchSize::PerIteration,
                );
            });
        }

        {
            let dir = scratch("evict-kithara");
            let max = if k == 0 {
                HUGE
            } else {
                (k * victim_len) as u64
            };
            let cache = AssetCache::open(
                CacheOptions::new(dir.path())
                    .max_bytes(max)
                    .durability(Durability::Buffered),
            )
            .expect("open cache");
            let new = cache.asset(asset_id("evict-new", k));
            let mut next = 0usize;
            let mut refill = || {
                cache.remove(new.id()).expect("remove new asset");
                for _ in 0..k {
                    next += 1;
                    cache
                        .asset(asset_id("evict-victim", next))
                        .put_atomic(&path, &victim_body)
                        .expect("write victim");
                }
            };
            // Not a timing check: the workload must evict exactly k assets.
            refill();
            let first = new.put_atomic(&path, &data).expect("evicting put");
            assert_eq!(first.evicted.len(), k, "the put must evict {k} assets");
            g.bench_function(BenchmarkId::new("kithara", k), |b| {
                settle();
                b.iter_batched(
                    &mut refill,
                    |()| black_box(new.put_atomic(&path, &data).expect("evicting put")),
                    BatchSize::PerIteration,
                );
            });
        }
    }
    g.finish();
}
