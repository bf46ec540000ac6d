//! The CLI's errors: each prints as one line after `error: `, and the
//! exit statuses: 0 success, 1 runtime error, 2 usage error, 3 `verify`
//! found problems.

use std::io;
use std::path::PathBuf;

use kithara_cache::CacheError;
use kithara_hls::HlsError;
use thiserror::Error;

/// Everything a command can fail with.
#[derive(Debug, Error)]
pub enum CliError {
    /// From the cache (in use, full, I/O ...).
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// From the HLS client (network, playlist, offline miss ...).
    #[error(transparent)]
    Hls(#[from] HlsError),
    /// From the proxy (cannot listen ...).
    #[error(transparent)]
    Proxy(#[from] kithara_proxy::ProxyError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// What was asked for is not in the cache.
    #[error("{0}")]
    NotFound(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    /// A check failed (demo).
    #[error("{0}")]
    Check(String),
    /// Local I/O outside the cache.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Exit status of a usage error (as clap's own).
pub const USAGE: u8 = 2;
/// Exit status of a runtime error.
pub const RUNTIME: u8 = 1;
// 3: `verify` found problems (the command itself ran); see verify.rs.

impl CliError {
    /// The exit status: [`USAGE`] for bad arguments, else [`RUNTIME`].
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            _ => RUNTIME,
        }
    }

    /// Wraps an I/O error with what was being done and where.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| CliError::Io { what, path, source }
    }
}

/// The error and its causes on one line.
pub fn one_line(e: &CliError) -> String {
    if let CliError::Hls(HlsError::OfflineMiss { url }) = e {
        return format!("offline miss: {url}");
    }
    let mut line = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line.replace('\n', " ")
}
