//! The streaming tee behind a flight: the origin's body goes, as it
//! arrives, to the flight's followers from memory, and to disk once: into
//! a cache writer whose temp file is also where followers read what has
//! left memory. So a player has the first bytes of a segment before the
//! origin has sent the last, and before any file is made. The resource is
//! committed only when complete and of the announced length: an origin
//! that dies mid-body leaves nothing in the cache, and the players'
//! responses are cut, not padded. What the cache cannot take is served all
//! the same, from a file of the flight's own.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use kithara_cache::{AssetHandle, CachePath, Durability, WriterView};
use kithara_hls::Target;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::asset::Asset;
use crate::error::Refusal;
use crate::flight::{Flight, Head, Spool};
use crate::playlist::{self, At, Need};
use crate::server::State;
use crate::upstream::{Ask, Response, UpstreamError};

/// Fill `flight` with the resource `target` at `path` of `asset` (listed by
/// the playlist `parent`), then let later requests find it in the cache.
pub(crate) async fn fly(
    state: Arc<State>,
    asset: Arc<Asset>,
    path: CachePath,
    target: Target,
    parent: Option<CachePath>,
    flight: Arc<Flight>,
) {
    // Ends the flight however this task ends, aborted at shutdown too:
    // followers are cut, never left waiting.
    let landing = Landing {
        state: Arc::clone(&state),
        key: (asset.id(), path.clone()),
        flight: Arc::clone(&flight),
    };
    let result = tee(&state, &asset, &path, target, parent, &flight).await;
    if let Err(e) = &result {
        tracing::warn!(asset = %asset.id(), %path, error = %e, "fetch failed");
    }
    flight.end(result);
    drop(landing);
}

/// Lands a flight when its task ends; a flight not ended by then (the task
/// was aborted) ends as a failure.
struct Landing {
    state: Arc<State>,
    key: (kithara_cache::AssetId, CachePath),
    flight: Arc<Flight>,
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.flight
            .end(Err(Refusal::Upstream("the proxy stopped".into())));
        self.state.flights.land(&self.key, &self.flight);
    }
}

async fn tee(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    target: Target,
    parent: Option<CachePath>,
    flight: &Arc<Flight>,
) -> Result<(), Refusal> {
    // The files are made by the spool writer while the origin is asked,
    // and the first bytes go to the players from memory even before they
    // are: no file work on the first byte's path.
    let (tx, rx) = mpsc::unbounded_channel();
    let fetching = async {
        let fetched = fetch(state, asset, path, target, parent, flight, &tx).await;
        if let Err(e) = &fetched {
            flight.end(Err(e.clone()));
        }
        drop(tx);
        fetched
    };
    let dir = state
        .cache
        .root()
        .map_or_else(std::env::temp_dir, ToOwned::to_owned);
    let (f, handle, p) = (Arc::clone(flight), asset.handle.clone(), path.clone());
    let filling = async move {
        // Started once the request is on its way (the connection's task,
        // woken by the fetch, runs on this loop before this task does
        // again): the blocking thread it wakes could take this core before
        // the request went out.
        tokio::task::yield_now().await;
        tokio::task::spawn_blocking(move || fill(&f, &dir, &handle, &p, rx))
            .await
            .map_err(|e| Refusal::Upstream(format!("spool task failed: {e}")))
    };
    let (fetched, filled) = tokio::join!(fetching, filling);
    fetched.and(filled?)
}

/// The origin's bytes, as they arrive, to the followers (from memory) and
/// the spool writer; the commit once they are all there.
async fn fetch(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    target: Target,
    parent: Option<CachePath>,
    flight: &Flight,
    tx: &mpsc::UnboundedSender<Fill>,
) -> Result<(), Refusal> {
    let resp = request(state, asset, path, target, parent).await?;
    let len = resp.len;
    let max = state.limits.max_resource_bytes;
    let too_big = || Refusal::Upstream(format!("{path}: larger than {max} bytes"));
    if len.is_some_and(|l| l > max) {
        return Err(too_big());
    }
    if let Some(len) = len
        && len > state.cache.max_bytes()
    {
        tracing::warn!(asset = %asset.id(), %path, len, "larger than the cache: not cached");
        let _ = tx.send(Fill::Uncached);
    }
    flight.start(Head { len });
    let budget = Arc::new(Semaphore::new(BUDGET));
    let mut chunks = std::pin::pin!(state.upstream.chunks(resp));
    let mut received = 0u64;
    // Since when no request follows the flight: a fetch nobody reads is
    // given up after half the request timeout (it would hold an upstream
    // turn for as long as a hostile origin trickles bytes; a request
    // waiting for that turn waits the whole timeout).
    let mut unread_since: Option<Instant> = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| e.refusal(&path.to_string()))?;
        received += chunk.len() as u64;
        if received > max {
            return Err(too_big());
        }
        // Pull no faster than the spool is written: what is in memory
        // stays under the budget (plus this chunk).
        let n = u32::try_from(chunk.len().min(BUDGET)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&budget)
            .acquire_many_owned(n)
            .await
            .map_err(|_| Refusal::Upstream("the spool writer stopped".into()))?;
        flight.arrive(chunk.clone());
        // The followers this woke (on this loop) write the chunk to their
        // players before the spool writer is woken: woken first, the
        // writer takes the core (a woken thread preempts its waker) for as
        // long as its disk write lasts, and the players' bytes wait.
        tokio::task::yield_now().await;
        if tx.send(Fill::Chunk(chunk, permit)).is_err() {
            // The spool writer failed; it ended the flight with why.
            return Ok(());
        }
        if flight.followers() > 0 {
            unread_since = None;
        } else if unread_since.get_or_insert_with(Instant::now).elapsed()
            > state.request_timeout / 2
        {
            return Err(Refusal::Upstream(format!(
                "{path}: nobody reads it any more"
            )));
        }
    }
    // Followers finish from memory while the files are written.
    flight.end(Ok(()));
    if len.is_none_or(|l| l == received) {
        let _ = tx.send(Fill::Commit);
    }
    Ok(())
}

/// Bytes of a flight in memory, not yet in its spool, at most (the chunk
/// being handed over aside): what bounds a flight's memory.
const BUDGET: usize = 256 * 1024;

/// What the spool writer is told.
enum Fill {
    /// The resource is not to be cached (larger than the cache).
    Uncached,
    /// The next bytes; the permit is their share of the memory budget.
    Chunk(Bytes, OwnedSemaphorePermit),
    /// Every byte arrived, of the announced length: commit.
    Commit,
}

/// The spool writer. Each chunk goes once to disk: into the cache writer,
/// whose temp file is the flight's spool (read through a view), then its
/// memory is let go. What the cache does not take (larger than the cache,
/// a full or read-only cache, a failed write) goes on in a file of the
/// flight's own instead, with the bytes so far copied over: it is still
/// served, never held in memory. That file is unnamed (it vanishes with
/// its last descriptor) and in the cache's root `dir` when there is one
/// (the same disk; the system temp dir else). A failed spool fails the
/// flight.
fn fill(
    flight: &Flight,
    dir: &Path,
    handle: &AssetHandle,
    path: &CachePath,
    mut rx: mpsc::UnboundedReceiver<Fill>,
) -> Result<(), Refusal> {
    let asset = handle.id();
    let fail = |e: std::io::Error| {
        let r = Refusal::Upstream(format!("{path}: could not spool the body: {e}"));
        flight.end(Err(r.clone()));
        Err(r)
    };
    // Media can be fetched again: no fsync on their path (playlists and
    // keys keep the cache's durability).
    let mut writer = handle
        .writer_with(path, Durability::Buffered)
        .and_then(|w| Ok((w.view()?, w)))
        .inspect_err(|e| tracing::warn!(%asset, %path, error = %e, "not cached"))
        .ok();
    let mut own: Option<Arc<File>> = None;
    match &writer {
        Some((view, _)) => flight.spool(Spool::View(view.clone())),
        None => match uncached(dir, None, 0) {
            Ok(f) => {
                flight.spool(Spool::File(Arc::clone(&f)));
                own = Some(f);
            }
            Err(e) => return fail(e),
        },
    }
    let mut spooled = 0u64;
    while let Some(msg) = rx.blocking_recv() {
        let chunk = match msg {
            Fill::Chunk(chunk, permit) => (chunk, permit),
            Fill::Uncached | Fill::Commit if writer.is_none() => continue,
            Fill::Commit => {
                match writer.take().map(|(_, w)| w.commit()) {
                    Some(Ok(_)) => tracing::debug!(%asset, %path, len = spooled, "cached"),
                    // Served all the same; the next request fetches it again.
                    Some(Err(e)) => tracing::warn!(%asset, %path, error = %e, "not cached"),
                    None => {}
                }
                continue;
            }
            Fill::Uncached => {
                let view = writer.take().map(|(v, _)| v);
                match uncached(dir, view.as_ref(), spooled) {
                    Ok(f) => {
                        flight.spool(Spool::File(Arc::clone(&f)));
                        own = Some(f);
                    }
                    Err(e) => return fail(e),
                }
                continue;
            }
        };
        let (chunk, permit) = chunk;
        if let Some((view, w)) = &mut writer
            && let Err(e) = w.write_all(&chunk).and_then(|()| w.flush())
        {
            tracing::warn!(%asset, %path, error = %e, "not cached: served from a spool of its own");
            let f = match uncached(dir, Some(view), spooled) {
                Ok(f) => f,
                Err(e) => return fail(e),
            };
            flight.spool(Spool::File(Arc::clone(&f)));
            own = Some(f);
            writer = None;
        }
        if let Some(f) = &own
            && let Err(e) = (&**f).write_all(&chunk)
        {
            return fail(e);
        }
        spooled += chunk.len() as u64;
        flight.spooled(spooled);
        drop(permit);
    }
    Ok(())
}

/// A spool of the flight's own in `dir`, holding the first `upto` bytes
/// (copied from the cache writer's `view`, when the cache stops taking the
/// resource part of the way).
fn uncached(dir: &Path, view: Option<&WriterView>, upto: u64) -> std::io::Result<Arc<File>> {
    let mut file = tempfile::tempfile_in(dir)?;
    if let Some(view) = view {
        let mut buf = vec![0u8; 256 * 1024];
        let mut at = 0;
        while at < upto {
            let want = usize::try_from(upto - at).map_or(buf.len(), |n| n.min(buf.len()));
            let n = view.read_at(&mut buf[..want], at)?;
            if n == 0 {
                return Err(std::io::Error::other(
                    "the cache's temp file is shorter than written",
                ));
            }
            file.write_all(&buf[..n])?;
            at += n as u64;
        }
    }
    Ok(Arc::new(file))
}

/// The origin's response for `target`. A VOD playlist's signed URLs
/// expire: when the origin says 403, 404 or 410, the playlist that listed
/// the resource is fetched again once, and the resource, found again by its
/// name (its media sequence number), asked for at its new URL.
async fn request(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    target: Target,
    parent: Option<CachePath>,
) -> Result<Response, Refusal> {
    let what = path.to_string();
    let asked = Instant::now();
    let home = asset.source();
    let first = state
        .upstream
        .get(
            &target.url,
            target.range.clone(),
            Ask {
                key: false,
                home: &home,
            },
        )
        .await;
    let err = match first {
        Ok(r) => return Ok(r),
        Err(e) if e.expired() => e,
        Err(e) => return Err(e.refusal(&what)),
    };
    let Some(parent) = parent else {
        return Err(err.refusal(&what));
    };
    let (at, playlist_url) = match asset.top() {
        Some((top, _)) if top == parent => (At::Top, asset.source()),
        _ => match asset.target(&parent) {
            Some((t, _)) => (At::Path(parent.clone()), t.url),
            None => return Err(err.refusal(&what)),
        },
    };
    if asset.loaded(&parent).is_some_and(|l| l.map.is_live()) {
        return Err(err.refusal(&what));
    }
    tracing::info!(asset = %asset.id(), %path, error = %err, "expired URL? fetching the playlist again");
    let fresh = playlist::load(
        state,
        asset,
        &at,
        &playlist_url,
        Need::Refresh { since: asked },
    )
    .await?;
    let again = fresh
        .map
        .target(path)
        .filter(|t| t.url != target.url)
        .ok_or_else(|| err.refusal(&what))?;
    state
        .upstream
        .get(
            &again.url,
            again.range.clone(),
            Ask {
                key: false,
                home: &home,
            },
        )
        .await
        .map_err(|e: UpstreamError| e.refusal(&what))
}
