//! Errors of the proxy: starting it, and what a request can run into
//! (each of the latter maps to one HTTP status).

use std::net::SocketAddr;

use http::StatusCode;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The listen address is not a loopback address and remote clients were
    /// not allowed ([`ProxyOptions::allow_remote`](crate::ProxyOptions::allow_remote)).
    #[error(
        "refusing to listen on {addr}: not a loopback address (allow remote clients to listen there)"
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The listen socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The upstream HTTP client could not be built, or a configured header
    /// is invalid.
    #[error("invalid upstream client setup: {reason}")]
    Setup {
        /// What is wrong (never a header's value: it may be a secret).
        reason: String,
    },
}

/// What went wrong serving one request; each is one status and a one-line
/// plain-text body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Nothing is served there (wrong token, path outside the proxy).
    #[error("not found")]
    NotFound,
    /// A path of an asset this proxy did not open, or a resource no playlist
    /// it served references.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The request is malformed (an unusable `url=`, a non-http scheme).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The `Host` header names another server (DNS rebinding).
    #[error("misdirected request: wrong Host")]
    Misdirected,
    /// Only GET, HEAD and OPTIONS.
    #[error("method not allowed")]
    Method,
    /// A request head over the size limit, or with too many headers.
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// A `Range` that does not overlap the resource.
    #[error("range not satisfiable")]
    Range {
        /// The resource's length, for `Content-Range: bytes */len`.
        len: u64,
    },
    /// The resource is not cached and the origin cannot be reached (or the
    /// proxy is offline).
    #[error("gateway timeout: {0} is not cached and the origin is unreachable")]
    Offline(String),
    /// The origin answered with an error, or something unusable.
    #[error("bad gateway: {0}")]
    Upstream(String),
}

impl Refusal {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            Self::Method => StatusCode::METHOD_NOT_ALLOWED,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Offline(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }
}
