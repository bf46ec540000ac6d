//! The streaming tee behind a flight: the origin's body goes, as it
//! arrives, into a spool file of the flight's own, where its followers read
//! it at once, and into a cache writer; so a player has the first bytes of
//! a segment before the origin has sent the last. The resource is
//! committed only when complete and of the announced length: an origin
//! that dies mid-body leaves nothing in the cache, and the players'
//! responses are cut, not padded. What the cache cannot take is served all
//! the same.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use kithara_cache::{AssetWriter, CachePath, Durability};
use kithara_hls::Target;

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
            .end_if_open(Refusal::Upstream("the proxy stopped".into()));
        self.state.flights.land(&self.key);
    }
}

async fn tee(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    target: Target,
    parent: Option<CachePath>,
    flight: &Flight,
) -> Result<(), Refusal> {
    let resp = request(state, asset, path, target, parent).await?;
    let len = resp.len;
    let max = state.limits.max_resource_bytes;
    let too_big = || Refusal::Upstream(format!("{path}: larger than {max} bytes"));
    if len.is_some_and(|l| l > max) {
        return Err(too_big());
    }
    let (mut spool, view) = spool(state).await?;
    let mut writer = writer(state, asset, path, len).await;
    flight.start(Head { len, spool: view });
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
        // Blocking file I/O, off the async workers: the spool first (the
        // followers read it), then the cache writer, whose failure (full,
        // read-only, disk full) only means the resource is not cached.
        let (p, a) = (path.clone(), asset.id());
        let wrote = tokio::task::spawn_blocking(move || {
            spool.write_all(&chunk)?;
            if let Some(w) = &mut writer
                && let Err(e) = w.write_all(&chunk)
            {
                tracing::warn!(asset = %a, path = %p, error = %e, "not cached: served from the spool");
                writer = None;
            }
            Ok::<_, std::io::Error>((spool, writer))
        })
        .await
        .map_err(|e| Refusal::Upstream(format!("write task failed: {e}")))?;
        (spool, writer) = wrote
            .map_err(|e| Refusal::Upstream(format!("{path}: could not spool the body: {e}")))?;
        flight.advance(received);
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
    if let Some(w) = writer {
        let committed = tokio::task::spawn_blocking(move || w.commit()).await;
        match committed {
            Ok(Ok(_)) => tracing::debug!(asset = %asset.id(), %path, len = received, "cached"),
            // Served all the same; the next request fetches it again.
            Ok(Err(e)) => tracing::warn!(asset = %asset.id(), %path, error = %e, "not cached"),
            Err(e) => tracing::warn!(asset = %asset.id(), %path, error = %e, "not cached"),
        }
    }
    Ok(())
}

/// A file of the flight's own, where its followers read what has arrived:
/// unnamed (it vanishes with its last descriptor), in the cache's root when
/// there is one (the same disk; the system temp dir else). What cannot be
/// cached (larger than the cache, a full or read-only cache) is still
/// served from it, and never held in memory.
async fn spool(state: &State) -> Result<(File, Spool), Refusal> {
    let dir = state
        .cache
        .root()
        .map_or_else(std::env::temp_dir, ToOwned::to_owned);
    let made = tokio::task::spawn_blocking(move || {
        let file = tempfile::tempfile_in(&dir)?;
        let reader = file.try_clone()?;
        Ok::<_, std::io::Error>((file, Spool::new(reader)))
    })
    .await
    .map_err(|e| Refusal::Upstream(format!("spool task failed: {e}")))?;
    made.map_err(|e| Refusal::Upstream(format!("cannot create a spool file: {e}")))
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

/// A cache writer for `path`, or `None` when the cache cannot take it: a
/// resource of `len` bytes larger than the whole cache, or a cache that
/// refuses the write.
async fn writer(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    len: Option<u64>,
) -> Option<AssetWriter> {
    let (handle, p, cache) = (asset.handle.clone(), path.clone(), state.cache.clone());
    if let Some(len) = len
        && cache.stats().is_ok_and(|s| len > s.max_bytes)
    {
        tracing::warn!(asset = %asset.id(), %path, len, "larger than the cache: not cached");
        return None;
    }
    // Media can be fetched again: no fsync on their path (playlists and
    // keys keep the cache's durability).
    match tokio::task::spawn_blocking(move || handle.writer_with(&p, Durability::Buffered)).await {
        Ok(Ok(w)) => Some(w),
        Ok(Err(e)) => {
            tracing::warn!(asset = %asset.id(), %path, error = %e, "not cached");
            None
        }
        Err(_) => None,
    }
}
