//! The one error type of the crate.

use std::io::ErrorKind;
use std::sync::Arc;

use kithara_cache::CacheError;
use thiserror::Error;

/// Everything that can stop an HLS session. Every variant names the resource it
/// concerns; none ever carries key bytes.
///
/// Cheap to clone: the errors it wraps are shared (`Arc`), so every task
/// waiting on one failed fetch gets an error of the same kind.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum HlsError {
    /// Offline mode and the resource is not in the cache.
    #[error("offline: {url} is not in the cache")]
    OfflineMiss {
        /// The resource that was needed.
        url: String,
    },
    /// The media playlist has no `EXT-X-ENDLIST`: a live (or EVENT) stream,
    /// which a VOD session would freeze into a snapshot. Nothing of it is
    /// cached.
    #[error("live playlist (no EXT-X-ENDLIST): {url}")]
    Live {
        /// The live media playlist.
        url: String,
    },
    /// A followed live playlist brought no new segment for 3 target
    /// durations (RFC 8216 §6.3.4 reload schedule).
    #[error("live playlist stopped advancing for {} s: {url}", after.as_secs_f64())]
    LiveStalled {
        /// The live media playlist.
        url: String,
        /// How long it went without a new segment.
        after: std::time::Duration,
    },
    /// The server answered with a status that is not a success (after retries for 5xx).
    #[error("HTTP {status} for {url}")]
    Http {
        /// The resource requested.
        url: String,
        /// The final HTTP status.
        status: u16,
    },
    /// The request could not be completed (connection, timeout, body), after retries.
    #[error("network error for {url}: {}", chain(.source.as_ref()))]
    Network {
        /// The resource requested.
        url: String,
        /// The underlying error (stripped of its URL, which may carry key
        /// query values), shared.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// No bytes came for the idle-read timeout ([`HlsOptions::read_timeout`](crate::HlsOptions::read_timeout))
    /// while waiting for an answer or inside its body, after retries.
    #[error("no data from {url} for {} s (read timeout)", idle.as_secs_f64())]
    Stalled {
        /// The resource requested.
        url: String,
        /// The idle-read timeout.
        idle: std::time::Duration,
    },
    /// One request took longer than [`HlsOptions::request_timeout`](crate::HlsOptions::request_timeout),
    /// after retries.
    #[error("request for {url} timed out after {} s", limit.as_secs_f64())]
    TimedOut {
        /// The resource requested.
        url: String,
        /// The whole-request limit.
        limit: std::time::Duration,
    },
    /// A redirect was not followed: a loop or more than 10 hops, or a target
    /// that is not `http`/`https` (e.g. `file:///etc/passwd`).
    #[error("redirect refused for {url}: {reason}")]
    Redirect {
        /// The resource requested.
        url: String,
        /// Why the redirect was refused.
        reason: String,
    },
    /// The server's answer does not fit the request (e.g. a wrong byte range).
    #[error("bad response for {url}: {reason}")]
    BadResponse {
        /// The resource requested.
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend, invalid header in the options).
    #[error("HTTP client setup: {reason}")]
    ClientSetup {
        /// What failed.
        reason: String,
    },
    /// A resource is larger than the options allow.
    #[error("{url} is too large: more than {limit} bytes")]
    TooLarge {
        /// The resource requested.
        url: String,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// A playlist is malformed, of the wrong kind, or exceeds a bound.
    #[error("bad playlist {url}: {reason}")]
    Playlist {
        /// The playlist.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL is not `http` or `https` (a remote playlist may not point at local files).
    #[error("unsupported URL scheme in {url}: only http and https are allowed")]
    UnsupportedScheme {
        /// The offending URL.
        url: String,
    },
    /// A URL could not be parsed or resolved.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL or URI as written.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The master playlist has no variant that matches the selection.
    #[error("no variant {requested} in {url} ({available} available)")]
    NoSuchVariant {
        /// The master playlist.
        url: String,
        /// The selection, as text.
        requested: String,
        /// How many variants the master playlist has.
        available: usize,
    },
    /// No `EXT-X-MEDIA` rendition of the master playlist has that `NAME`
    /// (or a media playlist was opened, which has none).
    #[error("no rendition named {name:?} in {url}")]
    NoSuchRendition {
        /// The playlist opened.
        url: String,
        /// The name asked for.
        name: String,
    },
    /// A key could not be obtained or used. Never contains key bytes.
    #[error("key {url}: {reason}")]
    Key {
        /// The key URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A cached (processed) key is unusable: it has the wrong length, or a
    /// segment does not decrypt with it. Online, the key is fetched and
    /// processed again (once) and the cached copy replaced, so this only
    /// happens offline, or when the fresh key is as bad. Never contains key
    /// bytes.
    #[error("cached key {url} is unusable: {reason}")]
    CachedKey {
        /// The key URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A segment could not be decrypted (wrong key, IV or padding).
    #[error("cannot decrypt {url}: {reason}")]
    Decrypt {
        /// The segment.
        url: String,
        /// What went wrong.
        reason: &'static str,
    },
    /// An encryption method this client does not implement (e.g. SAMPLE-AES).
    #[error("unsupported encryption {method} for {url}")]
    UnsupportedEncryption {
        /// The resource.
        url: String,
        /// The method as written in the playlist.
        method: String,
    },
    /// A prefetch could not store what it fetched: the cache refused writes
    /// with `CacheFull` (everything else pinned, or `max_bytes` too small) or
    /// they failed (I/O error, full disk, read-only cache). Playback only
    /// logs and counts these; a prefetch, whose purpose is the cache, fails.
    #[error(
        "{} resource(s) of {url} could not be cached: {}",
        refused + write_errors,
        not_cached_reason(*refused, *write_errors)
    )]
    NotCached {
        /// The session URL.
        url: String,
        /// Writes refused with `CacheFull` so far.
        refused: u64,
        /// Writes that failed otherwise so far.
        write_errors: u64,
    },
    /// The cache failed to open or to read (failed writes are only logged
    /// and counted: the bytes are served from memory). Shared.
    #[error("cache: {0}")]
    Cache(#[source] Arc<CacheError>),
    /// An internal task failed (panicked or was cancelled).
    #[error("internal task failed: {0}")]
    Task(String),
    /// An internal invariant does not hold: a bug in this crate.
    #[error("internal error (a bug in kithara-hls): {0}")]
    Internal(&'static str),
    /// A seek to a negative or overflowing position.
    #[error("invalid seek to a negative or overflowing position")]
    InvalidSeek,
    /// A seek by time to the end of the track or past it (the end of what
    /// the playlist lists so far, for a live one): no segment plays there.
    #[error("cannot seek to {requested:?}: the track lasts {duration:?}")]
    SeekPastEnd {
        /// The time asked for.
        requested: std::time::Duration,
        /// The track's duration (so far), by `EXTINF`.
        duration: std::time::Duration,
    },
}

fn not_cached_reason(full: u64, failed: u64) -> String {
    match (full, failed) {
        (_, 0) => "the cache is full".into(),
        (0, _) => "cache writes failed".into(),
        _ => format!("the cache is full ({full}) and writes failed ({failed})"),
    }
}

/// An error and its causes, `: `-separated (reqwest's own message for a
/// timed-out body is only "error decoding response body"; the cause says why).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl From<CacheError> for HlsError {
    fn from(e: CacheError) -> Self {
        HlsError::Cache(Arc::new(e))
    }
}

impl HlsError {
    /// True for [`HlsError::OfflineMiss`].
    pub fn is_offline_miss(&self) -> bool {
        matches!(self, HlsError::OfflineMiss { .. })
    }

    /// The URL this error names, if it names one.
    pub fn url(&self) -> Option<&str> {
        match self {
            HlsError::OfflineMiss { url }
            | HlsError::Live { url }
            | HlsError::LiveStalled { url, .. }
            | HlsError::Http { url, .. }
            | HlsError::Network { url, .. }
            | HlsError::Stalled { url, .. }
            | HlsError::TimedOut { url, .. }
            | HlsError::Redirect { url, .. }
            | HlsError::NotCached { url, .. }
            | HlsError::TooLarge { url, .. }
            | HlsError::BadResponse { url, .. }
            | HlsError::Playlist { url, .. }
            | HlsError::UnsupportedScheme { url }
            | HlsError::InvalidUrl { url, .. }
            | HlsError::NoSuchVariant { url, .. }
            | HlsError::NoSuchRendition { url, .. }
            | HlsError::Key { url, .. }
            | HlsError::CachedKey { url, .. }
            | HlsError::Decrypt { url, .. }
            | HlsError::UnsupportedEncryption { url, .. } => Some(url),
            HlsError::Cache(_)
            | HlsError::ClientSetup { .. }
            | HlsError::Task(_)
            | HlsError::Internal(_)
            | HlsError::InvalidSeek
            | HlsError::SeekPastEnd { .. } => None,
        }
    }
}

impl From<HlsError> for std::io::Error {
    fn from(e: HlsError) -> Self {
        let kind = match &e {
            HlsError::OfflineMiss { .. } => ErrorKind::NotFound,
            HlsError::Network { .. } => ErrorKind::ConnectionAborted,
            HlsError::Stalled { .. } | HlsError::TimedOut { .. } => ErrorKind::TimedOut,
            HlsError::Playlist { .. } | HlsError::Decrypt { .. } | HlsError::CachedKey { .. } => {
                ErrorKind::InvalidData
            }
            HlsError::UnsupportedScheme { .. }
            | HlsError::InvalidUrl { .. }
            | HlsError::NoSuchVariant { .. }
            | HlsError::NoSuchRendition { .. }
            | HlsError::InvalidSeek
            | HlsError::SeekPastEnd { .. } => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_cached_says_why() {
        let e = |refused, write_errors| {
            HlsError::NotCached {
                url: "http://h/m.m3u8".into(),
                refused,
                write_errors,
            }
            .to_string()
        };
        assert!(e(2, 0).starts_with(
            "2 resource(s) of http://h/m.m3u8 could not be cached: the cache is full"
        ));
        assert!(e(0, 3).ends_with("could not be cached: cache writes failed"));
        assert!(e(1, 1).starts_with("2 resource(s)"));
    }

    #[test]
    fn a_copy_keeps_the_kind_and_the_cause() {
        let source = reqwest::Client::new()
            .get("not a url")
            .build()
            .expect_err("a builder error");
        let e = HlsError::Network {
            url: "https://k.example/key".into(),
            source: Arc::new(source),
        };
        let copy = e.clone();
        assert!(matches!(&copy, HlsError::Network { url, .. } if url == "https://k.example/key"));
        assert_eq!(copy.to_string(), e.to_string());
        assert!(std::error::Error::source(&copy).is_some());
        let io = std::io::Error::from(copy);
        assert_eq!(io.kind(), ErrorKind::ConnectionAborted);

        let cache = HlsError::from(CacheError::ReadOnly {
            root: "/tmp/c".into(),
        });
        assert!(
            matches!(cache.clone(), HlsError::Cache(c) if matches!(*c, CacheError::ReadOnly { .. }))
        );
    }
}
