//! The assets this proxy opened (through `play?url=`), each with the
//! playlists it served, the locks that make one fetch per playlist or key,
//! and the pin that keeps a playing track in the cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kithara_cache::{AssetCache, AssetHandle, AssetId, CachePath, LeaseGuard};
use kithara_hls::{PlaylistMap, Target, layout};
use parking_lot::Mutex;
use url::Url;

/// Every asset opened since the proxy started.
#[derive(Default)]
pub(crate) struct Assets {
    map: Mutex<HashMap<AssetId, Arc<Asset>>>,
}

impl Assets {
    /// The asset of top playlist `url` (`id`), registered on first use.
    pub(crate) fn open(&self, cache: &AssetCache, id: AssetId, url: &Url) -> Arc<Asset> {
        let mut map = self.map.lock();
        Arc::clone(map.entry(id).or_insert_with(|| {
            Arc::new(Asset {
                handle: cache.asset(id),
                source: Mutex::new(url.clone()),
                playlists: Mutex::default(),
                locks: Mutex::default(),
                pin: Mutex::default(),
            })
        }))
    }

    /// An asset opened before; `None` for any other id.
    pub(crate) fn get(&self, id: &AssetId) -> Option<Arc<Asset>> {
        self.map.lock().get(id).cloned()
    }

    /// Unpin every asset and stop its timer (at shutdown: nothing may keep
    /// the cache open after the proxy stops).
    pub(crate) fn unpin_all(&self) {
        for asset in self.map.lock().values() {
            let mut pin = asset.pin.lock();
            if let Some(timer) = pin.timer.take() {
                timer.abort();
            }
            *pin = Pin::default();
        }
    }
}

/// A playlist as last loaded: parsed, and when it came from the origin.
pub(crate) struct Loaded {
    pub map: Arc<PlaylistMap>,
    /// When the origin sent it; `None` when read from the cache.
    pub fetched: Option<Instant>,
    /// The copy this one replaced (a live playlist's previous window):
    /// a player may still ask for a segment only it lists.
    pub previous: Option<Arc<PlaylistMap>>,
    /// Media targets already looked up: a hit then costs a hash lookup,
    /// not a name check and a URL parse. At most [`MEMO`] of them (a
    /// player asks for few segments of a playlist more than once).
    memo: Mutex<HashMap<CachePath, Target>>,
}

/// Targets remembered per playlist.
const MEMO: usize = 256;

impl Loaded {
    /// What `path` stands for in this copy or the previous one.
    fn media_target(&self, path: &CachePath) -> Option<Target> {
        if let Some(t) = self.memo.lock().get(path) {
            return Some(t.clone());
        }
        let found = self
            .map
            .target(path)
            .or_else(|| self.previous.as_ref()?.target(path))?;
        let mut memo = self.memo.lock();
        if memo.len() >= MEMO {
            memo.clear();
        }
        memo.insert(path.clone(), found.clone());
        Some(found)
    }
}

#[derive(Default)]
struct Pin {
    guard: Option<LeaseGuard>,
    /// Requests being answered: never unpinned under them.
    active: usize,
    until: Option<Instant>,
    timer: Option<tokio::task::AbortHandle>,
}

/// One asset: one track, as the player opened it.
pub(crate) struct Asset {
    pub handle: AssetHandle,
    /// The top playlist's URL, as last given to `play?url=`.
    source: Mutex<Url>,
    playlists: Mutex<HashMap<CachePath, Arc<Loaded>>>,
    locks: Mutex<HashMap<CachePath, Arc<tokio::sync::Mutex<()>>>>,
    pin: Mutex<Pin>,
}

impl Asset {
    pub(crate) fn id(&self) -> AssetId {
        self.handle.id()
    }

    /// The top playlist's URL, as last given to `play?url=`.
    pub(crate) fn source(&self) -> Url {
        self.source.lock().clone()
    }

    /// The app played the asset at `url`; `true` if that is not the URL it
    /// used before (a freshly signed one: the old may have expired, so the
    /// top playlist is fetched again from it).
    pub(crate) fn set_source(&self, url: &Url) -> bool {
        let mut source = self.source.lock();
        if *source == *url {
            return false;
        }
        *source = url.clone();
        true
    }

    /// The lock that makes one load (fetch, check, store) of `path` at a
    /// time: a second request for a playlist or key being fetched waits
    /// for the first and uses its result.
    pub(crate) fn lock(&self, path: &CachePath) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(self.locks.lock().entry(path.clone()).or_default())
    }

    /// The playlist at `path` as last loaded.
    pub(crate) fn loaded(&self, path: &CachePath) -> Option<Arc<Loaded>> {
        self.playlists.lock().get(path).cloned()
    }

    /// Record `map` as the playlist at `path`; returns it.
    pub(crate) fn set_loaded(
        &self,
        path: &CachePath,
        map: PlaylistMap,
        fetched: Option<Instant>,
    ) -> Arc<Loaded> {
        let mut playlists = self.playlists.lock();
        // One window back, not a chain of every copy.
        let previous = playlists.get(path).map(|old| Arc::clone(&old.map));
        let loaded = Arc::new(Loaded {
            map: Arc::new(map),
            fetched,
            previous,
            memo: Mutex::default(),
        });
        playlists.insert(path.clone(), Arc::clone(&loaded));
        loaded
    }

    /// Whether no playlist of the asset is in memory (it was unpinned).
    pub(crate) fn is_unloaded(&self) -> bool {
        self.playlists.lock().is_empty()
    }

    /// The top playlist's path, once loaded.
    pub(crate) fn top(&self) -> Option<(CachePath, Arc<Loaded>)> {
        let playlists = self.playlists.lock();
        [layout::top(true), layout::top(false)]
            .into_iter()
            .find_map(|p| playlists.get(&p).map(|l| (p, Arc::clone(l))))
    }

    /// The playlist that names the media of `path`'s first folder: `v3/…`
    /// is listed by `v3/playlist.m3u8`, or by `media.m3u8` when the asset
    /// was opened on a media playlist (its media live in `v0`).
    pub(crate) fn parent_of(&self, path: &CachePath) -> Option<CachePath> {
        let dir = path.segments().next()?;
        match self.top() {
            Some((top, l)) if !l.map.is_master() && dir == layout::variant_dir(0) => Some(top),
            _ => layout::playlist(dir).ok(),
        }
    }

    /// What `path` stands for, according to the playlists this proxy served
    /// for the asset: a variant or rendition playlist of the master, a key
    /// of any playlist, or a segment of its folder's playlist (current or
    /// previous copy). With the parent playlist's path for a media resource.
    pub(crate) fn target(&self, path: &CachePath) -> Option<(Target, Option<CachePath>)> {
        if path.segments().count() == 2 && path.file_name() == "playlist.m3u8" {
            let (_, top) = self.top()?;
            return top.map.target(path).map(|t| (t, None));
        }
        if path.segments().next() == Some("keys") {
            let playlists = self.playlists.lock();
            return playlists
                .values()
                .find_map(|l| l.map.target(path))
                .map(|t| (t, None));
        }
        let parent = self.parent_of(path)?;
        let found = self.loaded(&parent)?.media_target(path)?;
        Some((found, Some(parent)))
    }

    /// Pin the asset while the request that calls this is answered, and
    /// until `linger` after it ends (each request extends it); a timer task
    /// unpins it once that has passed with no request under way. A request
    /// outlasting the linger time (a slow origin) is no exception: what it
    /// loads is released with the rest.
    pub(crate) fn busy(self: &Arc<Self>, linger: Duration) -> Busy {
        let mut pin = self.pin.lock();
        pin.active += 1;
        pin.until = Some(Instant::now() + linger);
        if pin.guard.is_none() {
            pin.guard = Some(self.handle.pin());
        }
        if pin.timer.is_none() {
            let asset = Arc::clone(self);
            let timer = tokio::spawn(async move {
                loop {
                    let Some(until) = asset.pin.lock().until else {
                        return;
                    };
                    tokio::time::sleep_until(until.into()).await;
                    let mut pin = asset.pin.lock();
                    if pin.active == 0 && pin.until.is_some_and(|u| Instant::now() >= u) {
                        *pin = Pin::default();
                        // Not playing any more: its playlists leave memory
                        // (a player that comes back has them loaded again,
                        // from the cache), so a long-running proxy does not
                        // grow with every track it ever served.
                        asset.playlists.lock().clear();
                        tracing::debug!(asset = %asset.id(), "unpinned: no request for the linger time");
                        return;
                    }
                    if pin.active > 0 {
                        // Look again a linger time after now at the latest:
                        // the last request's end sets the real deadline.
                        pin.until = Some(Instant::now() + linger);
                    }
                }
            });
            pin.timer = Some(timer.abort_handle());
        }
        Busy {
            asset: Arc::clone(self),
            linger,
        }
    }
}

/// A request under way for an asset (see [`Asset::busy`]).
pub(crate) struct Busy {
    asset: Arc<Asset>,
    linger: Duration,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut pin = self.asset.pin.lock();
        pin.active = pin.active.saturating_sub(1);
        pin.until = Some(Instant::now() + self.linger);
    }
}
