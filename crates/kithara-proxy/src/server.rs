//! The listener and its connections: [`Proxy::start`] binds, spawns the
//! accept loop and returns a handle; [`Proxy::shutdown`] stops accepting,
//! lets responses finish for a grace period, aborts what is left (nothing
//! partial is ever committed) and flushes the cache's index.

use std::sync::Arc;
use std::time::Duration;

use kithara_cache::AssetCache;
use kithara_hls::KeyProcessor;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use url::Url;

use crate::asset::Assets;
use crate::conn;
use crate::error::ProxyError;
use crate::flight::Flights;
use crate::guard::Hosts;
use crate::loops::Loops;
use crate::options::{Limits, ProxyOptions};
use crate::stats::{Counters, ProxyStats};
use crate::upstream::Upstream;

/// How long a shutdown lets responses in flight finish.
const GRACE: Duration = Duration::from_secs(5);

/// What every request of one proxy shares.
pub(crate) struct State {
    pub cache: AssetCache,
    pub token: String,
    pub hosts: Hosts,
    pub assets: Assets,
    pub flights: Flights,
    /// The flights' fetch tasks, aborted at shutdown.
    pub tasks: Mutex<JoinSet<()>>,
    pub upstream: Upstream,
    pub counters: Arc<Counters>,
    pub key_processor: Option<KeyProcessor>,
    pub pin_linger: Duration,
    /// How long an upstream answer (or a turn to ask) may take; also how
    /// long a fetch nobody reads goes on.
    pub request_timeout: Duration,
    /// Whether the query of a top playlist's URL is part of the asset id.
    pub id_with_query: bool,
    pub limits: Limits,
}

/// A running proxy.
#[derive(Debug)]
pub struct Proxy {
    base: Url,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    /// The accept loop; it hands back the event loops when it ends.
    task: tokio::task::JoinHandle<Loops>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a capability: never in a log.
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl Proxy {
    /// Bind the listen address and start serving. Refuses a non-loopback
    /// address unless remote clients are allowed.
    pub async fn start(opts: ProxyOptions) -> Result<Proxy, ProxyError> {
        if !opts.listen.ip().is_loopback() && !opts.allow_remote {
            return Err(ProxyError::NotLoopback { addr: opts.listen });
        }
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ProxyError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: opts.listen,
            source,
        })?;
        let counters = Arc::new(Counters::default());
        let upstream = Upstream::new(&opts, Arc::clone(&counters))?;
        let token = format!("{:032x}", rand::random::<u128>());
        let base =
            Url::parse(&format!("http://{addr}/{token}/")).map_err(|e| ProxyError::Setup {
                reason: format!("base URL: {e}"),
            })?;
        let state = Arc::new(State {
            cache: opts.cache,
            token,
            hosts: Hosts::new(addr),
            assets: Assets::default(),
            flights: Flights::default(),
            tasks: Mutex::new(JoinSet::new()),
            upstream,
            counters,
            key_processor: opts.key_processor,
            pin_linger: opts.pin_linger,
            request_timeout: opts.request_timeout,
            id_with_query: opts.id_with_query,
            limits: opts.limits,
        });
        let loops = Loops::start(opts.event_loops, addr.port()).map_err(|e| ProxyError::Setup {
            reason: format!("event loops: {e}"),
        })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(listener, Arc::clone(&state), stopped, loops));
        tracing::info!(%addr, offline = opts.offline, "proxy listening");
        Ok(Proxy {
            base,
            state,
            stop,
            task,
        })
    }

    /// `http://ADDR/<token>/`: every path the proxy serves is below it.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The URL a player opens to play the upstream master (or media)
    /// playlist `upstream` through the proxy: `<base>play?url=<upstream>`.
    pub fn url_for(&self, upstream: &Url) -> Url {
        let mut url = self.base.join("play").unwrap_or_else(|_| self.base.clone());
        url.query_pairs_mut().append_pair("url", upstream.as_str());
        url
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        self.state.counters.snapshot()
    }

    /// Stop: refuse new connections, let responses in flight finish for
    /// up to 5 s, abort the rest (their partial resources are dropped,
    /// never committed), unpin every asset and flush the cache's index.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let loops = self.task.await;
        let mut tasks = std::mem::take(&mut *self.state.tasks.lock());
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        // The flights ran on the event loops; what is left there (pin
        // timers) ends with them, before the index is flushed.
        if let Ok(loops) = loops {
            let _ = tokio::task::spawn_blocking(move || loops.join()).await;
        }
        self.state.assets.unpin_all();
        let cache = self.state.cache.clone();
        let flushed = tokio::task::spawn_blocking(move || cache.flush()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(error = %e, "index not flushed at shutdown");
        }
        tracing::info!("proxy stopped");
    }
}

/// Accept connections until told to stop, then drain them; each
/// connection is served on one of `loops` (handed back at the end).
async fn accept(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
    mut loops: Loops,
) -> Loops {
    // The connection tasks, aborted if the grace period runs out.
    let mut conns = JoinSet::new();
    let slots = Arc::new(Semaphore::new(state.limits.max_connections.max(1)));
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: the loop goes on.
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let _ = stream.set_nodelay(true);
        // Off this runtime's reactor, onto the loop's (below), so that its
        // readiness wakes the loop that serves it and no other thread.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let (st, stopping) = (Arc::clone(&state), stop.clone());
        while conns.try_join_next().is_some() {}
        loops.spawn(&mut conns, async move {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => conn::serve(stream, st, stopping).await,
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            }
            tracing::trace!(%peer, "connection closed");
            drop(slot);
        });
    }
    drop(listener);
    let drained = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drained).await.is_err() {
        tracing::warn!("responses still in flight after {GRACE:?}: cut off");
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
    loops
}
