//! One upstream fetch per resource. The first request for an uncached
//! resource starts a flight ([`crate::tee`] fills it); every request for
//! it, the first included, follows the flight: it reads what has arrived
//! so far from the flight's spool (a file of its own) and waits for more. A late joiner gets the bytes already
//! received, then the rest; a slow reader never holds up the fetch, and no
//! request buffers a resource in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use kithara_cache::{AssetId, CachePath};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::error::Refusal;

/// A resource: its asset and path.
pub(crate) type Key = (AssetId, CachePath);

/// The flights under way.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<Key, Arc<Flight>>>,
}

/// How a request gets a resource.
pub(crate) enum Joined<T> {
    /// It is cached: serve the hit, open in `T`.
    Cached(T),
    /// Follow a flight already under way.
    Follow(Arc<Flight>),
    /// Start this new flight, then follow it.
    Lead(Arc<Flight>),
}

impl Flights {
    /// Join the flight for `key`; with none under way, `cached()` (asked
    /// under the same lock, so that a flight that lands in between is not
    /// missed) opens the hit, or says there is none and a flight starts.
    pub(crate) fn join<T>(&self, key: &Key, cached: impl FnOnce() -> Option<T>) -> Joined<T> {
        let mut map = self.map.lock();
        if let Some(f) = map.get(key) {
            return Joined::Follow(Arc::clone(f));
        }
        if let Some(hit) = cached() {
            return Joined::Cached(hit);
        }
        let flight = Arc::new(Flight {
            tx: watch::Sender::new(Progress::default()),
        });
        map.insert(key.clone(), Arc::clone(&flight));
        Joined::Lead(flight)
    }

    /// The flight for `key` has ended (its resource committed or dropped):
    /// later requests look in the cache.
    pub(crate) fn land(&self, key: &Key) {
        self.map.lock().remove(key);
    }
}

/// Where a flight's bytes can be read while they arrive: its spool file,
/// read at any offset, never moving a shared position.
#[derive(Clone, Debug)]
pub(crate) struct Spool(Arc<File>);

impl Spool {
    pub(crate) fn new(file: File) -> Self {
        Self(Arc::new(file))
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&*self.0, buf, offset)
    }
}

/// What a flight knows before its first byte.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    /// The resource's length, if the origin announced it.
    pub len: Option<u64>,
    pub spool: Spool,
}

/// Where a flight is.
#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    pub head: Option<Head>,
    /// Bytes readable from the spool.
    pub received: u64,
    /// `Some` once the fetch is over: all bytes received, or why not.
    pub end: Option<Result<(), Refusal>>,
}

/// One fetch of one resource, and what its followers see of it.
pub(crate) struct Flight {
    tx: watch::Sender<Progress>,
}

impl Flight {
    pub(crate) fn subscribe(&self) -> watch::Receiver<Progress> {
        self.tx.subscribe()
    }

    /// The origin answered: followers may start their responses.
    pub(crate) fn start(&self, head: Head) {
        self.tx.send_modify(|p| p.head = Some(head));
    }

    /// `received` bytes are now in the spool.
    pub(crate) fn advance(&self, received: u64) {
        self.tx.send_modify(|p| p.received = received);
    }

    /// The fetch is over.
    pub(crate) fn end(&self, result: Result<(), Refusal>) {
        self.tx.send_modify(|p| p.end = Some(result));
    }

    /// The fetch is over with `error`, unless it ended already.
    pub(crate) fn end_if_open(&self, error: Refusal) {
        self.tx.send_if_modified(|p| {
            if p.end.is_some() {
                return false;
            }
            p.end = Some(Err(error));
            true
        });
    }

    /// Requests following the flight (its own leader's included).
    pub(crate) fn followers(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Wait for the flight's head, or the reason it has none.
pub(crate) async fn head(rx: &mut watch::Receiver<Progress>) -> Result<Head, Refusal> {
    let p = rx
        .wait_for(|p| p.head.is_some() || p.end.is_some())
        .await
        .map_err(|_| Refusal::Upstream("the fetch was abandoned".into()))?;
    match (&p.head, &p.end) {
        (Some(h), _) => Ok(h.clone()),
        (None, Some(Err(e))) => Err(e.clone()),
        (None, _) => Err(Refusal::Upstream(
            "the fetch ended without a response".into(),
        )),
    }
}

/// The most bytes one body chunk carries.
const CHUNK: usize = 256 * 1024;

/// The bytes `range` of the flight's resource as they arrive (an open
/// range, `start..u64::MAX`, ends with the fetch). Fails if the fetch
/// fails before the range is complete: the response is cut, never padded.
pub(crate) fn follow(
    rx: watch::Receiver<Progress>,
    spool: Spool,
    range: Range<u64>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some((rx, range.start)), move |state| {
        let spool = spool.clone();
        let end = range.end;
        async move {
            let (mut rx, pos) = state?;
            if pos >= end {
                return None;
            }
            loop {
                let (received, over) = {
                    let p = rx.borrow_and_update();
                    (p.received, p.end.clone())
                };
                if received > pos {
                    let want = (received.min(end) - pos).min(CHUNK as u64) as usize;
                    let mut buf = vec![0u8; want];
                    // The bytes were just written: a read from the page cache.
                    let read = spool.read_at(&mut buf, pos).and_then(|n| {
                        if n == 0 {
                            Err(io::Error::other("the spool is shorter than received"))
                        } else {
                            buf.truncate(n);
                            Ok(n)
                        }
                    });
                    return Some(match read {
                        Ok(n) => (Ok(Bytes::from(buf)), Some((rx, pos + n as u64))),
                        Err(e) => (Err(e), None),
                    });
                }
                match over {
                    Some(Ok(())) if end == u64::MAX => return None,
                    Some(Ok(())) => {
                        let e = io::Error::other(format!(
                            "the resource ended at {received} bytes, before {end}"
                        ));
                        return Some((Err(e), None));
                    }
                    Some(Err(r)) => return Some((Err(io::Error::other(r.to_string())), None)),
                    None => {
                        if rx.changed().await.is_err() {
                            let e = io::Error::other("the fetch was abandoned");
                            return Some((Err(e), None));
                        }
                    }
                }
            }
        }
    })
}
