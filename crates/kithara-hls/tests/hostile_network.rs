//! Issue 6, item 8: hostile network input. A small server written here
//! (tokio `TcpListener` on 127.0.0.1:0, raw HTTP/1.1) misbehaves in one way
//! per route; each case must end with a clear, typed error within the limits
//! set in the options, and leave nothing of the resource (and no temp file)
//! in the cache.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{all_files, assert_no_partial_files, request_path};
use kithara_cache::{AssetCache, CacheOptions};
use kithara_hls::{CacheMode, HlsError, HlsOptions, HlsSession};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Every case must end well within this (it is a bound on the test, not a wait).
const CASE_LIMIT: Duration = Duration::from_secs(10);
/// The per-request time limit given to the client in the timeout cases.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(400);

const GIB: u64 = 1 << 30;

/// Produces the `n`-th chunk of a generated body (`None` ends it).
type Generator = Arc<dyn Fn(u64) -> Option<Vec<u8>> + Send + Sync>;

/// How a route misbehaves.
#[derive(Clone)]
enum Behaviour {
    /// A fixed 200 answer.
    Ok(Vec<u8>),
    /// `302 Found` with this `Location`.
    Redirect(String),
    /// A 200 answer whose body is generated chunk by chunk and written as
    /// fast as the client reads it, with this `Content-Length` if any
    /// (otherwise the body ends when the connection closes).
    Stream {
        content_length: Option<u64>,
        chunks: Generator,
    },
    /// Sends the head (declaring `content_length`) and `prefix`, then
    /// neither sends nor closes.
    Stall {
        content_length: u64,
        prefix: Vec<u8>,
    },
    /// One byte every `every`, forever, without a length.
    Drip { every: Duration },
}

/// The hostile server: a route table, and how many body bytes each path got
/// written before the client went away.
struct Hostile {
    addr: SocketAddr,
    sent: Counters,
    hits: Counters,
    task: tokio::task::JoinHandle<()>,
}

/// Per-path counters shared with the server's tasks.
type Counters = Arc<std::sync::Mutex<HashMap<String, Arc<AtomicU64>>>>;

fn counter(counters: &Counters, path: &str) -> Arc<AtomicU64> {
    Arc::clone(counters.lock().unwrap().entry(path.to_owned()).or_default())
}

fn count(counters: &Counters, path: &str) -> u64 {
    counters
        .lock()
        .unwrap()
        .get(path)
        .map_or(0, |c| c.load(Ordering::SeqCst))
}

impl Hostile {
    async fn start(routes: Vec<(&str, Behaviour)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<HashMap<String, Behaviour>> =
            Arc::new(routes.into_iter().map(|(p, b)| (p.to_owned(), b)).collect());
        let sent: Counters = Arc::default();
        let hits: Counters = Arc::default();
        let (sent2, hits2) = (Arc::clone(&sent), Arc::clone(&hits));
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let routes = Arc::clone(&routes);
                let sent = Arc::clone(&sent2);
                let hits = Arc::clone(&hits2);
                tokio::spawn(async move {
                    let _ = serve(conn, &routes, &sent, &hits).await;
                });
            }
        });
        Self {
            addr,
            sent,
            hits,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Body bytes written for `path` so far (over all requests).
    fn sent(&self, path: &str) -> u64 {
        count(&self.sent, path)
    }

    /// Requests for `path` so far.
    fn hits(&self, path: &str) -> u64 {
        count(&self.hits, path)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    conn: TcpStream,
    routes: &HashMap<String, Behaviour>,
    sent: &Counters,
    hits: &Counters,
) -> std::io::Result<()> {
    let mut conn = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = request_path(&line);
        loop {
            let mut h = String::new();
            if conn.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        counter(hits, &path).fetch_add(1, Ordering::SeqCst);
        let sent_bytes = counter(sent, &path);
        let w = conn.get_mut();
        match routes.get(&path).cloned() {
            None => {
                w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await?;
            }
            Some(Behaviour::Ok(body)) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                w.write_all(head.as_bytes()).await?;
                w.write_all(&body).await?;
                sent_bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
            }
            Some(Behaviour::Redirect(location)) => {
                let head = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                );
                w.write_all(head.as_bytes()).await?;
            }
            Some(Behaviour::Stream {
                content_length,
                chunks,
            }) => {
                let head = match content_length {
                    Some(n) => format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n"),
                    None => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned(),
                };
                w.write_all(head.as_bytes()).await?;
                let mut n = 0;
                while let Some(chunk) = chunks(n) {
                    // Fails once the client has dropped the connection.
                    w.write_all(&chunk).await?;
                    sent_bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    n += 1;
                }
                return w.shutdown().await;
            }
            Some(Behaviour::Stall {
                content_length,
                prefix,
            }) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {content_length}\r\n\r\n");
                w.write_all(head.as_bytes()).await?;
                w.write_all(&prefix).await?;
                w.flush().await?;
                sent_bytes.fetch_add(prefix.len() as u64, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
            Some(Behaviour::Drip { every }) => {
                w.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    .await?;
                loop {
                    w.write_all(&[0x47]).await?;
                    w.flush().await?;
                    sent_bytes.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(every).await;
                }
            }
        }
        w.flush().await?;
    }
}

/// A generated body of `total` bytes in chunks of 8 KiB: `head` first, then
/// copies of `line` (the last chunk cut to fit).
fn generated(head: &'static str, line: &'static str, total: u64) -> Generator {
    const CHUNK: usize = 8 * 1024;
    let filler: Vec<u8> = line.bytes().cycle().take(CHUNK).collect();
    Arc::new(move |n| {
        let start = n * CHUNK as u64;
        if start >= total {
            return None;
        }
        let mut chunk = if n == 0 {
            let mut c = head.as_bytes().to_vec();
            c.extend_from_slice(&filler[..CHUNK - head.len()]);
            c
        } else {
            filler.clone()
        };
        chunk.truncate((total - start).min(CHUNK as u64) as usize);
        Some(chunk)
    })
}

/// A media playlist of `count` segments, generated a chunk of segments at a time.
fn million_segments(count: u64) -> Generator {
    const PER_CHUNK: u64 = 256;
    Arc::new(move |n| {
        let first = n * PER_CHUNK;
        if first > count {
            return None;
        }
        let mut text = String::new();
        if n == 0 {
            text.push_str("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n");
        }
        for i in first..(first + PER_CHUNK).min(count) {
            text.push_str(&format!("#EXTINF:4.0,\nseg/{i}.ts\n"));
        }
        if first + PER_CHUNK >= count {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        Some(text.into_bytes())
    })
}

fn media_playlist(body: &str) -> Vec<u8> {
    format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n{body}#EXT-X-ENDLIST\n")
        .into_bytes()
}

/// Small limits and short timeouts, so every case ends in a second or two.
fn options(cache: &AssetCache) -> HlsOptions {
    HlsOptions::new()
        .cache(CacheMode::Persistent(cache.clone()))
        .max_playlist_bytes(256 * 1024)
        .max_segments(1000)
        .max_resource_bytes(256 * 1024)
        .request_timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .retries(1)
        .retry_backoff(Duration::from_millis(10))
}

/// Open `url` and read the whole stream; the error it must end with, and how long it took.
async fn fail(url: &str, options: HlsOptions) -> (HlsError, Duration) {
    let started = Instant::now();
    let run = async {
        let mut session = HlsSession::open(url, options).await?;
        let mut out = Vec::new();
        let r = session.read_to_end(&mut out).await;
        session.close().await;
        r.map(|_| out.len())
    };
    let result = tokio::time::timeout(CASE_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("{url}: no error within {CASE_LIMIT:?}"));
    match result {
        Ok(n) => panic!("{url}: hostile input was accepted ({n} bytes read)"),
        Err(e) => (e, started.elapsed()),
    }
}

/// Cached resources (relative to the asset directories) under `root`.
fn cached_resources(root: &Path) -> Vec<String> {
    all_files(&root.join("assets"))
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root.join("assets")).ok()?.to_owned();
            // assets/<id[0..2]>/<id>/<resource>
            let parts: Vec<_> = rel.components().skip(2).collect();
            Some(
                parts
                    .iter()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            )
        })
        .collect()
}

fn new_cache() -> (tempfile::TempDir, AssetCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open(CacheOptions::new(dir.path()).max_bytes(64 << 20)).unwrap();
    (dir, cache)
}

fn assert_nothing_cached(root: &Path, what: &str) {
    let cached = cached_resources(root);
    assert!(cached.is_empty(), "{what}: cached {cached:?}");
    assert_no_partial_files(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gib_playlist_stops_at_max_playlist_bytes() {
    let line = "#EXT-X-COMMENT:padding padding padding padding padding padding\n";
    let server = Hostile::start(vec![
        (
            "/declared.m3u8",
            Behaviour::Stream {
                content_length: Some(GIB),
                chunks: generated("#EXTM3U\n", line, GIB),
            },
        ),
        (
            "/undeclared.m3u8",
            Behaviour::Stream {
                content_length: None,
                chunks: generated("#EXTM3U\n", line, GIB),
            },
        ),
    ])
    .await;
    for path in ["/declared.m3u8", "/undeclared.m3u8"] {
        let (dir, cache) = new_cache();
        let (err, took) = fail(&server.url(path), options(&cache)).await;
        match &err {
            HlsError::TooLarge { url, limit } => {
                assert!(url.ends_with(path), "{url}");
                assert_eq!(*limit, 256 * 1024);
            }
            other => panic!("{path}: unexpected {other:?}"),
        }
        // Socket buffers hold a few MiB at most; the client stopped reading.
        let sent = server.sent(path);
        assert!(sent < 32 << 20, "{path}: the server wrote {sent} bytes");
        eprintln!("{path}: {err} after {took:?}, {sent} bytes written by the server");
        drop(cache);
        assert_nothing_cached(dir.path(), path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_of_a_million_segments_stops_at_max_segments() {
    let server = Hostile::start(vec![(
        "/million.m3u8",
        Behaviour::Stream {
            content_length: None,
            chunks: million_segments(1_000_000),
        },
    )])
    .await;
    let (dir, cache) = new_cache();
    // The byte bound is out of the way (1 GiB): only the segment bound can stop it.
    let opts = options(&cache).max_playlist_bytes(GIB);
    let (err, took) = fail(&server.url("/million.m3u8"), opts).await;
    match &err {
        HlsError::Playlist { url, reason } => {
            assert!(url.ends_with("/million.m3u8"), "{url}");
            assert!(reason.contains("more than 1000"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let sent = server.sent("/million.m3u8");
    eprintln!("million segments: {err} after {took:?}, {sent} bytes written by the server");
    // The whole text is about 25 MB; the client stops reading soon after entry 1000.
    assert!(sent < 16 << 20, "the server wrote {sent} bytes");
    drop(cache);
    assert_nothing_cached(dir.path(), "million");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_never_ends_stops_at_max_resource_bytes_or_the_timeout() {
    let endless: Generator = Arc::new(|_| Some(vec![0x47; 8 * 1024]));
    let server = Hostile::start(vec![
        (
            "/fast.m3u8",
            Behaviour::Ok(media_playlist("#EXTINF:4,\nendless.ts\n")),
        ),
        (
            "/endless.ts",
            Behaviour::Stream {
                content_length: None,
                chunks: endless,
            },
        ),
        (
            "/slow.m3u8",
            Behaviour::Ok(media_playlist("#EXTINF:4,\ndrip.ts\n")),
        ),
        (
            "/drip.ts",
            Behaviour::Drip {
                every: Duration::from_millis(20),
            },
        ),
    ])
    .await;

    let (dir, cache) = new_cache();
    let (err, took) = fail(&server.url("/fast.m3u8"), options(&cache)).await;
    match &err {
        HlsError::TooLarge { url, limit } => {
            assert!(url.ends_with("/endless.ts"), "{url}");
            assert_eq!(*limit, 256 * 1024);
        }
        other => panic!("endless: unexpected {other:?}"),
    }
    eprintln!("endless segment: {err} after {took:?}");
    drop(cache);
    let cached = cached_resources(dir.path());
    assert_eq!(
        cached,
        ["media.m3u8"],
        "only the (valid) playlist is cached"
    );
    assert_no_partial_files(dir.path());

    let (dir, cache) = new_cache();
    let (err, took) = fail(&server.url("/slow.m3u8"), options(&cache)).await;
    assert_timeout(&err, "/drip.ts");
    // Bounded by the retry policy, not by the drip: two tries (retries(1)),
    // each ended by the request timeout (the error says so), then no more.
    assert_eq!(server.hits("/drip.ts"), 2);
    eprintln!("dripping segment: {err} after {took:?}");
    drop(cache);
    assert_eq!(cached_resources(dir.path()), ["media.m3u8"]);
    assert_no_partial_files(dir.path());
}

fn assert_timeout(err: &HlsError, path: &str) {
    match err {
        HlsError::TimedOut { url, limit } => {
            assert!(url.ends_with(path), "{url}");
            assert_eq!(*limit, REQUEST_TIMEOUT);
            assert!(err.to_string().contains("timed out"), "{err}");
        }
        other => panic!("{path}: unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_stalls_mid_body_times_out() {
    let server = Hostile::start(vec![
        (
            "/stall-segment.m3u8",
            Behaviour::Ok(media_playlist("#EXTINF:4,\nstall.ts\n")),
        ),
        (
            "/stall.ts",
            Behaviour::Stall {
                content_length: 100_000,
                prefix: vec![0x47; 1000],
            },
        ),
        (
            "/stall.m3u8",
            Behaviour::Stall {
                content_length: 100_000,
                prefix: b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n".to_vec(),
            },
        ),
    ])
    .await;
    for (url, path, expected_cache) in [
        ("/stall.m3u8", "/stall.m3u8", &[][..]),
        ("/stall-segment.m3u8", "/stall.ts", &["media.m3u8"][..]),
    ] {
        let (dir, cache) = new_cache();
        let (err, took) = fail(&server.url(url), options(&cache)).await;
        assert_timeout(&err, path);
        // Two tries (retries(1)), each ended by the timeout, then no more.
        assert_eq!(server.hits(path), 2, "{path}");
        eprintln!("stall in {path}: {err} after {took:?}");
        drop(cache);
        assert_eq!(cached_resources(dir.path()), expected_cache, "{path}");
        assert_no_partial_files(dir.path());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_the_wrong_length_is_a_key_error_and_is_not_cached() {
    let encrypted = |key: &str| {
        media_playlist(&format!(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"{key}\",IV=0x000102030405060708090A0B0C0D0E0F\n\
             #EXTINF:4,\nseg.ts\n"
        ))
    };
    let endless_key: Generator = Arc::new(|_| Some(vec![7; 8 * 1024]));
    let server = Hostile::start(vec![
        ("/short.m3u8", Behaviour::Ok(encrypted("short.key"))),
        ("/short.key", Behaviour::Ok(vec![1; 15])),
        ("/long.m3u8", Behaviour::Ok(encrypted("long.key"))),
        ("/long.key", Behaviour::Ok(vec![1; 17])),
        ("/empty.m3u8", Behaviour::Ok(encrypted("empty.key"))),
        ("/empty.key", Behaviour::Ok(Vec::new())),
        ("/huge.m3u8", Behaviour::Ok(encrypted("huge.key"))),
        (
            "/huge.key",
            Behaviour::Stream {
                content_length: None,
                chunks: endless_key,
            },
        ),
        ("/seg.ts", Behaviour::Ok(vec![0x47; 32])),
    ])
    .await;
    for (name, len) in [
        ("short", Some(15)),
        ("long", Some(17)),
        ("empty", Some(0)),
        ("huge", None),
    ] {
        let (dir, cache) = new_cache();
        let (err, took) = fail(&server.url(&format!("/{name}.m3u8")), options(&cache)).await;
        match (&err, len) {
            (HlsError::Key { url, reason }, Some(n)) => {
                assert!(url.ends_with(&format!("/{name}.key")), "{url}");
                assert!(
                    reason.contains(&format!("key is {n} bytes")) && reason.contains("16"),
                    "{reason}"
                );
            }
            (HlsError::TooLarge { url, .. }, None) => {
                assert!(url.ends_with("/huge.key"), "{url}")
            }
            (other, _) => panic!("{name}: unexpected {other:?}"),
        }
        eprintln!("{name} key: {err} after {took:?}");
        drop(cache);
        let cached = cached_resources(dir.path());
        assert!(
            cached.iter().all(|r| !r.starts_with("keys/")),
            "{name}: a bad key was cached: {cached:?}"
        );
        assert_no_partial_files(dir.path());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loops_and_redirects_to_file_urls_are_refused() {
    let server = Hostile::start(vec![
        ("/loop-a.m3u8", Behaviour::Redirect("/loop-b.m3u8".into())),
        ("/loop-b.m3u8", Behaviour::Redirect("/loop-a.m3u8".into())),
        ("/self.m3u8", Behaviour::Redirect("/self.m3u8".into())),
        (
            "/passwd.m3u8",
            Behaviour::Redirect("file:///etc/passwd".into()),
        ),
        (
            "/seg-to-file.m3u8",
            Behaviour::Ok(media_playlist("#EXTINF:4,\nseg.ts\n")),
        ),
        ("/seg.ts", Behaviour::Redirect("file:///etc/passwd".into())),
    ])
    .await;
    for (url, expect, expected_cache) in [
        ("/loop-a.m3u8", "too many redirects", &[][..]),
        ("/self.m3u8", "too many redirects", &[][..]),
        ("/passwd.m3u8", "http or https", &[][..]),
        ("/seg-to-file.m3u8", "http or https", &["media.m3u8"][..]),
    ] {
        let (dir, cache) = new_cache();
        let (err, took) = fail(&server.url(url), options(&cache)).await;
        match &err {
            HlsError::Redirect { url: u, reason } => {
                assert!(reason.contains(expect), "{url}: {reason}");
                assert!(u.starts_with("http://127.0.0.1:"), "{u}");
            }
            other => panic!("{url}: unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(!text.contains("root:"), "{text}");
        eprintln!("{url}: {err} after {took:?}");
        drop(cache);
        assert_eq!(cached_resources(dir.path()), expected_cache, "{url}");
        assert_no_partial_files(dir.path());
    }
    // A loop is not retried: one try follows at most 10 redirects (the 11th is refused).
    let hops = server.hits("/loop-a.m3u8") + server.hits("/loop-b.m3u8");
    assert_eq!(hops, 11, "the first request and 10 redirects");
    assert_eq!(server.hits("/self.m3u8"), 11);
}
