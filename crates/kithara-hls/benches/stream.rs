//! Workload 6 of BENCHMARKS.md: a 300-segment VOD (64 KiB segments, one
//! variant, clear) served by the loopback origin of `kithara-test-utils`.
//!
//! * `cold_memory`: open + `read_to_end` + close with
//!   `CacheMode::Memory { max_bytes: 64 MiB, resource_root: None }` (nothing
//!   on disk): the baseline of the cold reads.
//! * `cold_persistent_buffered` / `cold_persistent_sync`: the same through a
//!   fresh on-disk `AssetCache` (`Durability::Buffered` / `Sync`, the
//!   default). Overhead of persisting = cold persistent / cold memory
//!   (target ≤ 1.2x).
//! * `cold_memory_raw_writes`: the memory session while a thread behind the
//!   reader writes the same 300 segment files with raw `std::fs` (temp file +
//!   `rename` each, like the cache, at most 8 queued): the same network and
//!   disk work with no cache software, i.e. the floor of a persisting cold
//!   read on this machine. Cold persistent / this = the software's share.
//! * `warm_offline`: `HlsOptions::offline(true)` on the filled cache, from the
//!   page cache (target ≥ 1 GB/s).
//! * `raw_fs_read`: `std::fs::read` of every cached segment file, appended to
//!   one buffer: the ceiling of the warm read.
//!
//! After criterion, the four cold reads run again in rotation (12 rounds,
//! quick: 4), so that each meets the same moments of a disk whose speed
//! drifts; their medians are a second table of the summary.
//!
//! Every read lands in the same pre-sized, reused buffer and is checked once
//! against the origin's bytes before measuring. Before every cold iteration
//! the bench runs `sync` (untimed), so a read does not pay for the writeback
//! of the one before it.
//!
//! `KITHARA_BENCH_QUICK=1`: shorter measurements; `KITHARA_BENCH_DIR=/path`:
//! where the cache directories go (default: the system temp dir). At the end
//! the run prints the table of ratios and saves it as
//! `<criterion home>/kithara-stream-summary.md`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, SamplingMode, Throughput};
use kithara_cache::{CacheOptions, Durability};
use kithara_hls::{AssetCache, CacheMode, HlsOptions, HlsSession};
use kithara_test_utils::bench::{Medians, met, scratch, x};
use kithara_test_utils::{HlsOrigin, OriginConfig};
use tokio::runtime::Runtime;

const SEGMENTS: usize = 300;
const SEGMENT_SIZE: usize = 64 * 1024;
const GROUP: &str = "stream_300x64KiB";
/// The memory mode's bound: more than the whole track, as in the default.
const MEMORY_MAX_BYTES: u64 = 64 << 20;
/// No eviction in the persistent cache.
const HUGE: u64 = 1 << 40;

fn quick() -> bool {
    std::env::var("KITHARA_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Writes back every dirty page, outside any measurement.
fn settle() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("cannot run sync: {e}");
    }
}

fn open_cache(root: &Path, durability: Durability) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(HUGE)
            .durability(durability),
    )
    .expect("open cache")
}

fn memory() -> HlsOptions {
    HlsOptions::new().cache(CacheMode::Memory {
        max_bytes: MEMORY_MAX_BYTES,
        resource_root: None,
    })
}

fn persistent(cache: &AssetCache) -> HlsOptions {
    HlsOptions::new().cache(CacheMode::Persistent(cache.clone()))
}

/// Open a session, read the whole stream into `out` (cleared first), close.
fn read_stream(rt: &Runtime, url: &str, options: HlsOptions, out: &mut Vec<u8>) {
    out.clear();
    rt.block_on(async {
        let mut s = HlsSession::open(url, options).await.expect("open session");
        s.read_to_end(out).await.expect("read stream");
        s.close().await;
    });
}

/// Like [`read_stream`] with the memory cache, while a thread writes each
/// segment the reader has passed to `dir` as a temp file renamed into place.
fn read_stream_raw_writes(
    rt: &Runtime,
    url: &str,
    expected: &Arc<Vec<u8>>,
    dir: &Path,
    out: &mut Vec<u8>,
) {
    out.clear();
    // Bounded like the session's own write-behind.
    let (tx, rx) = mpsc::sync_channel::<usize>(8);
    let seg_dir = dir.join("seg");
    let bytes = Arc::clone(expected);
    let writer = std::thread::spawn(move || {
        std::fs::create_dir_all(&seg_dir).expect("create seg dir");
        for i in rx {
            let part = &bytes[i * SEGMENT_SIZE..((i + 1) * SEGMENT_SIZE).min(bytes.len())];
            let temp = seg_dir.join(format!(".{i}.tmp"));
            std::fs::write(&temp, part).expect("raw write");
            std::fs::rename(&temp, seg_dir.join(format!("{i:06}.ts"))).expect("raw rename");
        }
    });
    rt.block_on(async {
        let mut s = HlsSession::open(url, memory()).await.expect("open session");
        let mut buf = vec![0u8; SEGMENT_SIZE];
        let mut sent = 0;
        loop {
            let n = s.read(&mut buf).await.expect("read stream");
            out.extend_from_slice(&buf[..n]);
            let done = if n == 0 {
                SEGMENTS
            } else {
                out.len() / SEGMENT_SIZE
            };
            while sent < done {
                tx.send(sent).expect("writer alive");
                sent += 1;
            }
            if n == 0 {
                break;
            }
        }
        s.close().await;
    });
    drop(tx);
    writer.join().expect("raw writer");
}

/// The cold reads, each from an empty cache (and page cache written back).
#[derive(Clone, Copy)]
enum Cold {
    Memory,
    MemoryRawWrites,
    Persistent(Durability),
}

const COLD: [Cold; 4] = [
    Cold::Memory,
    Cold::MemoryRawWrites,
    Cold::Persistent(Durability::Buffered),
    Cold::Persistent(Durability::Sync),
];

impl Cold {
    fn id(self) -> &'static str {
        match self {
            Cold::Memory => "cold_memory",
            Cold::MemoryRawWrites => "cold_memory_raw_writes",
            Cold::Persistent(Durability::Buffered) => "cold_persistent_buffered",
            Cold::Persistent(_) => "cold_persistent_sync",
        }
    }
}

/// What a cold read needs.
struct Origin<'a> {
    rt: &'a Runtime,
    url: &'a str,
    expected: &'a Arc<Vec<u8>>,
}

impl Origin<'_> {
    /// One timed cold read; the cache and scratch directory are made and
    /// removed outside the timing.
    fn cold(&self, cold: Cold, out: &mut Vec<u8>) -> Duration {
        let dir = scratch("stream-cold");
        let cache = match cold {
            Cold::Persistent(durability) => Some(open_cache(dir.path(), durability)),
            _ => None,
        };
        settle();
        let start = Instant::now();
        match (cold, &cache) {
            (Cold::MemoryRawWrites, _) => {
                read_stream_raw_writes(self.rt, self.url, self.expected, dir.path(), out);
            }
            (_, Some(cache)) => read_stream(self.rt, self.url, persistent(cache), out),
            _ => read_stream(self.rt, self.url, memory(), out),
        }
        let t = start.elapsed();
        drop(cache);
        drop(dir);
        t
    }
}

/// Median times (ms) of `rounds` rounds of the cold reads in rotation, so
/// that every variant meets the same moments of a disk whose speed drifts
/// (criterion measures one variant after the other).
fn interleaved(src: &Origin<'_>, rounds: usize, out: &mut Vec<u8>) -> Vec<(&'static str, f64)> {
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); COLD.len()];
    for _ in 0..rounds {
        for (i, cold) in COLD.iter().enumerate() {
            times[i].push(src.cold(*cold, out).as_secs_f64() * 1e3);
        }
    }
    COLD.iter()
        .zip(times)
        .map(|(cold, mut t)| {
            t.sort_by(f64::total_cmp);
            (cold.id(), t[t.len() / 2])
        })
        .collect()
}

/// The cached segment files under `root`, in playlist order.
fn segment_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = e.path();
            if e.file_type().expect("file type").is_dir() {
                stack.push(p);
            } else if p.parent().is_some_and(|d| d.ends_with("v0/seg")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn raw_read(files: &[PathBuf], out: &mut Vec<u8>) {
    out.clear();
    for f in files {
        out.extend_from_slice(&std::fs::read(f).expect("raw read"));
    }
}

fn main() {
    let started = SystemTime::now();
    let quick = quick();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(SEGMENTS)
            .segment_size(SEGMENT_SIZE),
    )
    .expect("origin");
    let url = origin.master_url().to_string();
    let expected = Arc::new(origin.expected_stream(0));
    let total = expected.len();
    let mut out = Vec::with_capacity(total);

    // Check every variant once, and fill the cache of the warm reads.
    read_stream(&rt, &url, memory(), &mut out);
    assert!(out == *expected, "memory mode read wrong bytes");
    let warm_dir = scratch("stream-warm");
    let warm_cache = open_cache(warm_dir.path(), Durability::Buffered);
    read_stream(&rt, &url, persistent(&warm_cache), &mut out);
    assert!(out == *expected, "persistent mode read wrong bytes");
    read_stream(&rt, &url, persistent(&warm_cache).offline(true), &mut out);
    assert!(out == *expected, "offline read wrong bytes");
    let files = segment_files(warm_dir.path());
    assert_eq!(files.len(), SEGMENTS, "cached segment files");
    raw_read(&files, &mut out);
    assert!(out == *expected, "raw read of the cached files differs");
    let raw_dir = scratch("stream-raw-check");
    read_stream_raw_writes(&rt, &url, &expected, raw_dir.path(), &mut out);
    assert!(
        out == *expected,
        "memory read beside raw writes read wrong bytes"
    );
    let raw_files = std::fs::read_dir(raw_dir.path().join("seg")).expect("raw seg dir");
    assert_eq!(raw_files.count(), SEGMENTS, "raw segment files");
    drop(raw_dir);

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group(GROUP);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(if quick { 300 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 1000 } else { 3000 }))
        .throughput(Throughput::Bytes(total as u64));

    let src = Origin {
        rt: &rt,
        url: &url,
        expected: &expected,
    };
    for cold in COLD {
        g.bench_function(cold.id(), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| src.cold(cold, &mut out)).sum());
        });
    }

    settle();
    g.bench_function("warm_offline", |b| {
        b.iter(|| {
            read_stream(&rt, &url, persistent(&warm_cache).offline(true), &mut out);
            black_box(out.len())
        });
    });

    g.bench_function("raw_fs_read", |b| {
        b.iter(|| {
            raw_read(&files, &mut out);
            black_box(out.len())
        });
    });
    g.finish();
    c.final_summary();
    let interleaved = interleaved(&src, if quick { 4 } else { 12 }, &mut out);
    drop(warm_cache);
    origin.stop();
    summary(total, quick, started, &interleaved);
}

fn ms(ns: Option<f64>) -> String {
    ns.map_or("—".into(), |ns| format!("{:.1} ms", ns / 1e6))
}

fn gbps(bytes: usize, ns: Option<f64>) -> Option<f64> {
    ns.map(|ns| bytes as f64 / ns)
}

fn summary(total: usize, quick: bool, since: SystemTime, interleaved: &[(&str, f64)]) {
    let medians = Medians::since(since);
    let t = |id: &str| medians.ns(GROUP, id);
    let mem = t("cold_memory");
    let floor = t("cold_memory_raw_writes");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# kithara-hls stream benchmark summary{}\n",
        if quick { " (KITHARA_BENCH_QUICK)" } else { "" }
    );
    let _ = writeln!(
        s,
        "{SEGMENTS} segments x {} KiB = {total} B; medians of this run; GB = 10^9 B.\n",
        SEGMENT_SIZE / 1024
    );
    let _ = writeln!(
        s,
        "| read | time | throughput | vs cold_memory | target | met? | vs cold_memory_raw_writes (floor) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for (id, target) in [
        ("cold_memory", None),
        ("cold_memory_raw_writes", None),
        ("cold_persistent_buffered", Some(1.2)),
        ("cold_persistent_sync", Some(1.2)),
    ] {
        let tk = t(id);
        let r = tk.zip(mem).map(|(a, b)| a / b);
        let _ = writeln!(
            s,
            "| {id} | {} | {} | {} | {} | {} | {} |",
            ms(tk),
            gbps(total, tk).map_or("—".into(), |g| format!("{g:.2} GB/s")),
            x(r),
            target.map_or(String::new(), |l| format!("≤ {l:.1}x")),
            target.map_or("", |l| met(r.map(|r| r <= l))),
            x(tk.zip(floor).map(|(a, b)| a / b)),
        );
    }
    let raw = t("raw_fs_read");
    for (id, target) in [("warm_offline", Some(1.0)), ("raw_fs_read", None)] {
        let tk = t(id);
        let g = gbps(total, tk);
        let _ = writeln!(
            s,
            "| {id} | {} | {} | {} of raw_fs_read | {} | {} |",
            ms(tk),
            g.map_or("—".into(), |g| format!("{g:.2} GB/s")),
            x(tk.zip(raw).map(|(a, b)| b / a)),
            target.map_or(String::new(), |l| format!("≥ {l:.1} GB/s")),
            target.map_or("", |l| met(g.map(|g| g >= l))),
        );
    }
    let _ = writeln!(
        s,
        "\nThe cold reads again, {} rounds in rotation (medians):\n",
        if quick { 4 } else { 12 }
    );
    let _ = writeln!(s, "| read | time | vs cold_memory | vs floor |");
    let _ = writeln!(s, "|---|---|---|---|");
    let of = |id: &str| interleaved.iter().find(|(i, _)| *i == id).map(|(_, t)| *t);
    for (id, t) in interleaved {
        let _ = writeln!(
            s,
            "| {id} | {t:.1} ms | {} | {} |",
            x(of("cold_memory").map(|m| t / m)),
            x(of("cold_memory_raw_writes").map(|f| t / f)),
        );
    }
    println!("\n{s}");
    let out = medians.home.join("kithara-stream-summary.md");
    if std::fs::create_dir_all(&medians.home)
        .and_then(|()| std::fs::write(&out, &s))
        .is_ok()
    {
        println!("(saved as {})", out.display());
    }
}
