//! Workload 5: `AssetCache::open` on 10,000 assets / 100,000 files (1 KiB
//! each, `v0/seg/NNNNNN.ts`), with a good index and with the index deleted
//! (full rebuild). The fixture is built once. The baseline is the least any
//! reconciliation with the file system must do: read every directory and
//! stat every file. Each measured open includes closing the cache again.
//! The page cache is warm (dropping it would disturb the other users of this
//! machine), so this is the warm-open figure.

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, SamplingMode};
use kithara_cache::{AssetCache, CacheOptions};
use tempfile::TempDir;

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{KIB, populate};
use crate::raw;

const INDEX: &str = "state.json";

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    let (assets, files) = (cfg.open_assets, cfg.open_files_per_asset);
    let mut fixture: Option<TempDir> = None;
    let mut make = || -> TempDir {
        let dir = scratch("open");
        populate(dir.path(), "open", assets, files, KIB, true);
        let cache = AssetCache::open(CacheOptions::new(dir.path())).expect("open");
        assert!(
            cache.recovery().is_clean(),
            "fixture index is not clean: {:?}",
            cache.recovery()
        );
        dir
    };
    let name = format!("open_{assets}_assets_{}_files", assets * files);
    let mut g = cfg.group(c, &name);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("raw_walk", |b| {
        let root = fixture.get_or_insert_with(&mut make).path().to_path_buf();
        b.iter(|| black_box(raw::walk(&root.join("assets")).expect("walk")));
    });
    g.bench_function("kithara_open_indexed", |b| {
        let root = fixture.get_or_insert_with(&mut make).path().to_path_buf();
        b.iter(|| {
            let cache = AssetCache::open(CacheOptions::new(&root)).expect("open");
            black_box(cache.stats().expect("stats").asset_count);
        });
    });
    g.bench_function("kithara_open_read_only", |b| {
        let root = fixture.get_or_insert_with(&mut make).path().to_path_buf();
        b.iter(|| {
            let cache = AssetCache::open_read_only(&root).expect("open read-only");
            black_box(cache.stats().expect("stats").asset_count);
        });
    });
    g.bench_function("kithara_open_rebuild", |b| {
        let root = fixture.get_or_insert_with(&mut make).path().to_path_buf();
        b.iter_batched(
            || remove_index(&root),
            |()| {
                let cache = AssetCache::open(CacheOptions::new(&root)).expect("open");
                assert!(cache.recovery().index_missing);
                black_box(cache.stats().expect("stats").asset_count);
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn remove_index(root: &Path) {
    match std::fs::remove_file(root.join(INDEX)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot delete the index: {e}"),
    }
}
