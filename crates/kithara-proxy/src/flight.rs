//! One upstream fetch per resource. The first request for an uncached
//! resource starts a flight ([`crate::tee`] fills it); every request for
//! it, the first included, follows the flight: it takes what has arrived
//! so far and waits for more. Bytes just received are handed over from
//! memory (a follower at the head of the flight never waits for a disk
//! write); once in the flight's spool (the cache writer's temp file, or a
//! file of the flight's own) they are read from there. A late joiner gets the bytes already received, then the
//! rest; a slow reader never holds up the fetch, and the memory a flight
//! holds is bounded by what its spool writer has not yet written.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use kithara_cache::{AssetId, CachePath, WriterView};
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
        // A flight that failed is not followed, though it may not have
        // landed yet (its writer still cleaning up): this request starts
        // a new one.
        if let Some(f) = map.get(key).filter(|f| !f.failed()) {
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
    pub(crate) fn land(&self, key: &Key, flight: &Arc<Flight>) {
        let mut map = self.map.lock();
        // Only this flight: a failed one may have been replaced already.
        if map.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            map.remove(key);
        }
    }
}

/// Where a flight's bytes are read once they have left memory, at any
/// offset, never moving a shared position.
#[derive(Clone, Debug)]
pub(crate) enum Spool {
    /// The cache writer's own temp file: each byte is written once.
    View(WriterView),
    /// A file of the flight's own, for what the cache does not take.
    File(Arc<File>),
}

impl Spool {
    /// Up to `n` bytes at `offset`.
    fn read_at(&self, offset: u64, n: usize) -> io::Result<Bytes> {
        let read = match self {
            Spool::File(f) => {
                // Into fresh memory without zeroing it first.
                let mut buf = Vec::with_capacity(n);
                let read =
                    rustix::io::pread(&**f, rustix::buffer::spare_capacity(&mut buf), offset)?;
                (read, buf)
            }
            Spool::View(v) => {
                let mut buf = vec![0u8; n];
                let read = v.read_at(&mut buf, offset)?;
                buf.truncate(read);
                (read, buf)
            }
        };
        match read {
            (0, _) => Err(io::Error::other("the spool is shorter than received")),
            (_, buf) => Ok(Bytes::from(buf)),
        }
    }
}

/// What a flight knows before its first byte.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    /// The resource's length, if the origin announced it.
    pub len: Option<u64>,
}

/// Where a flight is.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub head: Option<Head>,
    /// Bytes received from the origin.
    pub received: u64,
    /// The spool, once made (the first bytes may arrive before it is).
    pub spool: Option<Spool>,
    /// Bytes readable from the spool (≤ `received`).
    pub spooled: u64,
    /// The bytes from `spooled` to `received`, in memory: the chunks the
    /// spool writer has not written yet, each with its offset.
    pub fresh: VecDeque<(u64, Bytes)>,
    /// `Some` once the fetch is over: all bytes received, or why not.
    pub end: Option<Result<(), Refusal>>,
}

impl Progress {
    /// The bytes at `pos` (up to `max` of them) if they are in memory.
    fn fresh_at(&self, pos: u64, max: u64) -> Option<Bytes> {
        let (at, chunk) = self
            .fresh
            .iter()
            .find(|(at, c)| (*at..at + c.len() as u64).contains(&pos))?;
        let from = (pos - at) as usize;
        let to = (from as u64 + max).min(chunk.len() as u64) as usize;
        Some(chunk.slice(from..to))
    }
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

    /// `chunk` has arrived (after every byte before it): followers take it
    /// from memory until it is in the spool.
    pub(crate) fn arrive(&self, chunk: Bytes) {
        self.tx.send_modify(|p| {
            let at = p.received;
            p.received += chunk.len() as u64;
            p.fresh.push_back((at, chunk));
        });
    }

    /// The spool is made: its writer may start.
    pub(crate) fn spool(&self, spool: Spool) {
        self.tx.send_modify(|p| p.spool = Some(spool));
    }

    /// The spool now holds the first `spooled` bytes: their memory goes.
    pub(crate) fn spooled(&self, spooled: u64) {
        self.tx.send_modify(|p| {
            p.spooled = spooled;
            while p
                .fresh
                .front()
                .is_some_and(|(at, c)| at + c.len() as u64 <= spooled)
            {
                p.fresh.pop_front();
            }
        });
    }

    /// The fetch is over, with `result`, unless it ended already (the
    /// first end stands: followers may have finished on it).
    pub(crate) fn end(&self, result: Result<(), Refusal>) {
        self.tx.send_if_modified(|p| {
            if p.end.is_some() {
                return false;
            }
            p.end = Some(result);
            true
        });
    }

    /// Whether the fetch has ended in failure.
    fn failed(&self) -> bool {
        matches!(self.tx.borrow().end, Some(Err(_)))
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

/// The most bytes one body chunk read from the spool carries.
const CHUNK: u64 = 256 * 1024;

/// The most bytes handed over from memory at once.
const PIECE: u64 = 64 * 1024;

/// What a follower does next.
enum Next {
    Give(Bytes),
    Read(Spool, u64),
    Done,
    Fail(io::Error),
    Wait,
}

/// The bytes `range` of the flight's resource as they arrive (an open
/// range, `start..u64::MAX`, ends with the fetch). Fails if the fetch
/// fails before the range is complete: the response is cut, never padded.
pub(crate) fn follow(
    rx: watch::Receiver<Progress>,
    range: Range<u64>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some((rx, range.start)), move |state| {
        let end = range.end;
        async move {
            let (mut rx, pos) = state?;
            if pos >= end {
                return None;
            }
            loop {
                let next = {
                    let p = rx.borrow_and_update();
                    let max = (end - pos).min(PIECE);
                    if let Some(b) = p.fresh_at(pos, max) {
                        Next::Give(b)
                    } else if let Some(spool) = p.spool.as_ref().filter(|_| pos < p.spooled) {
                        Next::Read(spool.clone(), (p.spooled.min(end) - pos).min(CHUNK))
                    } else {
                        match &p.end {
                            Some(Ok(())) if end == u64::MAX => Next::Done,
                            Some(Ok(())) => Next::Fail(io::Error::other(format!(
                                "the resource ended at {} bytes, before {end}",
                                p.received
                            ))),
                            Some(Err(r)) => Next::Fail(io::Error::other(r.to_string())),
                            None => Next::Wait,
                        }
                    }
                };
                let bytes = match next {
                    Next::Give(b) => Ok(b),
                    // Spooled a moment ago: a read from the page cache.
                    Next::Read(spool, n) => spool.read_at(pos, n as usize),
                    Next::Done => return None,
                    Next::Fail(e) => return Some((Err(e), None)),
                    Next::Wait => {
                        if rx.changed().await.is_err() {
                            let e = io::Error::other("the fetch was abandoned");
                            return Some((Err(e), None));
                        }
                        continue;
                    }
                };
                return Some(match bytes {
                    Ok(b) => {
                        let next = pos + b.len() as u64;
                        (Ok(b), Some((rx, next)))
                    }
                    Err(e) => (Err(e), None),
                });
            }
        }
    })
}
