//! Workload 7 of BENCHMARKS.md: peak RSS of reading a whole VOD, 30 vs 300
//! segments of 64 KiB, must not grow with the track length.
//!
//! ```sh
//! cargo run --release -p kithara-hls --example rss_probe
//! ```
//!
//! The parent starts the loopback origin and, for every track length and
//! mode, runs a fresh child (this binary, `child <mode> <url> <bytes> <dir>`),
//! which reads the stream like a player (64 KiB reads into one buffer, nothing
//! kept) and prints its `VmHWM` (peak RSS) from `/proc/self/status`. A child
//! that only builds the runtime (`idle`) gives the fixed cost of the process.
//! The origin's content lives in the parent, so it is not in the figures.
//!
//! Modes: `memory-1MiB` / `memory-64MiB` (`CacheMode::Memory`, segments in a
//! bounded memory cache of that size; 64 MiB is the default and holds a whole
//! 300-segment track), `persistent` (cold, through a fresh on-disk cache,
//! `Durability::Buffered`), `offline` (warm, the same cache, no network).
//! `KITHARA_BENCH_DIR=/path` chooses where the cache goes;
//! `KITHARA_RSS_SEGMENTS=30,300,3000` the track lengths (default `30,300`).
//!
//! To look inside one child with a heap profiler, start the origin on its own
//! (`rss_probe serve <segments> [<segment size>]` prints the master URL and the stream's length,
//! then serves until its stdin closes) and run the child under the profiler:
//! `heaptrack rss_probe child offline <url> <bytes> <cache dir>`.

use std::path::Path;
use std::process::Command;

use kithara_cache::{CacheOptions, Durability};
use kithara_hls::{AssetCache, CacheMode, HlsOptions, HlsSession};
use kithara_test_utils::bench::scratch_base;
use kithara_test_utils::{HlsOrigin, OriginConfig};

const SEGMENT_SIZE: usize = 64 * 1024;
/// Track lengths compared (the first is the reference); override with
/// `KITHARA_RSS_SEGMENTS=30,300,3000`.
const LENGTHS: [usize; 2] = [30, 300];
const MODES: [&str; 5] = [
    "idle",
    "memory-1MiB",
    "memory-64MiB",
    "persistent",
    "offline",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child") => child(
            &args[2],
            &args[3],
            args[4].parse().expect("bytes"),
            Path::new(&args[5]),
        ),
        Some("serve") => serve(
            args[2].parse().expect("segments"),
            args.get(3)
                .map_or(SEGMENT_SIZE, |s| s.parse().expect("segment size")),
        ),
        _ => parent(),
    }
}

fn origin(segments: usize, size: usize) -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(segments)
            .segment_size(size),
    )
    .expect("origin")
}

/// Serves a track of `segments` until stdin closes, so that a child can run
/// under a profiler without the origin's memory in its figures.
fn serve(segments: usize, size: usize) {
    let origin = origin(segments, size);
    println!(
        "{} {}",
        origin.master_url(),
        origin.expected_stream(0).len()
    );
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new()).expect("stdin");
    origin.stop();
}

/// Peak and current RSS of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn child(mode: &str, url: &str, expected: u64, dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut read = 0u64;
    if mode != "idle" {
        let cache = |durability| {
            AssetCache::open(
                CacheOptions::new(dir)
                    .max_bytes(1 << 40)
                    .durability(durability),
            )
            .expect("open cache")
        };
        let (options, cache) = match mode {
            "memory-1MiB" | "memory-64MiB" => (
                HlsOptions::new().cache(CacheMode::Memory {
                    max_bytes: if mode == "memory-1MiB" {
                        1 << 20
                    } else {
                        64 << 20
                    },
                    resource_root: None,
                }),
                None,
            ),
            "persistent" | "offline" => {
                let c = cache(Durability::Buffered);
                (
                    HlsOptions::new()
                        .cache(CacheMode::Persistent(c.clone()))
                        .offline(mode == "offline"),
                    Some(c),
                )
            }
            other => panic!("unknown mode {other}"),
        };
        read = rt.block_on(async {
            let mut s = HlsSession::open(url, options).await.expect("open session");
            let mut buf = vec![0u8; 64 * 1024];
            let mut n = 0u64;
            loop {
                let got = s.read(&mut buf).await.expect("read");
                if got == 0 {
                    break;
                }
                n += got as u64;
            }
            s.close().await;
            n
        });
        drop(cache);
        assert_eq!(read, expected, "{mode}: read the wrong number of bytes");
    }
    let (hwm, rss) = rss_kib();
    println!("{hwm} {rss} {read}");
}

fn lengths() -> Vec<usize> {
    match std::env::var("KITHARA_RSS_SEGMENTS") {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("KITHARA_RSS_SEGMENTS: comma-separated counts")
            })
            .collect(),
        _ => LENGTHS.to_vec(),
    }
}

fn parent() {
    let exe = std::env::current_exe().expect("current exe");
    let lengths = lengths();
    // peak[length][mode]
    let mut peak = vec![[0u64; MODES.len()]; lengths.len()];
    for (li, &segments) in lengths.iter().enumerate() {
        let origin = origin(segments, SEGMENT_SIZE);
        let url = origin.master_url().to_string();
        let bytes = origin.expected_stream(0).len();
        std::fs::create_dir_all(scratch_base()).expect("bench dir");
        let dir = tempfile::Builder::new()
            .prefix("kithara-rss-")
            .tempdir_in(scratch_base())
            .expect("scratch dir");
        for (mi, mode) in MODES.iter().enumerate() {
            let out = Command::new(&exe)
                .args(["child", mode, &url, &bytes.to_string()])
                .arg(dir.path())
                .output()
                .expect("run child");
            assert!(
                out.status.success(),
                "child {mode} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let hwm: u64 = line
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .expect("child output");
            peak[li][mi] = hwm;
        }
        origin.stop();
    }

    let mib = |kib: u64| kib as f64 / 1024.0;
    let a = lengths[0];
    for &b in &lengths[1..] {
        let li = lengths.iter().position(|&l| l == b).expect("length");
        println!(
            "| mode | peak RSS, {a} segments | peak RSS, {b} segments | {b}/{a} | above idle, {a} | above idle, {b} | growth ({b} − {a}) |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (mi, mode) in MODES.iter().enumerate() {
            let (s, l) = (peak[0][mi], peak[li][mi]);
            let (is, il) = (s.saturating_sub(peak[0][0]), l.saturating_sub(peak[li][0]));
            println!(
                "| {mode} | {:.1} MiB | {:.1} MiB | {:.2}x | {:.1} MiB | {:.1} MiB | {:+.1} MiB |",
                mib(s),
                mib(l),
                l as f64 / s as f64,
                mib(is),
                mib(il),
                mib(l) - mib(s),
            );
        }
        println!();
    }
}
