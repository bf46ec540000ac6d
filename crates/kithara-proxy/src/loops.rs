//! Client connections on per-core event loops: each loop is a thread with
//! a current-thread tokio runtime of its own, and a connection lives on one
//! loop for its whole life, as each nginx worker runs its own epoll loop.
//! On tokio's work-stealing runtime a small hit cost wake-ups and futex
//! calls between workers (the reactor on one, the task on another): the
//! proxy's CPU per request did not fall with 16 connections the way
//! nginx's does.
//!
//! What a connection starts (a flight, a pin timer, a blocking read) runs
//! on its loop too, and a flight fetches over upstream connections that
//! loop drives ([`current`], `upstream.rs`). The loops end when [`Loops`]
//! is dropped (tasks still on them are dropped, as an abort would) or
//! joined.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

thread_local! {
    /// The index of the loop this thread runs, if it runs one.
    static AT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index of the loop the calling thread runs (`None` off the loops):
/// what runs on a loop uses that loop's own upstream connections.
pub(crate) fn current() -> Option<usize> {
    AT.with(Cell::get)
}

/// The loops, each a thread running a current-thread runtime until told
/// to stop.
#[derive(Debug)]
pub(crate) struct Loops {
    loops: Vec<Loop>,
    /// The loop the next connection goes to (round robin).
    next: usize,
}

#[derive(Debug)]
struct Loop {
    handle: Handle,
    /// Dropped (or sent): the loop ends.
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Loops {
    /// `n` loops; none (connections stay on the caller's runtime) for 0.
    /// Their threads are named `proxy:PORT/I` (`port` the listen port).
    pub(crate) fn start(n: usize, port: u16) -> io::Result<Self> {
        let mut loops = Vec::with_capacity(n);
        for i in 0..n {
            let rt = Builder::new_current_thread().enable_all().build()?;
            let handle = rt.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("proxy:{port}/{i}"))
                .spawn(move || {
                    AT.with(|at| at.set(Some(i)));
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            loops.push(Loop {
                handle,
                stop,
                thread,
            });
        }
        Ok(Self { loops, next: 0 })
    }

    /// Spawn `task` into `set`, on the next loop (or the caller's runtime
    /// if there is none).
    pub(crate) fn spawn<F>(&mut self, set: &mut JoinSet<()>, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.loops.is_empty() {
            set.spawn(task);
            return;
        }
        let at = self.next % self.loops.len();
        self.next = self.next.wrapping_add(1);
        set.spawn_on(task, &self.loops[at].handle);
    }

    /// End the loops and wait for their threads (blocking: call it from a
    /// blocking task). What still runs on them is dropped.
    pub(crate) fn join(self) {
        for l in self.loops {
            let _ = l.stop.send(());
            let _ = l.thread.join();
        }
    }
}
