//! `ProxyOptions`: what a proxy serves from, where it listens, how it talks
//! to origins, and its limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use kithara_cache::AssetCache;
use kithara_hls::KeyProcessor;

/// How a [`Proxy`](crate::Proxy) is set up: a consuming builder.
#[derive(Clone)]
pub struct ProxyOptions {
    pub(crate) cache: AssetCache,
    pub(crate) listen: SocketAddr,
    pub(crate) allow_remote: bool,
    pub(crate) offline: bool,
    pub(crate) key_processor: Option<KeyProcessor>,
    pub(crate) key_query: Vec<(String, String)>,
    pub(crate) key_headers: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) pin_linger: Duration,
    pub(crate) id_with_query: bool,
    pub(crate) extras_hosts: Vec<String>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) event_loops: usize,
}

/// The bounds that keep one client, page or origin from exhausting the
/// proxy. Each refusal is a status, never a crash or an unbounded buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Request line and headers, in bytes (beyond: 431). At least 8 KiB.
    pub max_header_bytes: usize,
    /// How long a connection may take to send a request's headers, idle
    /// keep-alive time included (slowloris); then it is closed.
    pub header_timeout: Duration,
    /// Client connections at once; more wait in the listen queue.
    pub max_connections: usize,
    /// How long a response may wait for a client that does not read it;
    /// then the connection is closed.
    pub write_timeout: Duration,
    /// Upstream fetches at once; more wait for a turn.
    pub max_upstream: usize,
    /// The largest playlist fetched (beyond: 502).
    pub max_playlist_bytes: u64,
    /// The most segments (or variants) a playlist may list (beyond: 502).
    pub max_segments: usize,
    /// The largest segment, init segment or key fetched (beyond: 502).
    pub max_resource_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
            write_timeout: Duration::from_secs(30),
            max_upstream: 32,
            max_playlist_bytes: 16 << 20,
            max_segments: 100_000,
            max_resource_bytes: 1 << 30,
        }
    }
}

impl ProxyOptions {
    /// A proxy serving from (and filling) `cache`, on `127.0.0.1:0`.
    pub fn new(cache: AssetCache) -> Self {
        Self {
            cache,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_remote: false,
            offline: false,
            key_processor: None,
            key_query: Vec::new(),
            key_headers: Vec::new(),
            headers: Vec::new(),
            pin_linger: Duration::from_secs(30),
            id_with_query: false,
            extras_hosts: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            event_loops: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Where to listen (default `127.0.0.1:0`, an ephemeral port). A
    /// non-loopback address also needs [`allow_remote`](Self::allow_remote).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Allow listening on a non-loopback address (default `false`). Every
    /// path still needs the proxy's random token.
    #[must_use]
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// Never contact an origin: serve what is cached, answer 504 for the
    /// rest (default `false`).
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Process keys before they are cached and served (as in kithara-hls):
    /// players get, and the cache keeps, only the processor's output.
    #[must_use]
    pub fn key_processor(mut self, processor: KeyProcessor) -> Self {
        self.key_processor = Some(processor);
        self
    }

    /// Add `name=value` to the query of every key request.
    #[must_use]
    pub fn key_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.key_query.push((name.into(), value.into()));
        self
    }

    /// Send `name: value` with every key request (and only those).
    #[must_use]
    pub fn key_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.key_headers.push((name.into(), value.into()));
        self
    }

    /// Send `name: value` with every upstream request.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How long an asset stays pinned after its last request (default 30 s:
    /// players fetch segments one by one, and the track must not be evicted
    /// between two of them).
    #[must_use]
    pub fn pin_linger(mut self, linger: Duration) -> Self {
        self.pin_linger = linger;
        self
    }

    /// Whether the query of a `play?url=` URL is part of the asset's
    /// identity (default `false`: signed URLs whose tokens change are one
    /// track; `true` for services that name tracks by a query parameter).
    #[must_use]
    pub fn asset_id_with_query(mut self, keep: bool) -> Self {
        self.id_with_query = keep;
        self
    }

    /// Another host (`host` or `host:port`) that may receive the extra
    /// headers and key extras. By default they go only to the host of the
    /// top playlist a player opened: a playlist naming another key server
    /// must not collect the app's credentials. Redirects of such requests
    /// are followed only on the same host.
    #[must_use]
    pub fn extras_host(mut self, host: impl Into<String>) -> Self {
        self.extras_hosts.push(host.into());
        self
    }

    /// How long to wait for an origin to accept a connection (default 5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long to wait for an origin's response head, and at most between
    /// two pieces of its body (default 10 s).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many event loops serve client connections (default: one per
    /// core). Each is a thread with a current-thread tokio runtime; a
    /// connection, and what its requests start, stays on one loop, so a
    /// small hit is served without a wake-up across threads. 0 serves
    /// connections on the runtime that called [`Proxy::start`](crate::Proxy::start).
    #[must_use]
    pub fn event_loops(mut self, n: usize) -> Self {
        self.event_loops = n;
        self
    }

    /// The limits (see [`Limits`]).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

impl std::fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be secrets: names only.
        let names = |h: &[(String, String)]| h.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        f.debug_struct("ProxyOptions")
            .field("listen", &self.listen)
            .field("allow_remote", &self.allow_remote)
            .field("offline", &self.offline)
            .field("key_processor", &self.key_processor.is_some())
            .field("key_query", &names(&self.key_query))
            .field("key_headers", &names(&self.key_headers))
            .field("headers", &names(&self.headers))
            .field("pin_linger", &self.pin_linger)
            .field("limits", &self.limits)
            .field("event_loops", &self.event_loops)
            .finish_non_exhaustive()
    }
}
