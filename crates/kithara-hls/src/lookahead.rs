//! The look-ahead: items are fetched ahead of the reader in tokio tasks, with
//! bounded concurrency and a bounded byte window.
//!
//! The window is the run of items right after the one being read. An item is
//! started only while
//!
//! * fewer than `max_items` items are queued (in flight or fetched and not yet
//!   taken by the reader), and
//! * the bytes queued ahead (sizes of fetched items, plus an estimate from the
//!   last item's size for those still in flight) stay under `max_bytes`.
//!
//! The item the reader asks for is always started, so the reader never waits
//! on the window. Memory is therefore bounded by about
//! `max(max_bytes, max_items × item size)`, whatever the track length.
//! Fetches complete out of order but are handed out in order. Seeking away
//! from the window aborts it (a fetch aborted mid-way leaves nothing in the
//! cache: writes are atomic) and starts a new one at the target.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinHandle;

use crate::error::HlsError;
use crate::source::Fetched;

/// Fetches one item of the stream (init or segment, decrypted).
pub(crate) trait ItemFetcher: Send + Sync + 'static {
    /// Fetch item `item`.
    fn fetch(
        self: Arc<Self>,
        item: usize,
    ) -> impl Future<Output = Result<Fetched, HlsError>> + Send;
}

const PENDING: u64 = u64::MAX;

struct Pending {
    item: usize,
    /// The item's size once fetched, else `PENDING`.
    size: Arc<AtomicU64>,
    handle: JoinHandle<Result<Fetched, HlsError>>,
}

/// The look-ahead window of one reader.
pub(crate) struct Lookahead<F: ItemFetcher> {
    fetcher: Arc<F>,
    total: usize,
    queue: VecDeque<Pending>,
    /// The next item to start (the one after the last queued).
    next: usize,
    max_items: usize,
    max_bytes: u64,
    /// Size of the last item taken: the estimate for items in flight.
    estimate: u64,
}

impl<F: ItemFetcher> Lookahead<F> {
    /// A window over items `0..total`; nothing starts before the first `take`.
    pub(crate) fn new(fetcher: Arc<F>, total: usize, max_items: usize, max_bytes: u64) -> Self {
        Self {
            fetcher,
            total,
            queue: VecDeque::new(),
            next: 0,
            max_items: max_items.max(1),
            max_bytes,
            estimate: 0,
        }
    }

    /// Item `item`, waiting for its fetch; moves the window to start after it.
    pub(crate) async fn take(&mut self, item: usize) -> Result<Fetched, HlsError> {
        // The session only asks for items of the track.
        debug_assert!(item < self.total, "item {item} of {}", self.total);
        if item >= self.total {
            return Err(HlsError::Internal("look-ahead item out of range"));
        }
        if self.queue.front().map(|p| p.item) != Some(item) {
            self.restart_at(item);
        }
        self.top_up();
        // `top_up` always starts the item asked for (item < total).
        let Some(p) = self.queue.pop_front() else {
            debug_assert!(false, "look-ahead queue empty after top_up");
            return Err(HlsError::Internal("look-ahead queue is empty"));
        };
        let got = match p.handle.await {
            Ok(r) => r,
            Err(e) => Err(HlsError::Task(e.to_string())),
        };
        // After an error the window stays put: nothing new starts until the
        // reader asks again (it may give up instead).
        if let Ok(f) = &got {
            self.estimate = f.bytes.len() as u64;
            self.top_up();
        }
        got
    }

    /// The track grew (a live playlist): items `0..total` exist now.
    pub(crate) fn grow(&mut self, total: usize) {
        self.total = self.total.max(total);
    }

    /// Abort every queued fetch and wait until each task has ended.
    pub(crate) async fn shutdown(&mut self) {
        let queued: Vec<Pending> = self.queue.drain(..).collect();
        for p in &queued {
            p.handle.abort();
        }
        for p in queued {
            let _ = p.handle.await;
        }
        self.next = self.total;
    }

    /// Whether nothing is queued (started and not yet taken).
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Items started and not yet taken.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    fn restart_at(&mut self, item: usize) {
        self.abort_all();
        self.next = item;
    }

    fn abort_all(&mut self) {
        for p in self.queue.drain(..) {
            p.handle.abort();
        }
    }

    fn bytes_ahead(&self) -> u64 {
        self.queue
            .iter()
            .map(|p| match p.size.load(Ordering::Acquire) {
                PENDING => self.estimate,
                n => n,
            })
            .fold(0u64, u64::saturating_add)
    }

    fn top_up(&mut self) {
        while self.next < self.total
            && (self.queue.is_empty()
                || (self.queue.len() < self.max_items && self.bytes_ahead() < self.max_bytes))
        {
            let item = self.next;
            let size = Arc::new(AtomicU64::new(PENDING));
            let slot = Arc::clone(&size);
            let fetcher = Arc::clone(&self.fetcher);
            let handle = tokio::spawn(async move {
                let r = fetcher.fetch(item).await;
                if let Ok(f) = &r {
                    slot.store(f.bytes.len() as u64, Ordering::Release);
                }
                r
            });
            self.queue.push_back(Pending { item, size, handle });
            self.next += 1;
        }
    }
}

impl<F: ItemFetcher> Drop for Lookahead<F> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use bytes::Bytes;

    use super::*;
    use crate::source::Source;

    struct Fake {
        size: usize,
        started: AtomicUsize,
        fail_at: Option<usize>,
    }

    impl ItemFetcher for Fake {
        async fn fetch(self: Arc<Self>, item: usize) -> Result<Fetched, HlsError> {
            self.started.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            if Some(item) == self.fail_at {
                return Err(HlsError::OfflineMiss {
                    url: format!("item{item}"),
                });
            }
            let mut v = vec![0u8; self.size];
            v[..8].copy_from_slice(&(item as u64).to_be_bytes());
            Ok(Fetched {
                bytes: Bytes::from(v),
                source: Source::Network,
            })
        }
    }

    fn fake(size: usize, fail_at: Option<usize>) -> Arc<Fake> {
        Arc::new(Fake {
            size,
            started: AtomicUsize::new(0),
            fail_at,
        })
    }

    fn id_of(f: &Fetched) -> u64 {
        u64::from_be_bytes(f.bytes[..8].try_into().unwrap())
    }

    #[tokio::test]
    async fn hands_out_items_in_order_and_bounds_the_count() {
        let f = fake(100, None);
        let mut la = Lookahead::new(Arc::clone(&f), 50, 3, u64::MAX);
        for i in 0..50 {
            let got = la.take(i).await.unwrap();
            assert_eq!(id_of(&got), i as u64);
            assert!(la.queued() <= 3);
            let started = f.started.load(Ordering::SeqCst);
            assert!(started <= i + 1 + 3, "started {started} after taking {i}");
        }
        assert_eq!(f.started.load(Ordering::SeqCst), 50);
    }

    #[tokio::test]
    async fn bounds_the_bytes_ahead_once_sizes_are_known() {
        let f = fake(1000, None);
        // Up to 20 items by count, but only ~2.5 items' worth of bytes.
        let mut la = Lookahead::new(Arc::clone(&f), 200, 20, 2500);
        for i in 0..200 {
            la.take(i).await.unwrap();
            let started = f.started.load(Ordering::SeqCst);
            let ahead = started - (i + 1);
            if i >= 20 {
                // Every queued item counts at least the estimate, so at most
                // ceil(2500 / 1000) = 3 items wait ahead.
                assert!(ahead <= 3, "{ahead} items ahead after taking {i}");
            } else {
                assert!(ahead <= 20);
            }
        }
    }

    #[tokio::test]
    async fn seeking_restarts_the_window_and_zero_byte_budget_still_progresses() {
        let f = fake(10, None);
        let mut la = Lookahead::new(Arc::clone(&f), 30, 4, 0);
        assert_eq!(id_of(&la.take(0).await.unwrap()), 0);
        assert_eq!(id_of(&la.take(20).await.unwrap()), 20);
        assert_eq!(id_of(&la.take(21).await.unwrap()), 21);
        assert_eq!(id_of(&la.take(3).await.unwrap()), 3);
    }

    /// Asking for an item past the end is a bug of the caller: a debug
    /// assertion, and an `Internal` error in release builds.
    #[tokio::test]
    #[cfg_attr(debug_assertions, should_panic(expected = "item 30 of 30"))]
    async fn an_item_out_of_range_is_a_bug() {
        let f = fake(10, None);
        let mut la = Lookahead::new(Arc::clone(&f), 30, 4, 0);
        assert!(matches!(la.take(30).await, Err(HlsError::Internal(_))));
    }

    #[tokio::test]
    async fn an_error_is_reported_for_its_item_only() {
        let f = fake(10, Some(2));
        let mut la = Lookahead::new(Arc::clone(&f), 5, 4, u64::MAX);
        la.take(0).await.unwrap();
        la.take(1).await.unwrap();
        assert!(matches!(
            la.take(2).await,
            Err(HlsError::OfflineMiss { .. })
        ));
        assert_eq!(id_of(&la.take(3).await.unwrap()), 3);
    }
}
