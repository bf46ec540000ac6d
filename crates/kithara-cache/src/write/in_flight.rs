//! The writes in flight: their staged bytes and their leases.
//!
//! Bytes staged by a write are on disk (or in memory) before the commit,
//! so they count against `max_bytes`, and the asset a write goes to must
//! not be evicted under it. A streaming writer is held by the caller,
//! who may leak it (`mem::forget`, a task that never ends): so its hold
//! is a lease that lasts `write_lease` after its last write. Past it the
//! write neither counts nor protects, and its commit is refused (the
//! asset may be gone). A one-shot put cannot be leaked and never expires.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::id::AssetId;

/// Every write of a cache not committed yet. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct InFlight(Arc<Registry>);

#[derive(Debug)]
struct Registry {
    lease: Duration,
    /// Times are kept as nanoseconds since this instant, in atomics.
    epoch: Instant,
    writes: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
}

/// One write: its asset, bytes staged so far and when it last wrote.
#[derive(Debug)]
struct Activity {
    id: AssetId,
    bytes: AtomicU64,
    touched: AtomicU64,
    /// A streaming writer (held by the caller); a one-shot put never expires.
    expires: bool,
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new(Duration::MAX)
    }
}

impl InFlight {
    /// Writes whose lease lasts `lease` after their last write.
    pub(crate) fn new(lease: Duration) -> Self {
        Self(Arc::new(Registry {
            lease,
            epoch: Instant::now(),
            writes: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.0.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn live(&self, a: &Activity, now: u64) -> bool {
        let idle = Duration::from_nanos(now.saturating_sub(a.touched.load(Ordering::Relaxed)));
        !a.expires || idle < self.0.lease
    }

    /// Registers a write to asset `id`; it counts until the share drops.
    pub(crate) fn share(&self, id: AssetId, expires: bool) -> Share {
        let token = self.0.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            id,
            bytes: AtomicU64::new(0),
            touched: AtomicU64::new(self.now()),
            expires,
        });
        self.0.writes.lock().insert(token, Arc::clone(&activity));
        Share {
            all: Some(self.clone()),
            token,
            activity: Some(activity),
        }
    }

    /// Bytes staged by live writes other than `except` to the assets
    /// `of` accepts (the assets of one budget: streamed or kept).
    pub(crate) fn bytes_except(
        &self,
        except: Option<&Share>,
        of: impl Fn(&AssetId) -> bool,
    ) -> u64 {
        let now = self.now();
        let except = except.and_then(Share::token);
        self.0
            .writes
            .lock()
            .iter()
            .filter(|(token, a)| Some(**token) != except && of(&a.id) && self.live(a, now))
            .map(|(_, a)| a.bytes.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether a write lease on `id` protects it: a write that has not
    /// staged yet does; one that has staged does while it is live.
    pub(crate) fn protects(&self, id: &AssetId) -> bool {
        let now = self.now();
        let writes = self.0.writes.lock();
        let mut mine = writes.values().filter(|a| a.id == *id).peekable();
        mine.peek().is_none() || mine.any(|a| self.live(a, now))
    }
}

/// One write's part of [`InFlight`], given back when the write is
/// committed or dropped.
#[derive(Debug, Default)]
pub(crate) struct Share {
    all: Option<InFlight>,
    token: u64,
    activity: Option<Arc<Activity>>,
}

impl Share {
    fn token(&self) -> Option<u64> {
        self.activity.as_ref().map(|_| self.token)
    }

    /// `n` more bytes staged: counted, and the lease renewed.
    pub(crate) fn add(&self, n: u64) {
        if let (Some(all), Some(a)) = (&self.all, &self.activity) {
            a.bytes.fetch_add(n, Ordering::Relaxed);
            a.touched.store(all.now(), Ordering::Relaxed);
        }
    }

    /// Whether the lease ran out (a write idle past `write_lease`).
    pub(crate) fn expired(&self) -> bool {
        match (&self.all, &self.activity) {
            (Some(all), Some(a)) => !all.live(a, all.now()),
            _ => false,
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let (Some(all), Some(_)) = (&self.all, &self.activity) {
            all.0.writes.lock().remove(&self.token);
        }
    }
}
