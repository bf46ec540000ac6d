//! One request, as a list of steps: guard (method, Host), route (token,
//! path), asset (opened here, pinned), then the resource: a playlist
//! (rewritten), a key, or media (hit or flight).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use kithara_cache::{AssetId, CachePath};
use kithara_hls::{ResourceKind, Target, layout};

use crate::asset::{Asset, Loaded};
use crate::error::Refusal;
use crate::guard::{self, Verb};
use crate::keys;
use crate::media;
use crate::playlist::{self, At, Need};
use crate::respond::{self, Body};
use crate::route::{Route, route};
use crate::server::State;

/// Answer `req`; never fails (a refusal is a response).
pub(crate) async fn handle(state: &Arc<State>, req: &Request<()>) -> Response<Body> {
    state.counters.request();
    match steps(state, req).await {
        Ok(resp) => resp,
        Err(r) => respond::refusal(&r),
    }
}

/// What the request log shows of a request's path: all but its first
/// segment, the token (a capability, never logged).
pub(crate) fn logged_path(uri: &http::Uri) -> &str {
    uri.path().splitn(3, '/').nth(2).unwrap_or("")
}

async fn steps(state: &Arc<State>, req: &Request<()>) -> Result<Response<Body>, Refusal> {
    let verb = guard::verb(req.method())?;
    state.hosts.check(req.headers())?;
    let route = route(req.uri().path(), req.uri().query(), &state.token)?;
    if let Verb::Preflight = verb {
        let mut resp = respond::response(StatusCode::NO_CONTENT, respond::empty());
        guard::preflight(resp.headers_mut());
        return Ok(resp);
    }
    let head_only = matches!(verb, Verb::Head);
    match route {
        Route::Play(url) => play(state, &url, req, head_only).await,
        Route::Asset { id, path } => {
            let asset = state
                .assets
                .get(&id)
                .ok_or(Refusal::Forbidden("not an asset this proxy opened"))?;
            let _busy = asset.busy(state.pin_linger);
            resource(state, &asset, &path, req, head_only).await
        }
    }
}

/// `play?url=`: open the asset of a top playlist and serve it.
async fn play(
    state: &Arc<State>,
    raw: &str,
    req: &Request<()>,
    head_only: bool,
) -> Result<Response<Body>, Refusal> {
    let url = kithara_hls::parse_url(raw).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let id = if state.id_with_query {
        AssetId::from_url_with_query(&url)
    } else {
        AssetId::from_url(&url)
    }
    .map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let asset = state.assets.open(&state.cache, id, &url);
    let _busy = asset.busy(state.pin_linger);
    // Another URL for the same asset (a freshly signed one) is asked again:
    // the copy in memory came from the old one.
    let need = if asset.set_source(&url) {
        Need::Refresh {
            since: std::time::Instant::now(),
        }
    } else {
        Need::Serve
    };
    let loaded = playlist::load(state, &asset, &At::Top, &url, need).await?;
    serve_playlist(state, &asset, &loaded, req, head_only)
}

/// A resource of an asset this proxy opened: only what a playlist it
/// served references; anything else is refused without a fetch.
async fn resource(
    state: &Arc<State>,
    asset: &Arc<Asset>,
    path: &CachePath,
    req: &Request<()>,
    head_only: bool,
) -> Result<Response<Body>, Refusal> {
    let mut found = asset.target(path);
    if found.is_none() && asset.is_unloaded() {
        // Its playlists left memory while it was not playing: load them
        // again (from the cache; the top from where the app opened it).
        reload(state, asset, path).await?;
        found = asset.target(path);
    }
    let (target, parent): (Target, Option<CachePath>) =
        found.ok_or(Refusal::Forbidden("no playlist this proxy served lists it"))?;
    match target.kind {
        ResourceKind::Playlist => {
            let at = At::Path(path.clone());
            let loaded = playlist::load(state, asset, &at, &target.url, Need::Serve).await?;
            serve_playlist(state, asset, &loaded, req, head_only)
        }
        ResourceKind::Key => {
            let key = keys::key(state, asset, path, &target).await?;
            let ctype = respond::content_type(target.kind, path);
            let mut resp = respond::whole(req.headers(), key, ctype, head_only)?;
            // A key must not linger in a browser's or player's HTTP cache.
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        ResourceKind::Init | ResourceKind::Segment => {
            media::serve(state, asset, path, target, parent, req.headers(), head_only).await
        }
    }
}

/// Load again the playlists that list `path`: the top one, and the media
/// playlist of `path`'s folder if the top is a master.
async fn reload(state: &Arc<State>, asset: &Arc<Asset>, path: &CachePath) -> Result<(), Refusal> {
    let source = asset.source();
    let top = playlist::load(state, asset, &At::Top, &source, Need::Serve).await?;
    if !top.map.is_master() {
        return Ok(());
    }
    if let Some(parent) = asset.parent_of(path)
        && let Some((t, _)) = asset.target(&parent)
    {
        playlist::load(state, asset, &At::Path(parent), &t.url, Need::Serve).await?;
    }
    Ok(())
}

/// A playlist with every URI pointing back at this proxy (root-relative:
/// `/<token>/a/<asset>/<cache path>`, so whichever Host the player used
/// stays).
fn serve_playlist(
    state: &State,
    asset: &Asset,
    loaded: &Loaded,
    req: &Request<()>,
    head_only: bool,
) -> Result<Response<Body>, Refusal> {
    let prefix = format!("/{}/a/{}/", state.token, asset.id().to_hex());
    let text = loaded
        .map
        .rewrite(|p| format!("{prefix}{p}"))
        .map_err(|e| Refusal::Upstream(e.to_string()))?;
    let ctype = respond::content_type(ResourceKind::Playlist, &layout::top(true));
    let mut resp = respond::whole(req.headers(), text.into(), ctype, head_only)?;
    // The proxy decides freshness (live reloads); players always ask it.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
