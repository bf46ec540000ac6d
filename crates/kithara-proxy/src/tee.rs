//! The streaming tee behind a flight: the origin's body goes into a cache
//! writer as it arrives, and each piece is flushed to the writer's temp
//! file, where the flight's followers read it at once; so a player has the
//! first bytes of a segment before the origin has sent the last. The
//! resource is committed only when complete and of the announced length: an
//! origin that dies mid-body leaves nothing in the cache, and the players'
//! responses are cut, not padded.

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
use crate::upstream::{Kind, Response, UpstreamError};

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
    let result = tee(&state, &asset, &path, target, parent, &flight).await;
    if let Err(e) = &result {
        tracing::warn!(asset = %asset.id(), %path, error = %e, "fetch failed");
    }
    flight.end(result);
    state.flights.land(&(asset.id(), path));
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
    let mut writer = writer(state, asset, path, len).await;
    let spool = match writer.as_ref().map(AssetWriter::view) {
        Some(Ok(view)) => Spool::View(view),
        Some(Err(e)) => {
            tracing::warn!(asset = %asset.id(), %path, error = %e, "not cached: served from memory");
            writer = None;
            Spool::Memory(Arc::default())
        }
        None => Spool::Memory(Arc::default()),
    };
    flight.start(Head {
        len,
        spool: spool.clone(),
    });
    let mut chunks = std::pin::pin!(state.upstream.chunks(resp));
    let mut received = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| e.refusal(&path.to_string()))?;
        received += chunk.len() as u64;
        match (writer.take(), &spool) {
            (Some(mut w), _) => {
                // Blocking file I/O, off the async workers.
                let written = tokio::task::spawn_blocking(move || {
                    w.write_all(&chunk)?;
                    w.flush()?;
                    Ok::<_, std::io::Error>(w)
                })
                .await
                .map_err(|e| Refusal::Upstream(format!("write task failed: {e}")))?;
                writer = Some(written.map_err(|e| {
                    Refusal::Upstream(format!("{path}: could not spool the body: {e}"))
                })?);
            }
            (None, Spool::Memory(m)) => m.write().extend_from_slice(&chunk),
            (None, Spool::View(_)) => unreachable!("a view always has its writer"),
        }
        flight.advance(received);
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
    let first = state
        .upstream
        .get(&target.url, target.range.clone(), Kind::Plain)
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
        Some((top, _)) if top == parent => (At::Top, asset.source.clone()),
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
        .get(&again.url, again.range.clone(), Kind::Plain)
        .await
        .map_err(|e: UpstreamError| e.refusal(&what))
}

/// A cache writer for `path`, or `None` when the cache cannot take it (the
/// player is served from memory then): a resource of `len` bytes larger
/// than the whole cache, or a cache that refuses the write.
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
        tracing::warn!(asset = %asset.id(), %path, len, "larger than the cache: served from memory");
        return None;
    }
    // Media can be fetched again: no fsync on their path (playlists and
    // keys keep the cache's durability).
    match tokio::task::spawn_blocking(move || handle.writer_with(&p, Durability::Buffered)).await {
        Ok(Ok(w)) => Some(w),
        Ok(Err(e)) => {
            tracing::warn!(asset = %asset.id(), %path, error = %e, "not cached: served from memory");
            None
        }
        Err(_) => None,
    }
}
