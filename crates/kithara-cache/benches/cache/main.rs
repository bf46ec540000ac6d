//! Criterion benchmarks of `kithara-cache` against the raw file system (the
//! physical limit) and against `cacache` (a peer), workloads 1–5 of
//! BENCHMARKS.md, and the crate's temp files against `tempfile`'s (`temp.rs`). Every figure is a ratio against a baseline measured in the
//! same run; nothing here asserts a timing.
//!
//! `cargo bench -p kithara-cache` runs everything (a few minutes);
//! `KITHARA_BENCH_QUICK=1` shrinks the fixtures and the measurement times;
//! `KITHARA_BENCH_DIR=/path` puts the scratch directories elsewhere (default:
//! the system temp dir). At the end the run prints (and saves as
//! `<criterion home>/kithara-summary.md`) the table of ratios.

mod evict;
mod fixture;
mod hit;
mod open;
mod put;
mod raw;
mod scale;
mod summary;
#[cfg(target_os = "linux")]
mod temp;

use std::time::{Duration, SystemTime};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use kithara_test_utils::bench::Medians;

/// Sizes and times of one run.
#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    pub quick: bool,
    /// Assets already present in the scaling workload.
    pub scale_sizes: [usize; 3],
    /// Assets and files per asset in the open workload.
    pub open_assets: usize,
    pub open_files_per_asset: usize,
    pub measurement: Duration,
    pub warm_up: Duration,
    /// Rounds of the puts in rotation, after criterion.
    pub rotation_rounds: usize,
}

impl Cfg {
    fn from_env() -> Self {
        let quick = std::env::var("KITHARA_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        if quick {
            Self {
                quick,
                scale_sizes: [100, 1_000, 10_000],
                open_assets: 1_000,
                open_files_per_asset: 10,
                measurement: Duration::from_millis(1500),
                warm_up: Duration::from_millis(500),
                rotation_rounds: 12,
            }
        } else {
            Self {
                quick,
                scale_sizes: [100, 10_000, 100_000],
                open_assets: 10_000,
                open_files_per_asset: 10,
                measurement: Duration::from_secs(3),
                warm_up: Duration::from_secs(1),
                rotation_rounds: 40,
            }
        }
    }

    /// A group with this run's short settings.
    pub fn group<'a>(&self, c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
        let mut g = c.benchmark_group(name);
        g.sample_size(10)
            .warm_up_time(self.warm_up)
            .measurement_time(self.measurement);
        g
    }
}

fn main() {
    let started = SystemTime::now();
    let cfg = Cfg::from_env();
    let mut c = Criterion::default().configure_from_args();
    put::bench(&mut c, &cfg);
    #[cfg(target_os = "linux")]
    temp::bench(&mut c, &cfg);
    hit::bench(&mut c, &cfg);
    scale::bench(&mut c, &cfg);
    evict::bench(&mut c, &cfg);
    open::bench(&mut c, &cfg);
    c.final_summary();
    // Only when this run measured the puts (a filter may skip them).
    let medians = Medians::since(started);
    let measured = ["put_64KiB", "put_64KiB_new"]
        .iter()
        .any(|g| medians.ns(g, "kithara_buffered").is_some());
    let rotated = if measured {
        put::rotation(cfg.rotation_rounds)
    } else {
        Vec::new()
    };
    summary::print(&cfg, started, &rotated);
}
