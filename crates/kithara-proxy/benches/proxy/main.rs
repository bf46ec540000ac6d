//! The proxy's benchmarks (issue 14, "Performance"; figures in
//! BENCHMARKS.md, "Proxy (kithara serve)"). A bench binary that drives its
//! own load and prints a summary table; no criterion.
//!
//! The proxy runs in a child process: this binary again, with
//! `KITHARA_PROXY_BENCH_SERVE=<cache dir>`, set up as `kithara serve` sets
//! itself up (tokio's default multi-thread runtime, a 1 GiB cache with the
//! default durability, one `kithara_proxy=info` log line per request to
//! stderr, here a file). All traffic is on 127.0.0.1, and every request of
//! the bench goes through one client (`client.rs`: hyper's HTTP/1.1 client
//! connection, keep-alive, on a current-thread tokio runtime, so the client
//! takes at most one of the machine's cores).
//!
//! * **warm**: the proxy caches 32 segments of 64 KiB and 32 of 1 MiB from a
//!   loopback origin (`HlsOrigin`), the origin is stopped, and nginx serves
//!   the cache's own files (its `root` is the cache directory). 1 and 16
//!   keep-alive connections ask for the segments in turn for a fixed time;
//!   requests/s, GB/s and server CPU per request, for the proxy, nginx with
//!   Debian's defaults (`sendfile on`) and nginx with `sendfile off` (a copy
//!   through user space, as the proxy does), in rotation, several rounds.
//! * **cold**: time to first byte of uncached 1 MiB segments from an origin
//!   that waits `DELAY` before each segment, directly and through the
//!   proxy; then the throughput of a cold stream (segments one after the
//!   other, as a player fetches them) from an origin without a delay, and
//!   again from the origin behind a 1 Gbit/s link (an nginx relay with
//!   `limit_rate`, the same link for every way). All also through nginx's
//!   own caching proxy (`proxy_cache`, keep-alive to the origin) as a peer,
//!   and through nginx relaying without a cache (`proxy_buffering off`):
//!   the cost of the extra hop alone, a bound no proxy on the same machine
//!   beats; the four ways in rotation.
//! * **memory**: a fresh proxy; 64 clients each stream a distinct uncached
//!   1 MiB segment, all 64 responses held open at once (each client waits
//!   after its first body piece until all have one), twice; the child's
//!   `VmHWM` (peak RSS).
//!
//! `cargo bench -p kithara-proxy [-- warm cold memory]` (any subset; all by
//! default); `64KiB`, `1MiB`, `x1`, `x16` narrow the warm cells (e.g.
//! `-- warm 64KiB x16`). `KITHARA_BENCH_QUICK=1`: fewer, shorter rounds.
//! `KITHARA_BENCH_DIR=/path`: where the caches go (default: the system temp
//! dir). `KITHARA_BENCH_WRK=1`: the warm cells once more with `wrk -t1`
//! (Debian's `wrk`) as the client, for proxy and nginx, as a cross-check.
//! The summary is printed and saved as
//! `<criterion home>/kithara-proxy-summary.md`.

mod client;
mod servers;
mod sys;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use client::{Conn, Load};
use hyper::StatusCode;
use kithara_cache::{AssetCache, CacheOptions};
use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::bench::{Medians, met, scratch, x};
use kithara_test_utils::{HlsOrigin, OriginConfig};
use servers::{Nginx, ProxyChild, SERVE_ENV, Serve};
use tokio::runtime::Runtime;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// Segments cached per size for the warm workload.
const WARM_SEGMENTS: usize = 32;
/// The origin's wait before each segment in the time-to-first-byte pairs.
const DELAY: Duration = Duration::from_millis(20);
/// Clients of the memory workload.
const MEMORY_CLIENTS: usize = 64;
/// The cache of `kithara serve` by default.
const SERVE_MAX_BYTES: u64 = 1 << 30;

fn quick() -> bool {
    std::env::var("KITHARA_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn main() {
    if let Some(dir) = std::env::var_os(SERVE_ENV) {
        serve(PathBuf::from(dir));
        return;
    }
    let started = SystemTime::now();
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let workloads = ["warm", "cold", "memory"];
    let wants = |w: &str| {
        !words.iter().any(|a| workloads.contains(&a.as_str())) || words.iter().any(|a| a == w)
    };
    if wants("warm") || wants("cold") {
        Nginx::check_installed();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# kithara-proxy benchmark summary{}\n",
        if quick() {
            " (KITHARA_BENCH_QUICK)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "{} cores; load average before: {}; code measured: {}; GB = 10^9 B, MB = 10^6 B.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        loadavg(),
        code_version()
    );
    if wants("warm") {
        // `64KiB`, `1MiB`, `x1`, `x16` narrow the warm cells.
        let only = |all: &[&str], w: &str| {
            !all.iter().any(|a| words.iter().any(|x| x == a)) || words.iter().any(|a| a == w)
        };
        let sizes: Vec<usize> = [(64 * KIB, "64KiB"), (MIB, "1MiB")]
            .into_iter()
            .filter(|(_, w)| only(&["64KiB", "1MiB"], w))
            .map(|(s, _)| s)
            .collect();
        let conns: Vec<usize> = [(1, "x1"), (16, "x16")]
            .into_iter()
            .filter(|(_, w)| only(&["x1", "x16"], w))
            .map(|(c, _)| c)
            .collect();
        warm(&rt, &mut s, &sizes, &conns);
    }
    if wants("cold") {
        cold(&rt, &mut s);
    }
    if wants("memory") {
        memory(&rt, &mut s);
    }
    let _ = writeln!(s, "load average after: {}", loadavg());
    println!("\n{s}");
    let home = Medians::since(started).home;
    let out = home.join("kithara-proxy-summary.md");
    if std::fs::create_dir_all(&home)
        .and_then(|()| std::fs::write(&out, &s))
        .is_ok()
    {
        println!("(saved as {})", out.display());
    }
}

/// Serve mode: the proxy as `kithara serve` runs it, until stdin closes.
fn serve(dir: PathBuf) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("kithara_proxy=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cache = AssetCache::open(CacheOptions::new(&dir).max_bytes(SERVE_MAX_BYTES))
        .expect("open the cache");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut opts = ProxyOptions::new(cache);
        // `KITHARA_PROXY_BENCH_LOOPS=0` serves on this runtime's workers,
        // to compare with the default (one event loop per core).
        if let Some(n) = std::env::var("KITHARA_PROXY_BENCH_LOOPS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            opts = opts.event_loops(n);
        }
        let proxy = Proxy::start(opts).await.expect("start the proxy");
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", proxy.base_url()).expect("stdout");
        out.flush().expect("stdout");
        drop(out);
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
        proxy.shutdown().await;
    });
}

/// The last commit of the measured code (the crates' `src`), and whether
/// the work tree differs from it there (the bench builds what is on disk).
fn code_version() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let crates = [
        "crates/kithara-proxy/src",
        "crates/kithara-cache/src",
        "crates/kithara-hls/src",
    ];
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .args(["--"])
            .args(crates)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match (
        git(&["log", "-1", "--format=%h"]),
        git(&["status", "--porcelain", "--untracked-files=no"]),
    ) {
        (Some(h), Some(st)) if !h.is_empty() => {
            format!(
                "{h}{}",
                if st.is_empty() {
                    ""
                } else {
                    " + uncommitted changes"
                }
            )
        }
        _ => "unknown (no git)".into(),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The URI lines of a playlist (no tags).
fn uri_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

async fn get_text(conn: &mut Conn, path: &str) -> String {
    let got = conn.get(path, true).await;
    assert_eq!(got.status, StatusCode::OK, "{path}");
    String::from_utf8(got.body.expect("kept")).expect("playlist text")
}

/// Open the origin's master through the proxy and its one variant: the
/// proxy paths of the segments, in order.
async fn playlists(
    conn: &mut Conn,
    proxy: &ProxyChild,
    master: &url::Url,
    count: usize,
) -> Vec<String> {
    let master = get_text(conn, &proxy.play_path(master)).await;
    let variant = uri_lines(&master).into_iter().next().expect("a variant");
    let media = get_text(conn, &variant).await;
    let segments = uri_lines(&media);
    assert_eq!(segments.len(), count, "segments listed");
    segments
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &r| {
            (a.min(r), b.max(r))
        })
}

fn ratio_cell(v: &[f64]) -> String {
    let (lo, hi) = range(v);
    format!("**{}** ({lo:.2}–{hi:.2}x)", x(Some(median(v))))
}

fn size_name(size: usize) -> String {
    if size >= MIB {
        format!("{} MiB", size / MIB)
    } else {
        format!("{} KiB", size / KIB)
    }
}

/// The directory named `name` under `root`.
fn find_dir(root: &Path, name: &str) -> Option<PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if e.file_name() == name {
                    return Some(e.path());
                }
                stack.push(e.path());
            }
        }
    }
    None
}

/// The file of the cache behind a proxy path `/<token>/a/<asset>/<path>`,
/// once it is committed with `len` bytes.
fn cached_file(cache_dir: &Path, proxy_path: &str, len: u64) -> PathBuf {
    let rest = proxy_path.splitn(3, '/').nth(2).expect("a/ path");
    let rest = rest.strip_prefix("a/").expect("an asset path");
    let (asset, path) = rest.split_once('/').expect("asset/path");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(dir) = find_dir(cache_dir, asset) {
            let file = dir.join(path);
            if std::fs::metadata(&file).is_ok_and(|m| m.len() == len) {
                return file;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{proxy_path} was not committed to the cache"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The cached segments of one size: their proxy paths, and the same files
/// as nginx serves them (relative to the cache directory).
struct WarmSet {
    size: usize,
    proxied: Arc<Vec<String>>,
    files: Arc<Vec<String>>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Server {
    Proxy,
    Nginx,
    NginxCopy,
}

const SERVERS: [Server; 3] = [Server::Proxy, Server::Nginx, Server::NginxCopy];

fn warm(rt: &Runtime, s: &mut String, sizes: &[usize], clients: &[usize]) {
    let quick = quick();
    let (rounds, warmup, measure) = if quick {
        (2, Duration::from_millis(200), Duration::from_millis(600))
    } else {
        (5, Duration::from_millis(300), Duration::from_secs(2))
    };
    let dir = scratch("proxy-warm");
    let cache_dir = dir.path().join("cache");
    let proxy = ProxyChild::start(&cache_dir, &dir.path().join("proxy-warm.log"));
    let mut sets: Vec<WarmSet> = Vec::new();
    for &size in sizes {
        let origin = HlsOrigin::start(
            OriginConfig::default()
                .variants(1)
                .segments(WARM_SEGMENTS)
                .segment_size(size),
        )
        .expect("origin");
        let segments = rt.block_on(async {
            let mut conn = Conn::new(proxy.addr);
            let segments = playlists(&mut conn, &proxy, &origin.master_url(), WARM_SEGMENTS).await;
            for (i, p) in segments.iter().enumerate() {
                let got = conn.get(p, true).await;
                assert_eq!(got.status, StatusCode::OK, "{p}");
                assert!(
                    got.body.as_deref() == Some(&origin.segment_served_bytes(0, i)[..]),
                    "the proxy served other bytes for {p}"
                );
            }
            segments
        });
        let files: Vec<String> = segments
            .iter()
            .map(|p| {
                let f = cached_file(&cache_dir, p, size as u64);
                let rel = f.strip_prefix(&cache_dir).expect("under the cache");
                format!("/{}", rel.display())
            })
            .collect();
        // From here on every proxy answer must be a hit.
        origin.stop();
        sets.push(WarmSet {
            size,
            proxied: Arc::new(segments),
            files: Arc::new(files),
        });
    }
    let nginx = Nginx::start(
        &dir.path().join("nginx"),
        &Serve::Files {
            root: &cache_dir,
            sendfile: true,
        },
    );
    let nginx_copy = Nginx::start(
        &dir.path().join("nginx-copy"),
        &Serve::Files {
            root: &cache_dir,
            sendfile: false,
        },
    );
    // The same bytes from all three.
    rt.block_on(async {
        for set in &sets {
            for (p, f) in set.proxied.iter().zip(set.files.iter()) {
                let a = Conn::new(proxy.addr).get(p, true).await.body;
                let b = Conn::new(nginx.addr).get(f, true).await.body;
                let c = Conn::new(nginx_copy.addr).get(f, true).await.body;
                assert!(a == b && b == c, "proxy and nginx differ on {f}");
            }
        }
    });
    let mut results: BTreeMap<(usize, usize, Server), Vec<Load>> = BTreeMap::new();
    for round in 0..rounds {
        for WarmSet {
            size,
            proxied,
            files,
        } in &sets
        {
            for &conns in clients {
                for k in 0..SERVERS.len() {
                    let server = SERVERS[(k + round) % SERVERS.len()];
                    let (addr, paths, cpu): (_, _, Box<dyn Fn() -> f64>) = match server {
                        Server::Proxy => (proxy.addr, proxied, Box::new(|| proxy.cpu_seconds())),
                        Server::Nginx => (nginx.addr, files, Box::new(|| nginx.cpu_seconds())),
                        Server::NginxCopy => (
                            nginx_copy.addr,
                            files,
                            Box::new(|| nginx_copy.cpu_seconds()),
                        ),
                    };
                    let l = rt.block_on(client::load(
                        addr,
                        Arc::clone(paths),
                        *size as u64,
                        conns,
                        warmup,
                        measure,
                        &*cpu,
                    ));
                    eprintln!(
                        "round {round} {} x{conns} {server:?}: {:.0} req/s, {:.2} GB/s, server {:.1} µs/req, client {:.1} µs/req",
                        size_name(*size),
                        l.rps(),
                        l.gbps(),
                        l.server_us(),
                        l.client_us()
                    );
                    results.entry((*size, conns, server)).or_default().push(l);
                }
            }
        }
    }
    // Optional: the same cells with wrk as the client, a check that the
    // bench's own client does not decide the ratios.
    let wrk_rows = if std::env::var_os("KITHARA_BENCH_WRK").is_some() {
        let mut rows = Vec::new();
        for set in &sets {
            for &conns in clients {
                let mut cell = Vec::new();
                for (addr, paths) in [(proxy.addr, &set.proxied), (nginx.addr, &set.files)] {
                    let script = dir.path().join("paths.lua");
                    std::fs::write(&script, wrk_script(paths)).expect("wrk script");
                    cell.push(wrk_rps(
                        addr,
                        &script,
                        conns,
                        measure.max(Duration::from_secs(1)),
                    ));
                }
                rows.push((set.size, conns, cell[0], cell[1]));
            }
        }
        rows
    } else {
        Vec::new()
    };
    let (hwm, _) = proxy.rss();
    proxy.stop();
    drop((nginx, nginx_copy));

    let _ = writeln!(
        s,
        "## Warm hits: {WARM_SEGMENTS} cached segments per size, asked in turn\n\n\
         {rounds} rounds in rotation, {:.1} s measured per cell after {:.1} s of warm-up; \
         medians of the rounds; ratios are per round (neighbours in time), median (range).\n",
        measure.as_secs_f64(),
        warmup.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "| segment | clients | proxy req/s | proxy GB/s | nginx req/s | nginx GB/s | proxy/nginx | target | met? | nginx sendfile off req/s | proxy/nginx sendfile off | server CPU µs/req: proxy / nginx / nginx sendfile off | client CPU µs/req (proxy / nginx) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for WarmSet { size, .. } in &sets {
        for &conns in clients {
            let get = |srv| &results[&(*size, conns, srv)];
            let (p, n, c) = (
                get(Server::Proxy),
                get(Server::Nginx),
                get(Server::NginxCopy),
            );
            let med =
                |v: &[Load], f: fn(&Load) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
            let ratio = |a: &[Load], b: &[Load]| -> Vec<f64> {
                a.iter().zip(b).map(|(a, b)| a.rps() / b.rps()).collect()
            };
            let r = ratio(p, n);
            let _ = writeln!(
                s,
                "| {} | {conns} | {:.0} | {:.2} | {:.0} | {:.2} | {} | ≥ 1.0x | {} | {:.0} | {} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} |",
                size_name(*size),
                med(p, Load::rps),
                med(p, Load::gbps),
                med(n, Load::rps),
                med(n, Load::gbps),
                ratio_cell(&r),
                met(Some(median(&r) >= 1.0)),
                med(c, Load::rps),
                ratio_cell(&ratio(p, c)),
                med(p, Load::server_us),
                med(n, Load::server_us),
                med(c, Load::server_us),
                med(p, Load::client_us),
                med(n, Load::client_us),
            );
        }
    }
    if !wrk_rows.is_empty() {
        let _ = writeln!(
            s,
            "\nThe same cells with `wrk -t1` as the client (one run each, proxy then nginx):\n\n\
             | segment | clients | proxy req/s | nginx req/s | proxy/nginx |\n|---|---|---|---|---|"
        );
        for (size, conns, p, n) in &wrk_rows {
            let _ = writeln!(
                s,
                "| {} | {conns} | {p:.0} | {n:.0} | {} |",
                size_name(*size),
                x(Some(p / n))
            );
        }
    }
    let reconnects: u64 = results.values().flatten().map(|l| l.reconnects).sum();
    let _ = writeln!(
        s,
        "\nReconnects: {reconnects}. Proxy peak RSS over this workload: {:.1} MiB.\n",
        hwm as f64 / MIB as f64
    );
}

/// A wrk script that asks for `paths` in turn.
fn wrk_script(paths: &[String]) -> String {
    let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "local paths = {{ {} }}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  \
         return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
        list.join(", ")
    )
}

/// Requests/s that `wrk -t1 -c<conns>` measures against `addr`.
fn wrk_rps(addr: std::net::SocketAddr, script: &Path, conns: usize, d: Duration) -> f64 {
    let out = std::process::Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{conns}"))
        .arg(format!("-d{}s", d.as_secs()))
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}/"))
        .output()
        .expect("KITHARA_BENCH_WRK is set but wrk cannot run (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

/// The ways a cold segment is fetched: from the origin, through the proxy,
/// through nginx's caching proxy (a peer, for context), and through nginx
/// relaying without a cache (what the extra hop alone costs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Direct,
    Proxy,
    NginxCache,
    NginxRelay,
}

const VIAS: [Via; 4] = [Via::Direct, Via::Proxy, Via::NginxCache, Via::NginxRelay];

/// One connection per way, and the path of segment `i` for each.
struct Ways {
    direct: Conn,
    proxy: Conn,
    nginx: Conn,
    relay: Conn,
    /// The proxy's paths; the origin and nginx take the origin's.
    proxied: Vec<String>,
}

impl Ways {
    /// Open the playlists through the proxy and one request on each
    /// connection, so that every way has its connections (nginx's and the
    /// proxy's to the origin too) open before the first measurement. The
    /// origin is at `upstream`: the origin itself, or a link in front of
    /// it (the playlists' URIs are relative, so the segments are asked
    /// there too).
    async fn open(
        proxy: &ProxyChild,
        nginx: &Nginxes,
        origin: &HlsOrigin,
        upstream: std::net::SocketAddr,
        count: usize,
    ) -> Self {
        let mut ways = Ways {
            direct: Conn::new(upstream),
            proxy: Conn::new(proxy.addr),
            nginx: Conn::new(nginx.cache.addr),
            relay: Conn::new(nginx.relay.addr),
            proxied: Vec::new(),
        };
        let mut master = origin.master_url();
        master
            .set_port(Some(upstream.port()))
            .expect("an http URL has a port");
        ways.proxied = playlists(&mut ways.proxy, proxy, &master, count).await;
        get_text(&mut ways.direct, master.path()).await;
        get_text(&mut ways.nginx, master.path()).await;
        get_text(&mut ways.relay, master.path()).await;
        ways
    }

    /// GET segment `i` (of `len` bytes) by `via`.
    async fn get(&mut self, via: Via, origin: &HlsOrigin, i: usize, len: usize) -> client::Got {
        let direct = origin.segment_path(0, i);
        let (conn, path) = match via {
            Via::Direct => (&mut self.direct, direct.as_str()),
            Via::Proxy => (&mut self.proxy, self.proxied[i].as_str()),
            Via::NginxCache => (&mut self.nginx, direct.as_str()),
            Via::NginxRelay => (&mut self.relay, direct.as_str()),
        };
        let got = conn.get(path, false).await;
        assert_eq!(
            (got.status, got.len),
            (StatusCode::OK, len as u64),
            "{via:?} {path}"
        );
        got
    }
}

/// nginx in front of one origin twice: caching, and relaying only.
struct Nginxes {
    cache: Nginx,
    relay: Nginx,
}

impl Nginxes {
    fn start(dir: &Path, origin: std::net::SocketAddr) -> Self {
        Nginxes {
            cache: Nginx::start(&dir.join("cache"), &Serve::CachingProxy { origin }),
            relay: Nginx::start(&dir.join("relay"), &Serve::Relay { origin }),
        }
    }
}

fn cold(rt: &Runtime, s: &mut String) {
    let quick = quick();
    let dir = scratch("proxy-cold");
    let cache_dir = dir.path().join("cache");
    let proxy = ProxyChild::start(&cache_dir, &dir.path().join("proxy-cold.log"));

    // Time to first byte, the four ways in rotation.
    let rounds = if quick { 10 } else { 40 };
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(rounds)
            .segment_size(MIB)
            .segment_delay(DELAY),
    )
    .expect("origin");
    let nginx = Nginxes::start(&dir.path().join("nginx-ttfb"), origin.addr());
    // Per way: (time to first byte, whole segment), ms.
    let times: Vec<Vec<(f64, f64)>> = rt.block_on(async {
        let mut ways = Ways::open(&proxy, &nginx, &origin, origin.addr(), rounds).await;
        let mut times = vec![Vec::new(); VIAS.len()];
        for i in 0..rounds {
            sys::settle();
            for k in 0..VIAS.len() {
                let w = (k + i) % VIAS.len();
                let got = ways.get(VIAS[w], &origin, i, MIB).await;
                times[w].push((got.ttfb.as_secs_f64() * 1e3, got.total.as_secs_f64() * 1e3));
            }
        }
        times
    });
    drop(nginx);
    origin.stop();
    let col = |w: usize, f: fn(&(f64, f64)) -> f64| times[w].iter().map(f).collect::<Vec<_>>();
    let diff = |w: usize, f: fn(&(f64, f64)) -> f64| -> Vec<f64> {
        col(w, f)
            .iter()
            .zip(col(0, f))
            .map(|(a, d)| a - d)
            .collect()
    };
    let ttfb = |t: &(f64, f64)| t.0;
    let whole = |t: &(f64, f64)| t.1;
    let p90 = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[(v.len() * 9 / 10).min(v.len() - 1)]
    };
    let _ = writeln!(
        s,
        "## Cold: time to first byte, uncached 1 MiB segments, origin waits {} ms before each\n\n\
         {rounds} rounds, the four ways in rotation (`sync` before each round); ms; \
         differences are per round.\n",
        DELAY.as_millis()
    );
    let _ = writeln!(
        s,
        "| | direct | proxy | proxy − direct | target | met? | nginx proxy_cache | nginx − direct | nginx relay | relay − direct |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    let (dp, dn, dr) = (diff(1, ttfb), diff(2, ttfb), diff(3, ttfb));
    let _ = writeln!(
        s,
        "| median | {:.3} | {:.3} | **{:+.3}** | ≤ +1 ms | {} | {:.3} | {:+.3} | {:.3} | {:+.3} |",
        median(&col(0, ttfb)),
        median(&col(1, ttfb)),
        median(&dp),
        met(Some(median(&dp) <= 1.0)),
        median(&col(2, ttfb)),
        median(&dn),
        median(&col(3, ttfb)),
        median(&dr),
    );
    let _ = writeln!(
        s,
        "| p90 | {:.3} | {:.3} | {:+.3} | | | {:.3} | {:+.3} | {:.3} | {:+.3} |",
        p90(&col(0, ttfb)),
        p90(&col(1, ttfb)),
        p90(&dp),
        p90(&col(2, ttfb)),
        p90(&dn),
        p90(&col(3, ttfb)),
        p90(&dr),
    );
    let ((plo, phi), (nlo, nhi), (rlo, rhi)) = (range(&dp), range(&dn), range(&dr));
    let _ = writeln!(
        s,
        "| min–max | | | {plo:+.3} – {phi:+.3} | | | | {nlo:+.3} – {nhi:+.3} | | {rlo:+.3} – {rhi:+.3} |"
    );
    let _ = writeln!(
        s,
        "| whole segment, median | {:.3} | {:.3} | {:+.3} | | | {:.3} | {:+.3} | {:.3} | {:+.3} |\n",
        median(&col(0, whole)),
        median(&col(1, whole)),
        median(&diff(1, whole)),
        median(&col(2, whole)),
        median(&diff(2, whole)),
        median(&col(3, whole)),
        median(&diff(3, whole)),
    );

    // Cold stream throughput, the four ways in rotation: from the origin
    // as fast as loopback goes, then behind a link of LINK_RATE.
    stream(rt, s, &proxy, dir.path(), None);
    stream(rt, s, &proxy, dir.path(), Some(LINK_RATE));
    proxy.stop();
}

/// The link of the second cold stream, bytes/s: 1 Gbit/s, faster than
/// the home or mobile connections players stream over.
const LINK_RATE: u64 = 125_000_000;

/// The cold stream cells: 8 MiB of uncached segments one after the other,
/// directly, through the proxy, nginx's caching proxy and nginx's relay;
/// the origin behind an nginx relay limited to `link` bytes/s per response
/// when given (the same link for all four ways).
fn stream(rt: &Runtime, s: &mut String, proxy: &ProxyChild, dir: &Path, link: Option<u64>) {
    let rounds = if quick() { 3 } else { 8 };
    let stream_bytes = 8 * MIB;
    let from = match link {
        None => "origin without delay".to_owned(),
        Some(rate) => format!(
            "origin behind a {:.1} Gbit/s link (an nginx relay with `limit_rate`)",
            rate as f64 * 8.0 / 1e9
        ),
    };
    let _ = writeln!(
        s,
        "## Cold stream: {} MiB of uncached segments one after the other, {from}\n\n\
         {rounds} rounds, the four ways in rotation (`sync` before each stream); each round \
         plays segments neither proxy has seen; medians, MB/s; ratios per round.\n",
        stream_bytes / MIB
    );
    let _ = writeln!(
        s,
        "| segment | direct | proxy | proxy/direct | target | met? | nginx proxy_cache | nginx/direct | nginx relay | relay/direct |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for size in [64 * KIB, MIB] {
        let per = stream_bytes / size;
        let origin = HlsOrigin::start(
            OriginConfig::default()
                .variants(1)
                .segments(per * rounds)
                .segment_size(size),
        )
        .expect("origin");
        let name = format!("stream-{size}-{}", link.unwrap_or(0));
        let front = link.map(|rate| {
            Nginx::start(
                &dir.join(format!("link-{name}")),
                &Serve::Link {
                    origin: origin.addr(),
                    rate,
                },
            )
        });
        let upstream = front.as_ref().map_or(origin.addr(), |f| f.addr);
        let nginx = Nginxes::start(&dir.join(format!("nginx-{name}")), upstream);
        let mbps: Vec<Vec<f64>> = rt.block_on(async {
            let mut ways = Ways::open(proxy, &nginx, &origin, upstream, per * rounds).await;
            let mut mbps = vec![Vec::new(); VIAS.len()];
            for r in 0..rounds {
                for k in 0..VIAS.len() {
                    let w = (k + r) % VIAS.len();
                    sys::settle();
                    let t = Instant::now();
                    for i in r * per..(r + 1) * per {
                        ways.get(VIAS[w], &origin, i, size).await;
                    }
                    mbps[w].push(stream_bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
                }
            }
            mbps
        });
        drop(nginx);
        drop(front);
        origin.stop();
        let ratio =
            |w: usize| -> Vec<f64> { mbps[w].iter().zip(&mbps[0]).map(|(a, d)| a / d).collect() };
        eprintln!(
            "cold stream {} ({from}): direct {:.0?}, proxy {:.0?}, nginx {:.0?}, relay {:.0?} MB/s",
            size_name(size),
            mbps[0],
            mbps[1],
            mbps[2],
            mbps[3]
        );
        let r = ratio(1);
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.0} | {} | ≥ 0.9x | {} | {:.0} | {} | {:.0} | {} |",
            size_name(size),
            median(&mbps[0]),
            median(&mbps[1]),
            ratio_cell(&r),
            met(Some(median(&r) >= 0.9)),
            median(&mbps[2]),
            ratio_cell(&ratio(2)),
            median(&mbps[3]),
            ratio_cell(&ratio(3)),
        );
    }
    let _ = writeln!(s);
}

fn memory(rt: &Runtime, s: &mut String) {
    let rounds = 2;
    let dir = scratch("proxy-memory");
    let cache_dir = dir.path().join("cache");
    let proxy = ProxyChild::start(&cache_dir, &dir.path().join("proxy-memory.log"));
    let (start_hwm, _) = proxy.rss();
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(MEMORY_CLIENTS * rounds)
            .segment_size(MIB),
    )
    .expect("origin");
    let segments = rt.block_on(async {
        let mut conn = Conn::new(proxy.addr);
        Arc::new(
            playlists(
                &mut conn,
                &proxy,
                &origin.master_url(),
                MEMORY_CLIENTS * rounds,
            )
            .await,
        )
    });
    let (_, idle) = proxy.rss();
    let t = Instant::now();
    for round in 0..rounds {
        let barrier = Arc::new(tokio::sync::Barrier::new(MEMORY_CLIENTS));
        let work = async {
            let mut tasks = Vec::new();
            for c in 0..MEMORY_CLIENTS {
                let (segments, barrier, addr) =
                    (Arc::clone(&segments), Arc::clone(&barrier), proxy.addr);
                tasks.push(tokio::spawn(async move {
                    let path = &segments[round * MEMORY_CLIENTS + c];
                    let got = Conn::new(addr)
                        .get_then(path, false, async move {
                            barrier.wait().await;
                        })
                        .await;
                    assert_eq!(
                        (got.status, got.len),
                        (StatusCode::OK, MIB as u64),
                        "{path}"
                    );
                }));
            }
            for t in tasks {
                t.await.expect("memory client");
            }
        };
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(120), work)
                .await
                .expect("the memory workload took over 120 s");
        });
    }
    let secs = t.elapsed().as_secs_f64();
    let (hwm, rss) = proxy.rss();
    origin.stop();
    proxy.stop();
    let mib = |b: u64| b as f64 / MIB as f64;
    let _ = writeln!(
        s,
        "## Memory: {MEMORY_CLIENTS} clients, each a distinct uncached 1 MiB segment, all held open at once, {rounds} rounds ({secs:.2} s)\n"
    );
    let _ = writeln!(
        s,
        "| proxy process | MiB |\n|---|---|\n\
         | peak RSS (VmHWM) after start | {:.1} |\n\
         | RSS with the playlists loaded | {:.1} |\n\
         | RSS after the workload | {:.1} |\n\
         | **peak RSS (VmHWM) over the workload** | **{:.1}** (target < 64 MiB: {}) |\n",
        mib(start_hwm),
        mib(idle),
        mib(rss),
        mib(hwm),
        met(Some(hwm < 64 * MIB as u64))
    );
}
