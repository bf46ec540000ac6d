//! Behaviour 11: a browser. A page served by this test (its own loopback
//! server, so another origin than the proxy: every request hls.js makes to
//! the proxy is cross-origin and needs its CORS headers) loads hls.js and
//! plays a proxied stream to its `ended` event in headless Chromium (at 4x
//! speed), then again with the origin stopped, and through a new offline
//! proxy over the same cache. Streams, made by ffmpeg at test time: two
//! AES-128 TS variants (the page plays the second), and fMP4 in one file
//! of byte ranges (hls.js sends `Range`). The page reports to the test's
//! server; every wait is bounded, and Chromium (its process group) is
//! killed after each run.
//!
//! Needs Debian's `chromium` and `ffmpeg`, and hls.js under
//! `tests/browser/node_modules` (`npm ci --prefix
//! crates/kithara-proxy/tests/browser`); `.ci/run` installs all three.
//! Fails, never skips, without them.

mod players;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::DirOrigin;
use players::{Encode, key_info, kill_group, open_cache, require, segment_uris};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

/// How long one page may take from Chromium's start to its report (it
/// takes about 3 s here: start-up, then 6 s of audio at 4x).
const REPORT_LIMIT: Duration = Duration::from_secs(60);

const PAGE: &str = include_str!("browser/index.html");

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// hls.js as installed by `npm ci` from `tests/browser/package-lock.json`.
fn hls_js() -> Bytes {
    let path = browser_dir().join("node_modules/hls.js/dist/hls.min.js");
    match std::fs::read(&path) {
        Ok(js) => js.into(),
        Err(e) => panic!(
            "hls.js is not installed ({}: {e}): run `npm ci --prefix {}` \
             (.ci/run does this)",
            path.display(),
            browser_dir().display()
        ),
    }
}

/// What the page reported: its query fields.
type Report = HashMap<String, String>;

/// The test's own web server: the page, hls.js, and `/report`, whose
/// query each page run sends once.
struct PageServer {
    base: Url,
    reports: mpsc::UnboundedReceiver<Report>,
    task: tokio::task::JoinHandle<()>,
}

impl PageServer {
    async fn start() -> Self {
        let js = hls_js();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let (tx, reports) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (tx, js) = (tx.clone(), js.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let answer = answer(&req, &js, &tx);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base,
            reports,
            task,
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(
    req: &Request<Incoming>,
    js: &Bytes,
    reports: &mpsc::UnboundedSender<Report>,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/" => (
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(PAGE.as_bytes()),
        ),
        "/hls.min.js" => (StatusCode::OK, "text/javascript", js.clone()),
        "/report" => {
            let query = req.uri().query().unwrap_or("");
            let _ = reports.send(
                url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
            );
            (StatusCode::NO_CONTENT, "text/plain", Bytes::new())
        }
        _ => (StatusCode::NOT_FOUND, "text/plain", Bytes::new()),
    };
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(body))
        .unwrap()
}

/// Headless Chromium on one page, in its own process group and with a new
/// profile; dropping it kills the group.
struct Browser {
    child: Child,
    log: PathBuf,
    _profile: TempDir,
}

impl Browser {
    fn open(page: &Url) -> Self {
        use std::os::unix::process::CommandExt;

        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("chromium.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
            ])
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("data").display()
            ))
            .arg(page.as_str())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromium: {e}"));
        Self {
            child,
            log,
            _profile: profile,
        }
    }

    /// The last lines Chromium wrote, for a failure's message.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        // SIGKILL cannot be ignored: this returns at once.
        let _ = self.child.wait();
    }
}

/// One run of the page in a new Chromium: plays variant `level` of
/// `stream` and returns the page's report, which must be `ended` without
/// a network error, and the time from Chromium's start to the report.
async fn play(
    server: &mut PageServer,
    stream: &Url,
    level: usize,
    run: &str,
) -> (Report, Duration) {
    let mut page = server.base.clone();
    page.query_pairs_mut()
        .append_pair("src", stream.as_str())
        .append_pair("level", &level.to_string())
        .append_pair("run", run);
    let started = Instant::now();
    let browser = Browser::open(&page);
    let report = match tokio::time::timeout(REPORT_LIMIT, server.reports.recv()).await {
        Ok(Some(report)) => report,
        Ok(None) => unreachable!("the page server holds a sender"),
        Err(_) => panic!(
            "{run}: no report from the page within {REPORT_LIMIT:?}; chromium said:\n{}",
            browser.log_tail()
        ),
    };
    let took = started.elapsed();
    let log = browser.log_tail();
    drop(browser);
    assert_eq!(
        report.get("run").map(String::as_str),
        Some(run),
        "{report:?}"
    );
    assert_eq!(
        report.get("result").map(String::as_str),
        Some("ended"),
        "{run}: hls.js did not play to the end: {report:?}\nchromium said:\n{log}"
    );
    assert_eq!(
        report["errors"], "",
        "{run}: hls.js network errors: {report:?}"
    );
    if !report["others"].is_empty() {
        eprintln!(
            "{run}: hls.js reported (not network errors): {}",
            report["others"]
        );
    }
    (report, took)
}

/// What a stream is and what playing it must fetch.
struct Stream<'a> {
    /// The playlist the page opens, relative to the served directory.
    entry: &'a str,
    /// The variant played (0 for a media playlist).
    level: usize,
    /// Segments of that variant (`#EXTINF` entries).
    segments: usize,
    /// Its length in seconds, as the playlist says.
    seconds: f64,
    encrypted: bool,
    /// Origin paths and the upstream requests the first play makes for
    /// each (one per resource; a byte range is one); nothing else.
    fetches: Vec<(String, usize)>,
}

/// Plays `stream` in Chromium through a proxy over a fresh cache, again
/// with the origin stopped, and through a new offline proxy.
async fn plays_online_then_from_the_cache(root: &Path, stream: Stream<'_>) {
    require("chromium", "chromium");
    let mut server = PageServer::start().await;
    let page_origin = server.base.as_str().trim_end_matches('/').to_owned();
    let origin = DirOrigin::start(root).unwrap();
    let upstream = origin.url(stream.entry);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = open_cache(cache_dir.path());
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()))
        .await
        .unwrap();
    let proxied = proxy.url_for(&upstream);
    assert_ne!(
        proxied.port(),
        server.base.port(),
        "the page is cross-origin"
    );

    let check = |report: &Report, run: &str| {
        assert_eq!(
            report["level"],
            stream.level.to_string(),
            "{run}: {report:?}"
        );
        // Every segment of the variant (hls.js may load one again after a
        // stall; the origin counts say the proxy fetched each once).
        let frags: usize = report["frags"].parse().unwrap();
        assert!(frags >= stream.segments, "{run}: {report:?}");
        assert_eq!(report["keys"] != "0", stream.encrypted, "{run}: {report:?}");
        let duration: f64 = report["duration"].parse().unwrap();
        let at: f64 = report["currentTime"].parse().unwrap();
        assert!((duration - stream.seconds).abs() < 0.5, "{run}: {report:?}");
        assert!((duration - at).abs() < 0.1, "{run}: {report:?}");
        assert_eq!(report["origin"], page_origin, "{run}: {report:?}");
    };

    let (online, online_took) = play(&mut server, &proxied, stream.level, "online").await;
    check(&online, "online");
    for (path, n) in &stream.fetches {
        assert_eq!(
            origin.requests(path),
            *n,
            "{path}: {:?}",
            origin.request_log()
        );
    }
    assert_eq!(
        origin.total_requests(),
        stream.fetches.iter().map(|f| f.1).sum::<usize>(),
        "{:?}",
        origin.request_log()
    );

    origin.stop();
    let (gone, gone_took) = play(&mut server, &proxied, stream.level, "origin stopped").await;
    check(&gone, "origin stopped");
    proxy.shutdown().await;

    let offline = Proxy::start(ProxyOptions::new(cache.clone()).offline(true))
        .await
        .unwrap();
    let again = offline.url_for(&upstream);
    let (again, offline_took) = play(&mut server, &again, stream.level, "offline").await;
    check(&again, "offline");
    offline.shutdown().await;
    eprintln!(
        "{}: hls.js played {} fragments, {} s of audio; Chromium start to `ended`: online \
         {online_took:?}, origin stopped {gone_took:?}, offline {offline_took:?}",
        stream.entry, online["frags"], online["duration"]
    );
}

/// The EXTINF durations of a media playlist, added up.
fn seconds(playlist: &Path) -> f64 {
    std::fs::read_to_string(playlist)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum()
}

/// Two AES-128 TS variants of 6 s (2 s segments, one key); the page plays
/// the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_in_chromium_plays_aes_128_ts_variants_through_the_proxy_then_from_the_cache() {
    require("ffmpeg", "ffmpeg");
    let media = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let root = media.path();
    let info = key_info(root, scratch.path(), "hls/a.key", "a.key");
    let mut playlists = Vec::new();
    for (name, bitrate, frequency) in [("lo", "64k", 440), ("hi", "128k", 660)] {
        playlists.push(
            Encode {
                seconds: 6,
                segment_seconds: 2,
                bitrate,
                frequency,
            }
            .write(
                root,
                &format!("hls/{name}.m3u8"),
                &format!("{name}_%d.ts"),
                &["-hls_key_info_file", info.to_str().unwrap()],
            ),
        );
    }
    std::fs::write(
        root.join("hls/master.m3u8"),
        "#EXTM3U\n#EXT-X-VERSION:3\n\
         #EXT-X-STREAM-INF:BANDWIDTH=80000,CODECS=\"mp4a.40.2\"\nlo.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=150000,CODECS=\"mp4a.40.2\"\nhi.m3u8\n",
    )
    .unwrap();
    // The variant played, fetched once each; nothing of the other.
    let hi = segment_uris(&playlists[1]);
    let mut fetches: Vec<(String, usize)> = ["master.m3u8", "hi.m3u8", "a.key"]
        .iter()
        .map(|p| (format!("/hls/{p}"), 1))
        .collect();
    fetches.extend(hi.iter().map(|s| (format!("/hls/{s}"), 1)));
    fetches.extend(
        segment_uris(&playlists[0])
            .iter()
            .map(|s| (format!("/hls/{s}"), 0)),
    );
    let stream = Stream {
        entry: "hls/master.m3u8",
        level: 1,
        segments: hi.len(),
        seconds: seconds(&playlists[1]),
        encrypted: true,
        fetches,
    };
    plays_online_then_from_the_cache(root, stream).await;
}

/// fMP4 in one file: the init segment and every segment are byte ranges
/// (hls.js sends `Range`, cross-origin), opened as a media playlist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_in_chromium_plays_byte_range_fmp4_through_the_proxy_then_from_the_cache() {
    require("ffmpeg", "ffmpeg");
    let media = tempfile::tempdir().unwrap();
    let root = media.path();
    let playlist = Encode {
        seconds: 6,
        segment_seconds: 2,
        bitrate: "96k",
        frequency: 550,
    }
    .write(
        root,
        "one/index.m3u8",
        "index.m4s",
        &[
            "-hls_flags",
            "single_file",
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init.mp4",
        ],
    );
    let segments = segment_uris(&playlist).len();
    let stream = Stream {
        entry: "one/index.m3u8",
        level: 0,
        segments,
        seconds: seconds(&playlist),
        encrypted: false,
        fetches: vec![
            ("/one/index.m3u8".to_owned(), 1),
            ("/one/index.m4s".to_owned(), 1 + segments),
        ],
    };
    plays_online_then_from_the_cache(root, stream).await;
}
