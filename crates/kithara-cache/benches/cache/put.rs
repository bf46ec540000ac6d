//! Workload 1: put of 64 KiB and 1 MiB resources.
//!
//! Every variant rotates over the same 32 destinations of one asset, so after
//! the warm-up each put replaces an existing file (the common case of a
//! re-downloaded segment) and no directory is created in the measured loop.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use kithara_cache::{CachePath, Durability};

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{self, KIB, MIB, asset_id, payload, seg, settle};
use crate::raw::{self, RawWriter};

const SLOTS: usize = 32;

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    for (label, len) in [("64KiB", 64 * KIB), ("1MiB", MIB)] {
        let data = payload(len, 1);
        let mut g = cfg.group(c, &format!("put_{label}"));
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
            std::fs::create_dir_all(&seg_dir).expect("create dirs");
            let dests: Vec<PathBuf> = (0..SLOTS)
                .map(|n| seg_dir.join(format!("{n:06}.ts")))
                .collect();
            let mut w = RawWriter::default();
            let mut i = 0usize;
            g.bench_function(name, |b| {
                settle();
                b.iter(|| {
                    let dest = &dests[i % SLOTS];
                    i += 1;
                    w.put(dest, &data, sync).expect("raw put");
                    if dir_sync {
                        raw::sync_dir(&seg_dir).expect("sync dir");
                    }
                });
            });
        }

        for (name, durability) in [
            ("kithara_buffered", Durability::Buffered),
            ("kithara_sync", Durability::Sync),
        ] {
            let dir = scratch("put-kithara");
            let cache = fixture::open(dir.path(), durability);
            let handle = cache.asset(id);
            let mut i = 0usize;
            g.bench_function(name, |b| {
                settle();
                b.iter(|| {
                    let path = &cache_paths[i % SLOTS];
                    i += 1;
                    black_box(handle.put_atomic(path, &data).expect("kithara put"));
                });
            });
        }

        {
            let dir = scratch("put-cacache");
            let keys: Vec<String> = (0..SLOTS).map(|n| format!("put/{n}")).collect();
            let mut i = 0usize;
            g.bench_function("cacache_write_sync", |b| {
                settle();
                b.iter(|| {
                    let key = &keys[i % SLOTS];
                    i += 1;
                    black_box(cacache::write_sync(dir.path(), key, &data).expect("cacache put"));
                });
            });
        }
        g.finish();
    }
}
