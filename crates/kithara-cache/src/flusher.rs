//! The background thread that persists a changed index now and then.
//!
//! Debouncing is what keeps a put O(1): the index is rewritten at most once
//! per interval, never per operation. The thread holds only a weak reference,
//! so it never keeps a cache alive, and it exits when told or when the cache
//! is gone.

use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::cache::Inner;

/// Tells the thread to stop when dropped.
pub(crate) struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl Flusher {
    pub(crate) fn spawn(cache: Weak<Inner>, interval: Duration) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let spawned = thread::Builder::new()
            .name("kithara-cache-flush".into())
            .spawn(move || run(&cache, interval, &signal));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no index flusher thread; the index is saved on flush and drop only");
        }
        Self { stop }
    }
}

fn run(cache: &Weak<Inner>, interval: Duration, signal: &(Mutex<bool>, Condvar)) {
    loop {
        {
            let mut stopped = signal.0.lock();
            if !*stopped {
                signal.1.wait_for(&mut stopped, interval);
            }
            if *stopped {
                return;
            }
        }
        let Some(cache) = cache.upgrade() else {
            return;
        };
        if let Err(e) = cache.save_index() {
            tracing::warn!(error = %e, "cannot persist cache index; will retry");
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
    }
}
