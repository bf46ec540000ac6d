//! Workload 2: hit read (open + read to end) of a 64 KiB resource.
//!
//! 32 resources are written once and read in rotation; all are in the page
//! cache, so this measures the software path to the bytes.

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use kithara_cache::{CachePath, Durability};

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{self, KIB, asset_id, payload, seg};
use crate::raw::{self, RawWriter};

const SLOTS: usize = 32;
const LEN: usize = 64 * KIB;

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    let data = payload(LEN, 2);
    let id = asset_id("hit", 0);
    let mut g = cfg.group(c, "hit_64KiB");
    g.throughput(Throughput::Bytes(LEN as u64));

    {
        let dir = scratch("hit-raw");
        let seg_dir = raw::asset_dir(dir.path(), &id).join("v0").join("seg");
        std::fs::create_dir_all(&seg_dir).expect("create dirs");
        let paths: Vec<PathBuf> = (0..SLOTS)
            .map(|n| seg_dir.join(format!("{n:06}.ts")))
            .collect();
        let mut w = RawWriter::default();
        for p in &paths {
            w.put(p, &data, false).expect("raw put");
        }
        let mut i = 0usize;
        g.bench_function("raw_read", |b| {
            b.iter(|| {
                let p = &paths[i % SLOTS];
                i += 1;
                black_box(raw::read(p).expect("raw read"));
            });
        });
    }

    {
        let dir = scratch("hit-kithara");
        let cache = fixture::open(dir.path(), Durability::Buffered);
        let handle = cache.asset(id);
        let paths: Vec<CachePath> = (0..SLOTS).map(seg).collect();
        for p in &paths {
            handle.put_atomic(p, &data).expect("kithara put");
        }
        let mut i = 0usize;
        g.bench_function("kithara_read", |b| {
            b.iter(|| {
                let p = &paths[i % SLOTS];
                i += 1;
                black_box(handle.read(p).expect("kithara read").expect("hit"));
            });
        });
        g.bench_function("kithara_open_read_to_end", |b| {
            b.iter(|| {
                let p = &paths[i % SLOTS];
                i += 1;
                let mut reader = handle.open(p).expect("kithara open").expect("hit");
                let mut buf = Vec::with_capacity(usize::try_from(reader.len()).expect("fits"));
                reader.read_to_end(&mut buf).expect("read");
                black_box(buf);
            });
        });
    }

    {
        let dir = scratch("hit-cacache");
        let keys: Vec<String> = (0..SLOTS).map(|n| format!("hit/{n}")).collect();
        for (n, k) in keys.iter().enumerate() {
            // Distinct bytes per key, like distinct segments.
            cacache::write_sync(dir.path(), k, payload(LEN, 100 + n as u64)).expect("cacache put");
        }
        let mut i = 0usize;
        g.bench_function("cacache_read_sync", |b| {
            b.iter(|| {
                let k = &keys[i % SLOTS];
                i += 1;
                black_box(cacache::read_sync(dir.path(), k).expect("cacache read"));
            });
        });
    }
    g.finish();
}
