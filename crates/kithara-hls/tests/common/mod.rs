//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kithara_cache::{AssetCache, CacheOptions};
use kithara_hls::{CacheMode, HlsError, HlsOptions, HlsSession, KeyProcessor};
use kithara_test_utils::{Encryption, IvMode, OriginConfig};

/// Upper bound of any one test step.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Run `f` with the time limit; a hang fails the test instead of blocking CI.
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test step timed out")
}

/// A persistent cache on `root`, large enough for every test VOD.
pub fn open_cache(root: &Path) -> AssetCache {
    AssetCache::open(CacheOptions::new(root).max_bytes(256 << 20)).expect("open cache")
}

/// Options for a persistent session on `cache` with fast retries.
pub fn persistent(cache: &AssetCache) -> HlsOptions {
    HlsOptions::new()
        .cache(CacheMode::Persistent(cache.clone()))
        .retry_backoff(Duration::from_millis(5))
}

/// Read the whole stream.
pub async fn read_all(session: &mut HlsSession) -> Result<Vec<u8>, HlsError> {
    let mut out = Vec::new();
    session.read_to_end(&mut out).await?;
    Ok(out)
}

/// Read at least `n` bytes (or to the end) with small reads.
pub async fn read_at_least(session: &mut HlsSession, n: usize) -> Result<Vec<u8>, HlsError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    while out.len() < n {
        let got = session.read(&mut buf).await?;
        if got == 0 {
            break;
        }
        out.extend_from_slice(&buf[..got]);
    }
    Ok(out)
}

/// Open a session, within the time limit; panics if it fails.
pub async fn open_session(url: &str, options: HlsOptions) -> HlsSession {
    within(HlsSession::open(url, options))
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// Open, read everything, close.
pub async fn read_vod(url: &str, options: HlsOptions) -> Result<Vec<u8>, HlsError> {
    within(async {
        let mut s = HlsSession::open(url, options).await?;
        let r = read_all(&mut s).await;
        s.close().await;
        r
    })
    .await
}

/// A key processor that undoes the origin's wrapping (`raw ^ 0xFF`).
pub fn unwrap_xor() -> KeyProcessor {
    Arc::new(|raw: &[u8], _ctx: &kithara_hls::KeyContext| {
        Ok(raw.iter().map(|b| b ^ 0xFF).collect())
    })
}

/// Every regular file below `root` (symlinks not followed).
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    kithara_test_utils::files_recursive(root)
}

/// Files under `root` whose bytes contain `needle`.
pub fn files_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
}

/// Files under `root` whose name ends with `suffix`.
pub fn files_named(root: &Path, suffix: &str) -> Vec<PathBuf> {
    all_files(root)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

/// No temp file of an unfinished write anywhere under `root`.
pub fn assert_no_partial_files(root: &Path) {
    let tmp: Vec<_> = all_files(root)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("kithara-tmp"))
        .collect();
    assert!(tmp.is_empty(), "partial files left: {tmp:?}");
}

/// A tiny HTTP/1.1 server with fixed answers, for what the loopback origin
/// does not produce (bad playlists, redirects: a 3xx route's body is its
/// `Location`; raw answers written as given). Paths not in the table get 404.
pub struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    thread: Option<JoinHandle<()>>,
}

/// One answer of a [`StaticServer`].
#[derive(Clone)]
enum Answer {
    /// Status and body (for a 3xx, the body is the `Location`).
    Simple(u16, Vec<u8>),
    /// The whole response, head and body, written as is.
    Raw(Vec<u8>),
}

impl StaticServer {
    /// Serve `routes` (path -> (status, body)).
    pub fn start(routes: Vec<(&str, u16, Vec<u8>)>) -> Self {
        Self::serve(
            routes
                .into_iter()
                .map(|(p, s, b)| (p.to_owned(), Answer::Simple(s, b)))
                .collect(),
        )
    }

    /// Serve raw responses (path -> the whole HTTP response).
    pub fn start_raw(routes: Vec<(&str, Vec<u8>)>) -> Self {
        Self::serve(
            routes
                .into_iter()
                .map(|(p, r)| (p.to_owned(), Answer::Raw(r)))
                .collect(),
        )
    }

    fn serve(routes: HashMap<String, Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let (stop2, hits2) = (Arc::clone(&stop), Arc::clone(&hits));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                serve_one(conn, &routes, &hits2);
            }
        });
        Self {
            addr,
            stop,
            hits,
            thread: Some(thread),
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn serve_one(
    conn: TcpStream,
    routes: &HashMap<String, Answer>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = request_path(&line);
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let (status, body) = match routes.get(&path).cloned() {
        Some(Answer::Simple(status, body)) => (status, body),
        Some(Answer::Raw(response)) => {
            let mut w = &conn;
            let _ = w.write_all(&response);
            let _ = w.flush();
            return;
        }
        None => (404, b"not found".to_vec()),
    };
    // For redirects the body is the Location.
    let (location, body) = if (300..400).contains(&status) {
        (
            format!("Location: {}\r\n", String::from_utf8_lossy(&body)),
            Vec::new(),
        )
    } else {
        (String::new(), body)
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut w = &conn;
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(&body);
    let _ = w.flush();
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Two variants x 6 segments, init segments, AES-128 with media-sequence IVs
/// and a wrapped key: the encrypted VOD most tests play.
pub fn encrypted_vod() -> OriginConfig {
    OriginConfig::default()
        .variants(2)
        .segments(6)
        .init(true)
        .wrapped_key(true)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        })
}

/// The path of an HTTP request line (`GET /a/b?q HTTP/1.1` gives `/a/b`).
pub fn request_path(line: &str) -> String {
    line.split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned()
}
