//! The one error type of the crate.

use kithara_cache::CacheError;
use thiserror::Error;

/// Everything that can stop an HLS session. Every variant names the resource it
/// concerns; none ever carries key bytes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HlsError {
    /// Offline mode and the resource is not in the cache.
    #[error("offline: {url} is not in the cache")]
    OfflineMiss {
        /// The resource that was needed.
        url: String,
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
    #[error("network error for {url}: {}", chain(.source))]
    Network {
        /// The resource requested.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
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
    /// A key could not be obtained or used. Never contains key bytes.
    #[error("key {url}: {reason}")]
    Key {
        /// The key URL.
        url: String,
        /// What went wrong.
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
    /// with `CacheFull` (everything else pinned, or `max_bytes` too small).
    /// Playback only logs this; a prefetch, whose purpose is the cache, fails.
    #[error("{refused} resource(s) of {url} could not be cached: the cache is full")]
    NotCached {
        /// The session URL.
        url: String,
        /// Writes refused so far.
        refused: u64,
    },
    /// The cache failed (other than being full, which is only logged).
    #[error("cache: {0}")]
    Cache(#[from] CacheError),
    /// An internal task failed (panicked or was cancelled).
    #[error("internal task failed: {0}")]
    Task(String),
    /// A seek to a negative or overflowing position.
    #[error("invalid seek to a negative or overflowing position")]
    InvalidSeek,
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

impl HlsError {
    /// A copy of this error for a second party (e.g. every task waiting on
    /// the same key). Errors that cannot be copied (they hold an I/O or
    /// network error) become an error of the same resource with the message.
    pub(crate) fn duplicate(&self) -> HlsError {
        match self {
            HlsError::OfflineMiss { url } => HlsError::OfflineMiss { url: url.clone() },
            HlsError::Http { url, status } => HlsError::Http {
                url: url.clone(),
                status: *status,
            },
            HlsError::BadResponse { url, reason } => HlsError::BadResponse {
                url: url.clone(),
                reason: reason.clone(),
            },
            HlsError::TooLarge { url, limit } => HlsError::TooLarge {
                url: url.clone(),
                limit: *limit,
            },
            HlsError::Key { url, reason } => HlsError::Key {
                url: url.clone(),
                reason: reason.clone(),
            },
            HlsError::UnsupportedScheme { url } => HlsError::UnsupportedScheme { url: url.clone() },
            HlsError::NotCached { url, refused } => HlsError::NotCached {
                url: url.clone(),
                refused: *refused,
            },
            HlsError::Redirect { url, reason } => HlsError::Redirect {
                url: url.clone(),
                reason: reason.clone(),
            },
            other => match other.url() {
                Some(url) => HlsError::BadResponse {
                    url: url.to_owned(),
                    reason: other.to_string(),
                },
                None => HlsError::Task(other.to_string()),
            },
        }
    }

    /// True for [`HlsError::OfflineMiss`].
    pub fn is_offline_miss(&self) -> bool {
        matches!(self, HlsError::OfflineMiss { .. })
    }

    /// The URL this error names, if it names one.
    pub fn url(&self) -> Option<&str> {
        match self {
            HlsError::OfflineMiss { url }
            | HlsError::Http { url, .. }
            | HlsError::Network { url, .. }
            | HlsError::Redirect { url, .. }
            | HlsError::NotCached { url, .. }
            | HlsError::TooLarge { url, .. }
            | HlsError::BadResponse { url, .. }
            | HlsError::Playlist { url, .. }
            | HlsError::UnsupportedScheme { url }
            | HlsError::InvalidUrl { url, .. }
            | HlsError::NoSuchVariant { url, .. }
            | HlsError::Key { url, .. }
            | HlsError::Decrypt { url, .. }
            | HlsError::UnsupportedEncryption { url, .. } => Some(url),
            HlsError::Cache(_)
            | HlsError::ClientSetup { .. }
            | HlsError::Task(_)
            | HlsError::InvalidSeek => None,
        }
    }
}

impl From<HlsError> for std::io::Error {
    fn from(e: HlsError) -> Self {
        let kind = match &e {
            HlsError::OfflineMiss { .. } => std::io::ErrorKind::NotFound,
            HlsError::Network { .. } => std::io::ErrorKind::ConnectionAborted,
            HlsError::Playlist { .. } | HlsError::Decrypt { .. } => std::io::ErrorKind::InvalidData,
            HlsError::UnsupportedScheme { .. }
            | HlsError::InvalidUrl { .. }
            | HlsError::NoSuchVariant { .. }
            | HlsError::InvalidSeek => std::io::ErrorKind::InvalidInput,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
