//! `HlsOptions` and the types it is built from.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kithara_cache::{AssetCache, Durability};
use reqwest::header::HeaderValue;
use url::Url;

use crate::error::HlsError;
use crate::fetch::{ClientSettings, RetryPolicy, header_map};

/// What a key processor returns when it cannot process a key. Its message ends
/// up in [`HlsError::Key`](crate::HlsError::Key), so it must not contain key bytes.
pub type KeyProcessorError = Box<dyn std::error::Error + Send + Sync>;

/// Turns the key bytes the server sent into the 16-byte AES-128 key
/// (e.g. unwrapping a DRM-wrapped key). Only its output is ever cached.
pub type KeyProcessor =
    Arc<dyn Fn(&[u8], &KeyContext) -> Result<Vec<u8>, KeyProcessorError> + Send + Sync>;

/// What a [`KeyProcessor`] is told about the key it processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyContext {
    /// The absolute URL of the key (as resolved from the playlist, before the
    /// extra query parameters of [`HlsOptions::key_query`] are added).
    pub key_url: Url,
    /// The IV of the first segment that needed this key (explicit, or derived
    /// from the media sequence number); `None` for an init segment without IV.
    /// A key is processed once per URL and session even when segments use
    /// different IVs (once more only to replace an unusable cached key).
    pub iv: Option<[u8; 16]>,
}

/// Where the resources of a session are kept.
#[derive(Clone)]
pub enum CacheMode {
    /// Everything (playlists, init segments, segments, processed keys) goes
    /// through this on-disk cache; a later session on the same cache finds it.
    Persistent(AssetCache),
    /// Segments and init segments live in a bounded in-memory cache and are
    /// never written to disk. Playlists and processed keys are written under
    /// `resource_root` (an on-disk cache opened there) when it is given, else
    /// they stay in memory too.
    Memory {
        /// The bound of the in-memory segment cache.
        max_bytes: u64,
        /// Where playlists and keys may be kept on disk.
        resource_root: Option<PathBuf>,
    },
}

impl fmt::Debug for CacheMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheMode::Persistent(_) => f.write_str("Persistent(..)"),
            CacheMode::Memory {
                max_bytes,
                resource_root,
            } => f
                .debug_struct("Memory")
                .field("max_bytes", max_bytes)
                .field("resource_root", resource_root)
                .finish(),
        }
    }
}

impl Default for CacheMode {
    fn default() -> Self {
        CacheMode::Memory {
            max_bytes: 64 << 20,
            resource_root: None,
        }
    }
}

/// Which variant of a master playlist is played.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VariantSelect {
    /// The n-th variant (0-based, in master-playlist order).
    Index(usize),
    /// The variant with the highest `BANDWIDTH` (the first of equals).
    #[default]
    Highest,
    /// The variant with the lowest `BANDWIDTH` (the first of equals).
    Lowest,
}

impl fmt::Display for VariantSelect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariantSelect::Index(n) => write!(f, "index {n}"),
            VariantSelect::Highest => f.write_str("highest"),
            VariantSelect::Lowest => f.write_str("lowest"),
        }
    }
}

/// Options of an [`HlsSession`](crate::HlsSession), as a builder. Every value
/// has a sane default.
#[derive(Clone)]
pub struct HlsOptions {
    pub(crate) cache: CacheMode,
    pub(crate) variant: VariantSelect,
    pub(crate) offline: bool,
    pub(crate) key_processor: Option<KeyProcessor>,
    pub(crate) key_query: Vec<(String, String)>,
    pub(crate) key_headers: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) user_agent: Option<String>,
    pub(crate) roots: Vec<Vec<u8>>,
    pub(crate) lookahead_segments: usize,
    pub(crate) lookahead_bytes: u64,
    pub(crate) max_playlist_bytes: u64,
    pub(crate) max_segments: usize,
    pub(crate) max_resource_bytes: u64,
    pub(crate) segment_durability: Durability,
    pub(crate) request_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) id_with_query: bool,
    pub(crate) follow_live: bool,
    pub(crate) rendition: Option<Rendition>,
    pub(crate) exclude_codecs: Vec<String>,
}

/// Which `EXT-X-MEDIA` rendition a session plays instead of its variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rendition {
    /// By `NAME` (one of the chosen variant's groups first).
    Name(String),
    /// By position among the master's renditions with a `URI` (prefetch).
    Index(usize),
}

impl fmt::Debug for HlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HlsOptions")
            .field("cache", &self.cache)
            .field("variant", &self.variant)
            .field("offline", &self.offline)
            .field("segment_durability", &self.segment_durability)
            .field("key_processor", &self.key_processor.is_some())
            .field(
                "key_query",
                &self.key_query.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "key_headers",
                &self.key_headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("user_agent", &self.user_agent)
            .field("roots", &self.roots.len())
            .field("lookahead_segments", &self.lookahead_segments)
            .field("lookahead_bytes", &self.lookahead_bytes)
            .field("max_playlist_bytes", &self.max_playlist_bytes)
            .field("max_segments", &self.max_segments)
            .field("max_resource_bytes", &self.max_resource_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retries", &self.retries)
            .field("follow_live", &self.follow_live)
            .field("rendition", &self.rendition)
            .field("exclude_codecs", &self.exclude_codecs)
            .finish_non_exhaustive()
    }
}

impl Default for HlsOptions {
    fn default() -> Self {
        Self {
            cache: CacheMode::default(),
            variant: VariantSelect::default(),
            offline: false,
            key_processor: None,
            key_query: Vec::new(),
            key_headers: Vec::new(),
            headers: Vec::new(),
            user_agent: None,
            roots: Vec::new(),
            lookahead_segments: 3,
            lookahead_bytes: 16 << 20,
            max_playlist_bytes: 4 << 20,
            max_segments: 100_000,
            max_resource_bytes: 256 << 20,
            segment_durability: Durability::Buffered,
            request_timeout: Duration::from_secs(600),
            read_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            retry_backoff: Duration::from_millis(200),
            id_with_query: false,
            follow_live: true,
            rendition: None,
            exclude_codecs: Vec::new(),
        }
    }
}

impl HlsOptions {
    /// The defaults: memory mode (64 MiB), highest-bandwidth variant, online.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where resources are kept (default: [`CacheMode::Memory`] of 64 MiB).
    pub fn cache(mut self, mode: CacheMode) -> Self {
        self.cache = mode;
        self
    }

    /// Which variant of a master playlist to play (default: [`VariantSelect::Highest`]).
    pub fn variant(mut self, select: VariantSelect) -> Self {
        self.variant = select;
        self
    }

    /// No network at all: every resource must come from the cache, and a
    /// missing one is a fatal [`HlsError::OfflineMiss`](crate::HlsError::OfflineMiss).
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Process every fetched key before use and caching (e.g. unwrap it).
    pub fn key_processor(mut self, processor: KeyProcessor) -> Self {
        self.key_processor = Some(processor);
        self
    }

    /// Add a query parameter to every key request (not to other requests).
    pub fn key_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.key_query.push((name.into(), value.into()));
        self
    }

    /// Add a header to every key request (not to other requests). Its value is never logged.
    pub fn key_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.key_headers.push((name.into(), value.into()));
        self
    }

    /// Add a header to every request: playlists, segments and keys (a
    /// CDN's token, say). Its value is never logged. An invalid name or
    /// value makes opening the session fail with
    /// [`HlsError::ClientSetup`] naming the header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `User-Agent` of every request (default `kithara-hls/VERSION`).
    pub fn user_agent(mut self, value: impl Into<String>) -> Self {
        self.user_agent = Some(value.into());
        self
    }

    /// Trust this certificate (PEM) as a root besides the built-in web
    /// roots: a private CA, or a test server's self-signed certificate. An
    /// invalid one makes opening the session fail with
    /// [`HlsError::ClientSetup`].
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(pem.into());
        self
    }

    /// How many segments may be fetched ahead of the reader, in flight or
    /// waiting to be read (default 3, at least 1).
    pub fn lookahead_segments(mut self, n: usize) -> Self {
        self.lookahead_segments = n.max(1);
        self
    }

    /// No new look-ahead fetch starts while this many fetched, unread bytes
    /// wait ahead of the reader (default 16 MiB).
    pub fn lookahead_bytes(mut self, n: u64) -> Self {
        self.lookahead_bytes = n;
        self
    }

    /// The largest playlist accepted (default 4 MiB).
    pub fn max_playlist_bytes(mut self, n: u64) -> Self {
        self.max_playlist_bytes = n;
        self
    }

    /// The most segments a media playlist (or variants a master) may have (default 100 000).
    pub fn max_segments(mut self, n: usize) -> Self {
        self.max_segments = n;
        self
    }

    /// The largest segment, init segment or key accepted (default 256 MiB).
    pub fn max_resource_bytes(mut self, n: u64) -> Self {
        self.max_resource_bytes = n;
        self
    }

    /// How init and media segments are written to a persistent cache
    /// (default `Buffered`: a process crash never tears one; a power cut may
    /// lose the last few, or on ext4 and XFS leave them empty or short. An
    /// empty cached file, or a byte range of the wrong length, is treated as
    /// missing; a short whole-file segment is not detected).
    /// Playlists and keys always use the cache's own durability. `Sync`
    /// costs a file and a directory fsync per segment.
    pub fn segment_durability(mut self, durability: Durability) -> Self {
        self.segment_durability = durability;
        self
    }

    /// The longest wait for the next bytes of an answer, its head or its
    /// body (default 30 s): a stalled server fails the request with
    /// [`HlsError::Stalled`] (then it is retried), while a large segment on
    /// a slow but moving link completes however long it takes (up to
    /// [`request_timeout`](Self::request_timeout)).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// A bound on one whole request, body included (default 10 min), so
    /// that a server trickling a byte now and then cannot hold a session
    /// forever; exceeded, it is [`HlsError::TimedOut`] (then retried). The
    /// idle [`read_timeout`](Self::read_timeout) is what catches a stall.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The time limit to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many times a request is retried after a 5xx, a 408 or 429, a
    /// timeout or a connection error (default 3; other 4xx are never
    /// retried).
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// The first retry delay; it doubles on each retry, up to 5 s (default
    /// 200 ms). A 429 or 503 with `Retry-After` (seconds or an HTTP-date)
    /// waits that long instead when it is longer, up to 30 s.
    pub fn retry_backoff(mut self, delay: Duration) -> Self {
        self.retry_backoff = delay;
        self
    }

    /// Keep the query of the playlist URL in the asset identity (default: dropped).
    pub fn asset_id_with_query(mut self, keep: bool) -> Self {
        self.id_with_query = keep;
        self
    }

    /// Follow a live (or EVENT) playlist, one without `EXT-X-ENDLIST`
    /// (default `true`): the session reloads it (RFC 8216 §6.3.4), reads
    /// its segments as they appear and ends at `EXT-X-ENDLIST`. With
    /// `false`, opening one is [`HlsError::Live`](crate::HlsError::Live)
    /// and caches nothing.
    pub fn follow_live(mut self, follow: bool) -> Self {
        self.follow_live = follow;
        self
    }

    /// Play the master playlist's `EXT-X-MEDIA` rendition with this `NAME`
    /// (an alternate audio track, say) instead of the variant's own media;
    /// when several groups have one, the chosen variant's groups win. None
    /// is [`HlsError::NoSuchRendition`](crate::HlsError::NoSuchRendition).
    /// Its media are cached under `r{n}/` (`n`: its position among the
    /// renditions with a `URI`).
    pub fn rendition(mut self, name: impl Into<String>) -> Self {
        self.rendition = Some(Rendition::Name(name.into()));
        self
    }

    /// Codecs the caller cannot play (`CODECS` entries, matched by prefix:
    /// `"avc1"` excludes `avc1.64001f`): `Highest` and `Lowest` skip
    /// variants that list one. `Index` is taken as asked.
    pub fn exclude_codecs<I, S>(mut self, codecs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude_codecs = codecs.into_iter().map(Into::into).collect();
        self
    }
}

impl HlsOptions {
    /// The HTTP client's settings; an invalid [`header`](Self::header) or
    /// [`user_agent`](Self::user_agent) is [`HlsError::ClientSetup`].
    pub(crate) fn client_settings(&self) -> Result<ClientSettings, HlsError> {
        let user_agent = match &self.user_agent {
            None => None,
            Some(text) => Some(
                HeaderValue::from_str(text).map_err(|_| HlsError::ClientSetup {
                    reason: format!("invalid user agent {text:?}"),
                })?,
            ),
        };
        Ok(ClientSettings {
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            request_timeout: self.request_timeout,
            headers: header_map(&self.headers, "header")?,
            user_agent,
            roots: self.roots.clone(),
            policy: RetryPolicy {
                retries: self.retries,
                base: self.retry_backoff,
            },
        })
    }
}
