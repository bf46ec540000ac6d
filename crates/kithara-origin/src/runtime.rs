//! The server thread: an axum app on `127.0.0.1:<ephemeral>` with its own
//! thread and tokio runtime, stopped gracefully (in-flight requests get
//! [`SHUTDOWN_GRACE`]) and joined.

use std::future::IntoFuture;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;
use url::Url;

/// How long a stop waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A bound, not yet serving socket.
#[derive(Debug)]
pub(crate) struct Bound {
    listener: StdTcpListener,
    pub(crate) addr: SocketAddr,
    /// `http://127.0.0.1:PORT/`.
    pub(crate) base: Url,
}

impl Bound {
    /// Binds `127.0.0.1:0`.
    pub(crate) fn loopback() -> std::io::Result<Self> {
        let listener = StdTcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        Ok(Self {
            listener,
            addr,
            base,
        })
    }
}

/// How a stopped origin ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished (idle keep-alive connections are
    /// closed at once, never waited for).
    Drained,
    /// Requests were still in flight after the grace period and were cut
    /// off.
    CutOff,
}

/// The running server; dropping it stops it.
#[derive(Debug)]
pub(crate) struct ServerThread {
    pub(crate) addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<Stopped>>,
}

impl ServerThread {
    /// Serves `app` on `bound` from a new thread named `{name}-{port}`.
    /// Returns once the server accepts connections.
    pub(crate) fn spawn(bound: Bound, app: Router, name: &str) -> std::io::Result<Self> {
        let Bound { listener, addr, .. } = bound;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || serve(listener, app, shutdown_rx, &ready_tx))?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("origin thread exited early")));
        let mut server = Self {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        };
        if let Err(err) = ready {
            server.shutdown();
            return Err(err);
        }
        tracing::debug!(%addr, "origin started");
        Ok(server)
    }

    /// Stops the server and joins its thread; idempotent (a second call
    /// says `Drained`).
    pub(crate) fn shutdown(&mut self) -> Stopped {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        let Some(thread) = self.thread.take() else {
            return Stopped::Drained;
        };
        let stopped = thread.join().unwrap_or_else(|_| {
            tracing::error!("origin thread panicked");
            Stopped::CutOff
        });
        tracing::debug!(addr = %self.addr, ?stopped, "origin stopped");
        stopped
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Body of the server thread.
fn serve(
    listener: StdTcpListener,
    app: Router,
    shutdown: watch::Receiver<bool>,
    ready: &mpsc::Sender<std::io::Result<()>>,
) -> Stopped {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(err));
            return Stopped::Drained;
        }
    };
    let stopped = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(err) => {
                let _ = ready.send(Err(err));
                return Stopped::Drained;
            }
        };
        let _ = ready.send(Ok(()));

        let mut graceful_rx = shutdown.clone();
        let graceful = async move {
            // Also resolves when the sender is gone.
            let _ = graceful_rx.wait_for(|stop| *stop).await;
        };
        let mut hard_rx = shutdown;
        let hard_deadline = async move {
            let _ = hard_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(graceful)
            .into_future();
        tokio::select! {
            result = server => {
                if let Err(err) = result {
                    tracing::error!(%err, "origin server failed");
                }
                Stopped::Drained
            }
            () = hard_deadline => {
                tracing::warn!("origin: in-flight requests cut off at shutdown");
                Stopped::CutOff
            }
        }
    });
    // Dropping the runtime cancels any connection task still running.
    drop(runtime);
    stopped
}
