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
/// length (see [`HlsSession::content_length`]); [`seek_time`](Self::seek_time)
/// seeks by time.
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

/// The runtime a reader drives its session on: the current multi-thread
/// runtime if there is one, else one of its own made by `own`. A
/// current-thread runtime cannot run the look-ahead while the reader blocks,
/// so it does not count.
fn choose_runtime(own: impl FnOnce() -> Result<Runtime, HlsError>) -> Result<Rt, HlsError> {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => Ok(Rt::Handle(h)),
        _ => own().map(Rt::Owned),
    }
}

impl BlockingReader {
    /// Fails only when a runtime of its own is needed and cannot be started.
    pub(crate) fn new(session: HlsSession) -> Result<Self, HlsError> {
        let rt = choose_runtime(own_runtime)?;
        Ok(Self { session, rt })
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

    /// Move to time `t` of the track; see [`HlsSession::seek_time`].
    pub fn seek_time(&mut self, t: std::time::Duration) -> io::Result<u64> {
        self.rt
            .block_on(self.session.seek_time(t))
            .map_err(io::Error::from)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failing() -> Result<Runtime, HlsError> {
        Err(HlsError::ClientSetup {
            reason: "no threads".into(),
        })
    }

    #[test]
    fn no_runtime_and_none_can_be_started_is_an_error_not_a_panic() {
        assert!(matches!(
            choose_runtime(failing),
            Err(HlsError::ClientSetup { .. })
        ));
        assert!(matches!(choose_runtime(own_runtime), Ok(Rt::Owned(_))));
    }

    #[test]
    fn a_multi_thread_runtime_is_reused_a_current_thread_one_is_not() {
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        multi.block_on(async {
            assert!(matches!(choose_runtime(failing), Ok(Rt::Handle(_))));
        });
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        current.block_on(async {
            assert!(matches!(
                choose_runtime(failing),
                Err(HlsError::ClientSetup { .. })
            ));
        });
    }
}
