//! Where a playlist comes from: this proxy's memory, the cache, or the
//! origin, in that order, one load at a time per playlist. The origin's
//! bytes are what is cached (with the final URL beside a redirected one, as
//! kithara-hls does), so the client and the proxy read each other's files.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kithara_cache::CachePath;
use kithara_hls::{PlaylistMap, layout};
use url::Url;

use crate::asset::{Asset, Loaded};
use crate::error::Refusal;
use crate::live::fresh;
use crate::server::State;
use crate::upstream::Ask;

/// Which playlist to load.
#[derive(Clone, Debug)]
pub(crate) enum At {
    /// The asset's top playlist: `master.m3u8` or `media.m3u8`, whichever
    /// it turns out to be.
    Top,
    /// A media playlist at this path (`v1/playlist.m3u8`, `r0/...`).
    Path(CachePath),
}

impl At {
    /// Where its media live.
    fn dir(&self) -> String {
        match self {
            At::Top => layout::variant_dir(0),
            At::Path(p) => p.segments().next().unwrap_or_default().to_owned(),
        }
    }

    /// The paths it may be cached at.
    fn candidates(&self) -> Vec<CachePath> {
        match self {
            At::Top => vec![layout::top(true), layout::top(false)],
            At::Path(p) => vec![p.clone()],
        }
    }
}

/// Why a playlist is loaded.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Need {
    /// To serve it: a fresh copy, or the last one if the origin is down.
    Serve,
    /// A resource it lists failed as expired: fetch it again unless it was
    /// fetched after `since` (another request refreshed it already).
    Refresh { since: Instant },
}

/// The playlist `at` of `asset`, from `url` on the origin.
pub(crate) async fn load(
    state: &State,
    asset: &Asset,
    at: &At,
    url: &Url,
    need: Need,
) -> Result<Arc<Loaded>, Refusal> {
    let candidates = at.candidates();
    let lock = asset.lock(&candidates[0]);
    let _one_at_a_time = lock.lock().await;
    let mut current = match at {
        At::Top => asset.top(),
        At::Path(p) => asset.loaded(p).map(|l| (p.clone(), l)),
    };
    if current.is_none() {
        current = cached(state, asset, at, url).await;
    }
    if let Some((_, l)) = &current {
        let usable = match need {
            Need::Serve => fresh(l, Instant::now()),
            Need::Refresh { since } => l.fetched.is_some_and(|f| f > since),
        };
        if usable {
            return Ok(Arc::clone(l));
        }
    }
    let what = match at {
        At::Top => "the playlist".to_owned(),
        At::Path(p) => p.to_string(),
    };
    let fetched = state
        .upstream
        .get_whole(
            url,
            Ask {
                key: false,
                home: &asset.source(),
            },
            state.limits.max_playlist_bytes,
        )
        .await
        .map_err(|e| e.refusal(&what))
        .and_then(|w| {
            let map =
                PlaylistMap::parse(&w.final_url, &at.dir(), &w.bytes, state.limits.max_segments)
                    .map_err(|e| Refusal::Upstream(e.to_string()))?;
            Ok((map, w))
        });
    let (map, whole) = match (fetched, current) {
        (Ok(got), _) => got,
        (Err(e), Some((_, last))) => {
            // The origin is down or broken: the last copy still plays.
            tracing::warn!(asset = %asset.id(), playlist = %what, error = %e, "serving the last copy of the playlist");
            return Ok(last);
        }
        (Err(e), None) => return Err(e),
    };
    let path = match at {
        At::Top => layout::top(map.is_master()),
        At::Path(p) => p.clone(),
    };
    store(
        asset,
        &path,
        url,
        &whole.final_url,
        whole.bytes,
        matches!(at, At::Top),
    )
    .await;
    Ok(asset.set_loaded(&path, map, Some(Instant::now())))
}

/// The playlist as cached, parsed against its recorded final URL; recorded
/// as loaded. A cached copy that no longer parses is ignored.
async fn cached(
    state: &State,
    asset: &Asset,
    at: &At,
    url: &Url,
) -> Option<(CachePath, Arc<Loaded>)> {
    for path in at.candidates() {
        let handle = asset.handle.clone();
        let (p, side) = (path.clone(), layout::final_url(&path).ok()?);
        let read = tokio::task::spawn_blocking(move || {
            let body = handle.read(&p).ok().flatten()?;
            let base = handle.read(&side).ok().flatten();
            Some((body, base))
        })
        .await
        .ok()
        .flatten();
        let Some((body, base)) = read else { continue };
        let base = base
            .and_then(|b| Url::parse(std::str::from_utf8(&b).ok()?.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or_else(|| url.clone());
        match PlaylistMap::parse(&base, &at.dir(), &body, state.limits.max_segments) {
            Ok(map) => return Some((path.clone(), asset.set_loaded(&path, map, None))),
            Err(e) => {
                tracing::warn!(asset = %asset.id(), %path, error = %e, "cached playlist unusable: ignored")
            }
        }
    }
    None
}

/// Cache a fetched playlist (its final URL first when redirected, so it
/// never resolves against the wrong base); record the asset's source for
/// a top playlist. A failure is logged: the playlist is served anyway.
async fn store(
    asset: &Asset,
    path: &CachePath,
    url: &Url,
    final_url: &Url,
    bytes: Bytes,
    top: bool,
) {
    let handle = asset.handle.clone();
    let (path, url, final_url, source) =
        (path.clone(), url.clone(), final_url.clone(), asset.source());
    let done = tokio::task::spawn_blocking(move || -> Result<(), kithara_cache::CacheError> {
        if let Ok(side) = layout::final_url(&path) {
            if final_url != url {
                handle.put_atomic(&side, final_url.as_str().as_bytes())?;
            } else {
                handle.remove(&side)?;
            }
        }
        handle.put_atomic(&path, &bytes)?;
        if top {
            handle.set_source_url(&source)?;
        }
        Ok(())
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(asset = %asset.id(), error = %e, "playlist not cached"),
        Err(e) => tracing::warn!(asset = %asset.id(), error = %e, "playlist not cached"),
    }
}
