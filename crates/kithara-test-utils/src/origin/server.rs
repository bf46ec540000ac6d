//! The HTTP server: an axum app on its own thread and tokio runtime.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::watch;
use url::Url;

use super::config::OriginConfig;
use super::content::{self, VariantContent};
use super::faults::{Faults, Hold};
use super::playlist::{self, KEY_PATH, MASTER_PATH};
use super::range::{RangeRequest, parse_range};

/// How long a stop waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

const MPEGURL: &str = "application/vnd.apple.mpegurl";

/// A loopback HLS VOD origin on `127.0.0.1:<ephemeral port>`.
///
/// The server runs on its own thread with its own tokio runtime; every method
/// is synchronous and cheap, so the origin works from plain `#[test]`s,
/// `#[tokio::test]`s and binaries alike. [`stop`](Self::stop) (or dropping
/// the origin) shuts it down and joins the thread; afterwards connections to
/// the port are refused.
///
/// # URL scheme
///
/// | path | resource |
/// |---|---|
/// | `/master.m3u8` | master playlist |
/// | `/v{v}/playlist.m3u8` | media playlist of variant `v` |
/// | `/v{v}/init.mp4` | init segment (only with [`OriginConfig::init`]) |
/// | `/v{v}/seg/{i}.ts` | media segment `i` (0-based playlist index; not in byte-range mode) |
/// | `/v{v}/all.ts` | all segments of `v` packed (only with [`OriginConfig::byte_ranges`]) |
/// | `/key.bin` | the AES-128 key, shared by all variants |
///
/// Anything else is 404. `Range: bytes=a-b` requests get 206 on every
/// resource.
///
/// # Counters
///
/// Every request (any method, any status, including 404/403/500) is counted
/// under its URL path **without the query string**, e.g. `/v0/seg/3.ts` or
/// `/key.bin`, and appended to [`request_log`](Self::request_log).
#[derive(Debug)]
pub struct HlsOrigin {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl HlsOrigin {
    /// Binds `127.0.0.1:0`, builds the content and starts serving on a new
    /// thread. Returns once the server accepts connections.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be bound, the runtime cannot be built or
    /// the thread cannot be spawned.
    pub fn start(config: OriginConfig) -> std::io::Result<Self> {
        let listener = StdTcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared::new(config, base));

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("hls-origin-{}", addr.port()))
            .spawn(move || serve(listener, app, shutdown_rx, &ready_tx))?;

        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("origin thread exited early")));
        let mut origin = Self {
            shared,
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        };
        if let Err(err) = ready {
            origin.shutdown();
            return Err(err);
        }
        tracing::debug!(%addr, "HLS origin started");
        Ok(origin)
    }

    /// Stops the server and joins its thread. Same as dropping the origin.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// The socket address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration the origin was started with.
    pub fn config(&self) -> &OriginConfig {
        &self.shared.config
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> Url {
        self.shared.base.clone()
    }

    /// `http://127.0.0.1:PORT/master.m3u8`.
    pub fn master_url(&self) -> Url {
        self.shared.url(MASTER_PATH)
    }

    /// `http://127.0.0.1:PORT/v{v}/playlist.m3u8` (also for out-of-range `v`,
    /// which the server answers with 404).
    pub fn media_url(&self, v: usize) -> Url {
        self.shared.url(&playlist::media_path(v))
    }

    /// URL of the init segment of variant `v`, `None` without
    /// [`OriginConfig::init`].
    pub fn init_url(&self, v: usize) -> Option<Url> {
        self.shared
            .config
            .init
            .then(|| self.shared.url(&playlist::init_path(v)))
    }

    /// Path (the counter key) of the resource that holds segment `i` of
    /// variant `v`: `/v{v}/seg/{i}.ts`, or `/v{v}/all.ts` in byte-range mode.
    pub fn segment_path(&self, v: usize, i: usize) -> String {
        if self.shared.config.byte_ranges {
            playlist::packed_path(v)
        } else {
            playlist::segment_path(v, i)
        }
    }

    /// URL of the resource that holds segment `i` of variant `v` (see
    /// [`segment_path`](Self::segment_path)).
    pub fn segment_url(&self, v: usize, i: usize) -> Url {
        self.shared.url(&self.segment_path(v, i))
    }

    /// Byte range of segment `i` inside `/v{v}/all.ts` (end exclusive), as
    /// announced by `#EXT-X-BYTERANGE`; `None` unless byte-range mode is on
    /// and the indices are in range.
    pub fn segment_range(&self, v: usize, i: usize) -> Option<Range<u64>> {
        if !self.shared.config.byte_ranges {
            return None;
        }
        self.shared.variants.get(v)?.content.ranges.get(i).cloned()
    }

    /// The IV that encrypts segment `i` (the same for every variant), `None`
    /// when not encrypted. With [`IvMode::MediaSequence`](crate::IvMode) it is
    /// `media_sequence + i` as a 16-byte big-endian integer.
    pub fn segment_iv(&self, i: usize) -> Option<[u8; 16]> {
        let config = &self.shared.config;
        content::segment_iv(config.encryption, config.media_sequence + i as u64)
    }

    /// What a decoder consumes for variant `v`: the init segment (if any)
    /// followed by the plaintext of every segment, in order.
    ///
    /// # Panics
    ///
    /// Panics if `v` is not a configured variant.
    pub fn expected_stream(&self, v: usize) -> Vec<u8> {
        let variant = self.shared.variant(v);
        let mut out = Vec::new();
        if let Some(init) = &variant.content.init {
            out.extend_from_slice(init);
        }
        for plain in &variant.content.plaintexts {
            out.extend_from_slice(plain);
        }
        out
    }

    /// Plaintext payload of segment `i` of variant `v` (starts with
    /// `V{v}-SEG-{i}:`).
    ///
    /// # Panics
    ///
    /// Panics if `v` or `i` is out of range.
    pub fn segment_plaintext(&self, v: usize, i: usize) -> Vec<u8> {
        self.shared.variant(v).content.plaintexts[i].to_vec()
    }

    /// Segment `i` of variant `v` exactly as served (ciphertext when
    /// encrypted; in byte-range mode the bytes of its sub-range).
    ///
    /// # Panics
    ///
    /// Panics if `v` or `i` is out of range.
    pub fn segment_served_bytes(&self, v: usize, i: usize) -> Vec<u8> {
        self.shared.variant(v).content.served[i].to_vec()
    }

    /// The init segment of variant `v` (starts with `V{v}-INIT:`), `None`
    /// without [`OriginConfig::init`] or for an unknown variant.
    pub fn init_bytes(&self, v: usize) -> Option<Vec<u8>> {
        let variant = self.shared.variants.get(v)?;
        variant.content.init.as_ref().map(|b| b.to_vec())
    }

    /// The real AES-128 key. With [`OriginConfig::wrapped_key`] the origin
    /// serves every byte XOR `0xFF` instead.
    pub fn raw_key(&self) -> [u8; 16] {
        content::RAW_KEY
    }

    /// The absolute key URL as it appears in the playlists after resolution:
    /// `http://127.0.0.1:PORT/key.bin`, plus the query configured with
    /// [`OriginConfig::key_query`].
    pub fn key_url(&self) -> Url {
        self.shared.key_url.clone()
    }

    /// Number of requests seen for `path` (e.g. `"/v0/seg/3.ts"`,
    /// `"/key.bin"`; the query string is ignored). A full URL is accepted
    /// too; only its path is used.
    pub fn requests(&self, path: &str) -> usize {
        let key = normalize_path(path);
        self.shared.stats().per_path.get(&key).copied().unwrap_or(0)
    }

    /// Total number of requests of any path.
    pub fn total_requests(&self) -> usize {
        self.shared.total.load(Ordering::SeqCst)
    }

    /// Paths of all requests so far, in arrival order (query strings
    /// dropped).
    pub fn request_log(&self) -> Vec<String> {
        self.shared.stats().log.clone()
    }

    /// Forgets all request counters and the request log.
    pub fn reset_requests(&self) {
        let mut stats = self.shared.stats();
        stats.per_path.clear();
        stats.log.clear();
        self.shared.total.store(0, Ordering::SeqCst);
    }

    /// After `n` more media-segment requests (`/v{v}/seg/{i}.ts` or
    /// `/v{v}/all.ts`, any variant) succeed, every further media-segment
    /// request gets 500. `Some(0)` fails the very next one. `None` heals.
    /// Playlists, init segments and the key are not affected.
    pub fn set_fail_after(&self, n: Option<usize>) {
        *lock(&self.shared.fail_after) = n;
    }

    /// Holds back media segment `path` (query ignored): its responses
    /// announce the full `Content-Length`, send the first `after` bytes,
    /// then wait until the returned [`Hold`] is released or dropped.
    pub fn hold(&self, path: &str, after: usize) -> Hold {
        self.shared.faults.hold(normalize_path(path), after)
    }

    /// While `Some(after)`, responses for media segment `path` announce the
    /// full `Content-Length`, send `after` bytes, then abort the
    /// connection (an origin that dies mid-body). `None` heals.
    pub fn cut(&self, path: &str, after: Option<usize>) {
        self.shared.faults.cut(normalize_path(path), after);
    }

    /// Forces `status` for every request of `path` (query ignored; a full
    /// URL is accepted), before any other processing; `None` removes the
    /// override. A status that is not a valid HTTP code becomes 500.
    pub fn set_status(&self, path: &str, status: Option<u16>) {
        let key = normalize_path(path);
        let mut statuses = lock(&self.shared.statuses);
        match status {
            Some(code) => statuses.insert(key, code),
            None => statuses.remove(&key),
        };
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("HLS origin thread panicked");
            }
            tracing::debug!(addr = %self.addr, "HLS origin stopped");
        }
    }
}

impl Drop for HlsOrigin {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Body of the server thread.
fn serve(
    listener: StdTcpListener,
    app: Router,
    shutdown: watch::Receiver<bool>,
    ready: &mpsc::Sender<std::io::Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let _ = ready.send(Ok(()));

        let mut graceful_rx = shutdown.clone();
        let graceful = async move {
            // Also resolves when the sender is gone.
            let _ = graceful_rx.wait_for(|stop| *stop).await;
        };
        let mut hard_rx = shutdown;
        let hard_deadline = async move {
            let _ = hard_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(graceful)
            .into_future();
        tokio::select! {
            result = server => {
                if let Err(err) = result {
                    tracing::error!(%err, "HLS origin server failed");
                }
            }
            () = hard_deadline => {
                tracing::warn!("HLS origin: in-flight requests cut off at shutdown");
            }
        }
    });
    // Dropping the runtime cancels any connection task still running.
    drop(runtime);
}

/// State shared by the handle and the request handlers.
#[derive(Debug)]
struct Shared {
    config: OriginConfig,
    base: Url,
    key_url: Url,
    master: Bytes,
    variants: Vec<Variant>,
    total: AtomicUsize,
    stats: Mutex<Stats>,
    fail_after: Mutex<Option<usize>>,
    statuses: Mutex<HashMap<String, u16>>,
    faults: Faults,
}

#[derive(Debug)]
struct Variant {
    playlist: Bytes,
    content: VariantContent,
}

#[derive(Debug, Default)]
struct Stats {
    per_path: HashMap<String, usize>,
    log: Vec<String>,
}

/// What a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Master,
    Media(usize),
    Init(usize),
    Segment(usize, usize),
    Packed(usize),
    Key,
}

impl Shared {
    fn new(config: OriginConfig, base: Url) -> Self {
        let mut key_url = base.join(KEY_PATH).unwrap_or_else(|_| base.clone());
        if !config.key_queries.is_empty() {
            let mut pairs = key_url.query_pairs_mut();
            for (name, value) in &config.key_queries {
                pairs.append_pair(name, value);
            }
        }
        let master = Bytes::from(playlist::master(&config, &base));
        let variants = (0..config.variants)
            .map(|v| {
                let content = VariantContent::build(&config, v);
                let playlist = Bytes::from(playlist::media(&config, v, &base, &key_url, &content));
                Variant { playlist, content }
            })
            .collect();
        Self {
            config,
            base,
            key_url,
            master,
            variants,
            total: AtomicUsize::new(0),
            faults: Faults::default(),
            stats: Mutex::new(Stats::default()),
            fail_after: Mutex::new(None),
            statuses: Mutex::new(HashMap::new()),
        }
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    #[track_caller]
    fn variant(&self, v: usize) -> &Variant {
        self.variants.get(v).unwrap_or_else(|| {
            panic!(
                "variant {v} out of range: the origin has {} variants",
                self.variants.len()
            )
        })
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    fn record(&self, path: &str) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let mut stats = self.stats();
        *stats.per_path.entry(path.to_owned()).or_default() += 1;
        stats.log.push(path.to_owned());
    }

    fn forced_status(&self, path: &str) -> Option<u16> {
        lock(&self.statuses).get(path).copied()
    }

    /// Consumes one unit of the segment budget; `false` means fail.
    fn take_segment_budget(&self) -> bool {
        let mut budget = lock(&self.fail_after);
        match *budget {
            None => true,
            Some(0) => false,
            Some(n) => {
                *budget = Some(n - 1);
                true
            }
        }
    }

    fn resolve(&self, path: &str) -> Option<Resource> {
        if path == MASTER_PATH {
            return Some(Resource::Master);
        }
        if path == KEY_PATH {
            return self.config.encrypted().then_some(Resource::Key);
        }
        let rest = path.strip_prefix("/v")?;
        let (v_str, rest) = rest.split_once('/')?;
        let v = parse_index(v_str)?;
        if v >= self.config.variants {
            return None;
        }
        match rest {
            "playlist.m3u8" => Some(Resource::Media(v)),
            "init.mp4" if self.config.init => Some(Resource::Init(v)),
            "all.ts" if self.config.byte_ranges => Some(Resource::Packed(v)),
            _ if !self.config.byte_ranges => {
                let i = parse_index(rest.strip_prefix("seg/")?.strip_suffix(".ts")?)?;
                (i < self.config.segments).then_some(Resource::Segment(v, i))
            }
            _ => None,
        }
    }

    fn key_authorized(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let query_ok = self.config.key_queries.iter().all(|(name, value)| {
            let query = uri.query().unwrap_or("");
            url::form_urlencoded::parse(query.as_bytes()).any(|(n, v)| n == *name && v == *value)
        });
        let headers_ok = self.config.key_headers.iter().all(|(name, value)| {
            headers
                .get_all(name.as_str())
                .iter()
                .any(|v| v.as_bytes() == value.as_bytes())
        });
        query_ok && headers_ok
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_owned();
    shared.record(&path);
    tracing::trace!(%method, %uri, "HLS origin request");

    if method != Method::GET && method != Method::HEAD {
        return status_response(StatusCode::METHOD_NOT_ALLOWED);
    }
    if let Some(code) = shared.forced_status(&path) {
        return status_response(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
    let Some(resource) = shared.resolve(&path) else {
        return status_response(StatusCode::NOT_FOUND);
    };
    match resource {
        Resource::Master => bytes_response(shared.master.clone(), MPEGURL, &headers),
        Resource::Media(v) => {
            bytes_response(shared.variants[v].playlist.clone(), MPEGURL, &headers)
        }
        Resource::Init(v) => match &shared.variants[v].content.init {
            Some(init) => bytes_response(init.clone(), "video/mp4", &headers),
            None => status_response(StatusCode::NOT_FOUND),
        },
        Resource::Key => {
            if !shared.key_authorized(&uri, &headers) {
                return status_response(StatusCode::FORBIDDEN);
            }
            let key = content::served_key(shared.config.wrapped_key);
            bytes_response(
                Bytes::copy_from_slice(&key),
                "application/octet-stream",
                &headers,
            )
        }
        Resource::Segment(v, i) => {
            let body = shared.variants[v].content.served[i].clone();
            if let Some(faulty) = shared.faults.response(&path, body.clone(), "video/mp2t") {
                return faulty;
            }
            segment_response(&shared, body, &headers).await
        }
        Resource::Packed(v) => {
            let body = shared.variants[v].content.packed.clone();
            segment_response(&shared, body, &headers).await
        }
    }
}

async fn segment_response(shared: &Shared, body: Bytes, headers: &HeaderMap) -> Response {
    if !shared.take_segment_budget() {
        return status_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if let Some(delay) = shared.config.segment_delay {
        tokio::time::sleep(delay).await;
    }
    bytes_response(body, "video/mp2t", headers)
}

fn status_response(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("status");
    (status, format!("{} {reason}\n", status.as_u16())).into_response()
}

/// Serves `body`, honouring a single `Range: bytes=...` request.
fn bytes_response(body: Bytes, content_type: &'static str, headers: &HeaderMap) -> Response {
    let len = body.len() as u64;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, body, content_range) = match range {
        None | Some(RangeRequest::Ignore) => (StatusCode::OK, body, None),
        Some(RangeRequest::Unsatisfiable) => {
            let mut response = status_response(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
        Some(RangeRequest::Satisfiable(r)) => {
            let content_range = format!("bytes {}-{}/{len}", r.start, r.end - 1);
            let slice = body.slice(r.start as usize..r.end as usize);
            (StatusCode::PARTIAL_CONTENT, slice, Some(content_range))
        }
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

/// Parses a canonical decimal index (no sign, no leading zeros).
fn parse_index(s: &str) -> Option<usize> {
    let n = s.parse::<usize>().ok()?;
    (n.to_string() == s).then_some(n)
}

/// Reduces a path or full URL to the counter key: the path without query.
fn normalize_path(path: &str) -> String {
    if let Ok(url) = Url::parse(path)
        && url.has_host()
    {
        return url.path().to_owned();
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_normalization() {
        assert_eq!(normalize_path("/key.bin?token=1"), "/key.bin");
        assert_eq!(normalize_path("v0/seg/1.ts"), "/v0/seg/1.ts");
        assert_eq!(
            normalize_path("http://127.0.0.1:1/v0/all.ts?x"),
            "/v0/all.ts"
        );
        assert_eq!(parse_index("03"), None);
        assert_eq!(parse_index("3"), Some(3));
    }
}
