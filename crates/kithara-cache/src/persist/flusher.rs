//! The background thread that persists a changed index now and then.
//!
//! Debouncing is what keeps a put O(1): the index is rewritten at most once
//! per interval, never per operation. The thread holds the shared state but
//! not the owner's lock; closing the cache stops and joins it before the
//! lock is released, so no index write outlives the owner.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::cache::Shared;

/// Tells the thread to stop when dropped.
pub(crate) struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    pub(crate) fn spawn(cache: Arc<Shared>, interval: Duration) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let spawned = thread::Builder::new()
            .name("kithara-cache-flush".into())
            .spawn(move || run(&cache, interval, &signal));
        let thread = spawned
            .map_err(|e| tracing::warn!(error = %e, "no index flusher thread; the index is saved on flush and drop only"))
            .ok();
        Self { stop, thread }
    }
}

/// The shortest interval between two index writes: `flush_interval(0)`
/// means "as soon as possible", not a thread spinning on a core.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How long the thread waits between two index writes when asked for `interval`.
fn pause(interval: Duration) -> Duration {
    interval.max(MIN_INTERVAL)
}

fn run(cache: &Shared, interval: Duration, signal: &(Mutex<bool>, Condvar)) {
    let interval = pause(interval);
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
        if let Err(e) = cache.save_index(false) {
            tracing::warn!(error = %e, "cannot persist cache index; will retry");
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panic in the flusher has been logged by the panic hook; nothing more to do.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15 hole 11: `flush_interval(0)` used to make the thread wait
    /// zero between two looks at the index, spinning on a core.
    #[test]
    fn a_zero_flush_interval_waits_between_writes() {
        assert_eq!(pause(Duration::ZERO), MIN_INTERVAL);
        assert!(!MIN_INTERVAL.is_zero());
        assert_eq!(pause(Duration::from_secs(1)), Duration::from_secs(1));
    }
}
