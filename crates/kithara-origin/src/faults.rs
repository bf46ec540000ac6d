//! Faults a test injects into one path's responses: hold back the rest of a
//! body until released (to show a client got the first bytes before the
//! origin sent the last), cut a body short after announcing its full
//! length (an origin that dies mid-body), or trickle it in small chunks
//! with a pause between them (a slow link that never stalls for long).
//!
//! A fault applies to the body of a successful (200 or 206) `GET` response
//! of its path, after everything else (status overrides, authorization,
//! ranges) has been decided.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::watch;

/// Holds back the rest of a body until [`Hold::release`] (or drop).
///
/// Returned by [`HlsOrigin::hold`](crate::HlsOrigin::hold) and
/// [`DirOrigin::hold`](crate::DirOrigin::hold). Every response of the held
/// path started before the release waits; once released, responses go
/// through in full, now and later. Dropping the `Hold` releases it, so keep
/// it in a variable for as long as the bytes are to be held.
#[derive(Debug)]
pub struct Hold {
    release: watch::Sender<bool>,
}

impl Hold {
    /// Lets the held-back bytes go.
    pub fn release(self) {
        // Drop sends it.
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.release.send(true);
    }
}

/// The fault of one response.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Send `after` bytes, then wait for the release, then the rest.
    Hold {
        after: usize,
        released: watch::Receiver<bool>,
    },
    /// Send `after` bytes, then abort the connection.
    Cut { after: usize },
    /// Send `chunk` bytes at a time, pausing `every` before each but the first.
    Trickle { chunk: usize, every: Duration },
}

impl Fault {
    /// The response body for `body` with this fault. The caller announces
    /// `Content-Length: body.len()`.
    pub(crate) fn body(self, body: Bytes) -> Body {
        match self {
            Self::Cut { after } => {
                let first = body.slice(..after.min(body.len()));
                let first = futures_util::stream::once(async move { Ok::<_, io::Error>(first) });
                // One `Pending` first: the server flushes the head and the
                // first bytes to the socket before the body fails and the
                // connection is aborted.
                let die = futures_util::stream::once(async {
                    tokio::task::yield_now().await;
                    Err::<Bytes, _>(io::Error::other("the origin died mid-body"))
                });
                Body::from_stream(first.chain(die))
            }
            Self::Trickle { chunk, every } => {
                let chunk = chunk.max(1);
                let pieces: Vec<Bytes> = (0..body.len())
                    .step_by(chunk)
                    .map(|at| body.slice(at..(at + chunk).min(body.len())))
                    .collect();
                let stream = futures_util::stream::iter(pieces.into_iter().enumerate()).then(
                    move |(n, piece)| async move {
                        if n > 0 {
                            tokio::time::sleep(every).await;
                        }
                        Ok::<_, io::Error>(piece)
                    },
                );
                Body::from_stream(stream)
            }
            Self::Hold {
                after,
                mut released,
            } => {
                let split = after.min(body.len());
                let (first, rest) = (body.slice(..split), body.slice(split..));
                let first = futures_util::stream::once(async move { Ok::<_, io::Error>(first) });
                let rest = futures_util::stream::once(async move {
                    // Also resolves when the `Hold` is gone (it sends first).
                    let _ = released.wait_for(|released| *released).await;
                    Ok::<_, io::Error>(rest)
                });
                Body::from_stream(first.chain(rest))
            }
        }
    }
}

/// The faults set per path (the counter key: path without query).
#[derive(Debug, Default)]
pub(crate) struct Faults {
    holds: Mutex<HashMap<String, (usize, watch::Receiver<bool>)>>,
    cuts: Mutex<HashMap<String, usize>>,
    trickles: Mutex<HashMap<String, (usize, Duration)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Faults {
    pub(crate) fn hold(&self, path: String, after: usize) -> Hold {
        let (tx, rx) = watch::channel(false);
        lock(&self.holds).insert(path, (after, rx));
        Hold { release: tx }
    }

    pub(crate) fn cut(&self, path: String, after: Option<usize>) {
        match after {
            Some(n) => lock(&self.cuts).insert(path, n),
            None => lock(&self.cuts).remove(&path),
        };
    }

    pub(crate) fn trickle(&self, path: String, chunk: usize, every: Duration) {
        lock(&self.trickles).insert(path, (chunk, every));
    }

    /// The fault set for `path`, if any; a cut wins over a trickle, a
    /// trickle over a hold. A released hold is forgotten.
    pub(crate) fn get(&self, path: &str) -> Option<Fault> {
        if let Some(after) = lock(&self.cuts).get(path).copied() {
            return Some(Fault::Cut { after });
        }
        if let Some((chunk, every)) = lock(&self.trickles).get(path).copied() {
            return Some(Fault::Trickle { chunk, every });
        }
        let mut holds = lock(&self.holds);
        let (after, released) = holds.get(path)?.clone();
        if *released.borrow() {
            holds.remove(path);
            return None;
        }
        Some(Fault::Hold { after, released })
    }
}
