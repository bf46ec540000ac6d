//! `BlockingReader`: `std::io::Read + Seek` over a session, for decoders that
//! want a file-like source.

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::HlsError;
use crate::options::HlsOptions;
use crate::session::HlsSession;

enum Rt {
    /// A multi-thread runtime owned elsewhere; its workers run the look-ahead.
    Handle(Handle),
    /// A runtime of our own.
    Owned(Runtime),
}

impl Rt {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        match self {
            Rt::Handle(h) => h.block_on(f),
            Rt::Owned(rt) => rt.block_on(f),
        }
    }
}

fn own_runtime() -> Result<Runtime, HlsError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kithara-hls")
        .enable_all()
        .build()
        .map_err(|e| HlsError::ClientSetup {
            reason: format!("cannot start a tokio runtime: {e}"),
        })
}

/// A blocking, seekable reader over an [`HlsSession`].
///
/// Its methods block the calling thread: use it from a plain thread (e.g. a
/// decoder thread), never from inside an async task. It drives the session on
/// the multi-thread tokio runtime it was created in (see
/// [`HlsSession::into_blocking`]) or on a runtime of its own (see
/// [`HlsSession::open_blocking`], or when created outside a multi-thread
/// runtime). A reader that owns its runtime must be dropped outside async
/// code too.
///
/// Seeking to any offset works; [`SeekFrom::End`] first learns the stream
/// length by fetching forward through the cache.
pub struct BlockingReader {
    // Field order matters: the session (and its tasks) go before the runtime.
    session: HlsSession,
    rt: Rt,
}

impl std::fmt::Debug for BlockingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingReader")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl BlockingReader {
    pub(crate) fn new(session: HlsSession) -> Self {
        let rt = match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => Rt::Handle(h),
            // A current-thread runtime cannot run the look-ahead while we block.
            _ => match own_runtime() {
                Ok(rt) => Rt::Owned(rt),
                Err(e) => {
                    tracing::error!(error = %e, "falling back to the current runtime");
                    Rt::Handle(Handle::current())
                }
            },
        };
        Self { session, rt }
    }

    pub(crate) fn open(url: &str, options: HlsOptions) -> Result<Self, HlsError> {
        let rt = own_runtime()?;
        let session = rt.block_on(HlsSession::open(url, options))?;
        Ok(Self {
            session,
            rt: Rt::Owned(rt),
        })
    }

    /// The session, e.g. for its stats.
    pub fn session(&self) -> &HlsSession {
        &self.session
    }

    /// The stream length once known (see [`HlsSession::len`]).
    pub fn len(&self) -> Option<u64> {
        self.session.len()
    }

    /// Whether the stream is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.session.is_empty()
    }

    /// Take the session back (keeping the runtime it needs alive is the caller's job).
    pub fn into_session(self) -> HlsSession {
        self.session
    }
}

impl Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rt
            .block_on(self.session.read(buf))
            .map_err(io::Error::from)
    }
}

impl Seek for BlockingReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.rt
            .block_on(self.session.seek(pos))
            .map_err(io::Error::from)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.session.position())
    }
}
