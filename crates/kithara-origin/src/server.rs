//! The public handle of the generated HLS origin, [`HlsOrigin`]: starting
//! and stopping it, the URLs and bytes it serves, its counters and faults.
//! Request handling is in `handler.rs`; live playlists in `live.rs`, signed
//! URLs in `signing.rs`, the redirect in `redirect.rs` and the audio
//! renditions in `renditions.rs` add their own methods.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use url::Url;

#[cfg(feature = "faults")]
use crate::common::lock;
use crate::config::OriginConfig;
use crate::content::{self, TrackContent};
use crate::encoding::Compression;
#[cfg(feature = "faults")]
use crate::faults::Hold;
use crate::handler::{Shared, handle};
use crate::playlist::{self, MASTER_PATH, Track};
use crate::runtime::{Bound, ServerThread, Stopped};
use crate::static_dir::DirOrigin;

/// A loopback HLS origin on `127.0.0.1:<ephemeral port>`.
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
/// | `/a{k}/...` | the same for audio rendition `k` (only with [`OriginConfig::alternate_audio`]) |
/// | `/v0/iframes.m3u8` | I-frame playlist (only with [`OriginConfig::alternate_audio`]) |
/// | `/key.bin` | the AES-128 key, shared by all variants |
/// | `/redir/master.m3u8` | `302` to `/m/master.m3u8` (only with [`OriginConfig::redirect_master`]) |
/// | `/m/...` | the whole tree again (only with [`OriginConfig::redirect_master`]) |
///
/// Anything else is 404. `Range: bytes=a-b` requests get 206 on every
/// resource. Media playlists carry an `ETag` and answer a matching
/// `If-None-Match` with `304 Not Modified`. See also
/// [`OriginConfig::live`] and [`OriginConfig::signed_uris`].
///
/// # Counters
///
/// Every request (any method, any status, including 304/403/404/500) is
/// counted under its URL path **without the query string**, e.g.
/// `/v0/seg/3.ts`, `/m/v0/seg/3.ts` or `/key.bin`, and appended to
/// [`request_log`](Self::request_log).
#[derive(Debug)]
pub struct HlsOrigin {
    pub(crate) shared: Arc<Shared>,
    server: ServerThread,
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
        let bound = Bound::loopback()?;
        let shared = Arc::new(Shared::new(config, bound.base.clone()));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = ServerThread::spawn(bound, app, "hls-origin")?;
        Ok(Self { shared, server })
    }

    /// Starts a [`DirOrigin`] serving the files under `dir`; same as
    /// [`DirOrigin::start`].
    ///
    /// # Errors
    ///
    /// As [`DirOrigin::start`].
    pub fn serve_dir(dir: impl AsRef<Path>) -> std::io::Result<DirOrigin> {
        DirOrigin::start(dir)
    }

    /// Stops the server and joins its thread (same as dropping the
    /// origin); says whether requests in flight had to be cut off.
    pub fn stop(mut self) -> Stopped {
        self.server.shutdown()
    }

    /// The socket address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The configuration the origin was started with.
    pub fn config(&self) -> &OriginConfig {
        &self.shared.config
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> Url {
        self.shared.common.base.clone()
    }

    /// `path` (e.g. `"/m/v0/seg/0.ts"`; a leading `/` is optional, a query
    /// is kept) as a URL of this origin.
    pub fn url(&self, path: &str) -> Url {
        self.shared.common.url(path)
    }

    /// `http://127.0.0.1:PORT/master.m3u8`.
    pub fn master_url(&self) -> Url {
        self.url(MASTER_PATH)
    }

    /// `http://127.0.0.1:PORT/v{v}/playlist.m3u8` (also for out-of-range `v`,
    /// which the server answers with 404).
    pub fn media_url(&self, v: usize) -> Url {
        self.url(&playlist::media_path(Track::Variant(v)))
    }

    /// URL of the init segment of variant `v`, `None` without
    /// [`OriginConfig::init`]. With [`OriginConfig::signed_uris`] it carries
    /// the current token.
    pub fn init_url(&self, v: usize) -> Option<Url> {
        self.track_init_url(Track::Variant(v))
    }

    /// Path (the counter key) of the resource that holds segment `i` of
    /// variant `v`: `/v{v}/seg/{i}.ts`, or `/v{v}/all.ts` in byte-range mode.
    pub fn segment_path(&self, v: usize, i: usize) -> String {
        playlist::holder_path(&self.shared.config, Track::Variant(v), i)
    }

    /// URL of the resource that holds segment `i` of variant `v` (see
    /// [`segment_path`](Self::segment_path)). With
    /// [`OriginConfig::signed_uris`] it carries the current token.
    pub fn segment_url(&self, v: usize, i: usize) -> Url {
        self.signed_url(&self.segment_path(v, i))
    }

    /// Byte range of segment `i` inside `/v{v}/all.ts` (end exclusive), as
    /// announced by `#EXT-X-BYTERANGE`; `None` unless byte-range mode is on
    /// and the indices are in range.
    pub fn segment_range(&self, v: usize, i: usize) -> Option<Range<u64>> {
        if !self.shared.config.byte_ranges {
            return None;
        }
        self.shared.variants.get(v)?.ranges.get(i).cloned()
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
        expected_stream(self.content(Track::Variant(v)))
    }

    /// Plaintext payload of segment `i` of variant `v` (starts with
    /// `V{v}-SEG-{i}:`).
    ///
    /// # Panics
    ///
    /// Panics if `v` or `i` is out of range.
    pub fn segment_plaintext(&self, v: usize, i: usize) -> Vec<u8> {
        self.content(Track::Variant(v)).plaintexts[i].to_vec()
    }

    /// Segment `i` of variant `v` exactly as served (ciphertext when
    /// encrypted; in byte-range mode the bytes of its sub-range).
    ///
    /// # Panics
    ///
    /// Panics if `v` or `i` is out of range.
    pub fn segment_served_bytes(&self, v: usize, i: usize) -> Vec<u8> {
        self.content(Track::Variant(v)).served[i].to_vec()
    }

    /// The init segment of variant `v` (starts with `V{v}-INIT:`), `None`
    /// without [`OriginConfig::init`] or for an unknown variant.
    pub fn init_bytes(&self, v: usize) -> Option<Vec<u8>> {
        let variant = self.shared.variants.get(v)?;
        variant.init.as_ref().map(|b| b.to_vec())
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
        playlist::key_url(&self.shared.config, &self.shared.common.base)
    }

    /// Number of requests seen for `path` (e.g. `"/v0/seg/3.ts"`,
    /// `"/key.bin"`; the query string is ignored). A full URL is accepted
    /// too; only its path is used.
    pub fn requests(&self, path: &str) -> usize {
        self.shared.common.requests(path)
    }

    /// Total number of requests of any path.
    pub fn total_requests(&self) -> usize {
        self.shared.common.total_requests()
    }

    /// Paths of all requests so far, in arrival order (query strings
    /// dropped).
    pub fn request_log(&self) -> Vec<String> {
        self.shared.common.request_log()
    }

    /// For each request of `path` so far (query ignored; a full URL is
    /// accepted), in arrival order, the value of its header `name` (several
    /// joined with `", "`), `None` where it had none.
    pub fn request_headers(&self, path: &str, name: &str) -> Vec<Option<String>> {
        self.shared.common.request_headers(path, name)
    }

    /// Waits until `done` holds, testing it now and again after each
    /// request the origin records: for a condition on what the origin has
    /// seen ([`requests`](Self::requests),
    /// [`request_headers`](Self::request_headers)), without polling.
    pub async fn wait_until(&self, done: impl FnMut() -> bool) {
        self.shared.common.wait_until(done).await;
    }

    /// For each request of `path` so far (as
    /// [`request_headers`](Self::request_headers)), its method (`GET`, `HEAD`).
    pub fn request_methods(&self, path: &str) -> Vec<String> {
        self.shared.common.request_methods(path)
    }

    /// Compresses every whole `200` answer (not a range) with `coding`
    /// when the request's `Accept-Encoding` lists it (`Content-Encoding`,
    /// `Vary: accept-encoding`, no `Accept-Ranges`); `None` stops.
    pub fn compress(&self, coding: Option<Compression>) {
        self.shared.common.compress(coding);
    }

    /// Adds `Set-Cookie: cookie` to every successful playlist answer
    /// (`.m3u8`); `None` stops. Whether later requests carry the cookie
    /// shows in [`request_headers`](Self::request_headers).
    pub fn set_cookie(&self, cookie: Option<&str>) {
        self.shared.common.set_cookie(cookie);
    }

    /// Forgets all request counters and the request log.
    pub fn reset_requests(&self) {
        self.shared.common.reset_requests();
    }

    /// After `n` more media-segment requests (`/v{v}/seg/{i}.ts` or
    /// `/v{v}/all.ts`, any variant or rendition) succeed, every further
    /// media-segment request gets 500. `Some(0)` fails the very next one.
    /// `None` heals. Playlists, init segments and the key are not affected.
    #[cfg(feature = "faults")]
    pub fn set_fail_after(&self, n: Option<usize>) {
        *lock(&self.shared.fail_after) = n;
    }

    /// The next request of `path` (query ignored; a full URL is accepted)
    /// gets `status`, with `Retry-After: retry_after` if given; later ones
    /// are served as usual.
    #[cfg(feature = "faults")]
    pub fn fail_next(&self, path: &str, status: u16, retry_after: Option<&str>) {
        self.shared.common.fail_next(path, status, retry_after);
    }

    /// Successful `GET`s of `path` (query ignored; any resource) send their
    /// body `chunk` bytes at a time, sleeping `every` before each chunk but
    /// the first: a slow link whose pauses never exceed `every`. A
    /// [`cut`](Self::cut) wins over it, it wins over a [`hold`](Self::hold).
    #[cfg(feature = "faults")]
    pub fn trickle(&self, path: &str, chunk: usize, every: std::time::Duration) {
        self.shared.common.trickle(path, chunk, every);
    }

    /// Holds back the body of `path` (query ignored; a full URL is
    /// accepted; any resource): its successful `GET` responses announce the
    /// full `Content-Length`, send (and flush) the first `after` bytes, then
    /// wait until the returned [`Hold`] is released or dropped, then send
    /// the rest. A later `hold` of the same path replaces this one.
    #[cfg(feature = "faults")]
    pub fn hold(&self, path: &str, after: usize) -> Hold {
        self.shared.common.hold(path, after)
    }

    /// While `Some(after)`, successful `GET` responses for `path` (query
    /// ignored; any resource) announce the full `Content-Length`, send
    /// `after` bytes, then abort the connection (an origin that dies
    /// mid-body). `None` heals. A cut wins over a [`hold`](Self::hold).
    #[cfg(feature = "faults")]
    pub fn cut(&self, path: &str, after: Option<usize>) {
        self.shared.common.cut(path, after);
    }

    /// Forces `status` for every request of `path` (query ignored; a full
    /// URL is accepted), before any other processing; `None` removes the
    /// override. A status that is not a valid HTTP code becomes 500.
    #[cfg(feature = "faults")]
    pub fn set_status(&self, path: &str, status: Option<u16>) {
        self.shared.common.set_status(path, status);
    }

    /// The content of `track`.
    #[track_caller]
    pub(crate) fn content(&self, track: Track) -> &TrackContent {
        self.shared.track(track).unwrap_or_else(|| match track {
            Track::Variant(v) => panic!(
                "variant {v} out of range: the origin has {} variants",
                self.shared.variants.len()
            ),
            Track::Audio(k) => panic!(
                "audio rendition {k} out of range: the origin has {} audio renditions",
                self.shared.audio.len()
            ),
        })
    }

    /// URL of the init segment of `track`, signed when signing.
    pub(crate) fn track_init_url(&self, track: Track) -> Option<Url> {
        self.shared
            .config
            .init
            .then(|| self.signed_url(&playlist::init_path(track)))
    }

    /// URL of `path` with `?token=` when signing.
    pub(crate) fn signed_url(&self, path: &str) -> Url {
        let mut url = self.url(path);
        if let Some(token) = self.shared.tokens.current() {
            url.set_query(Some(&format!("token={token}")));
        }
        url
    }
}

/// The init segment (if any) followed by every plaintext.
pub(crate) fn expected_stream(content: &TrackContent) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(init) = &content.init {
        out.extend_from_slice(init);
    }
    for plain in &content.plaintexts {
        out.extend_from_slice(plain);
    }
    out
}
