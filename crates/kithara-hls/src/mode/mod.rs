//! Where each kind of resource is kept, per [`CacheMode`](crate::CacheMode).
//!
//! A session has two stores: *meta* (playlists and processed keys) and *media*
//! (init segments and segments). In persistent mode both are the session's
//! asset in the on-disk cache. In memory mode media goes to a bounded
//! in-memory cache and meta to an on-disk cache under `resource_root` or to
//! memory as well.

mod memory;
mod persistent;

use std::sync::Arc;

use kithara_cache::{AssetCache, AssetHandle, AssetId, CachePath, LeaseGuard};

use crate::error::HlsError;
use crate::options::CacheMode;

pub(crate) use memory::SharedRoot;

/// The stores of one session, with the leases that keep its asset from being
/// evicted while the session lives.
///
/// Field order matters: `root` is dropped last, after every handle and lease
/// of the shared on-disk cache it keeps open.
pub(crate) struct Stores {
    meta: AssetHandle,
    media: MediaStore,
    _leases: Vec<LeaseGuard>,
    /// Memory mode with a `resource_root`: this session's use of the shared
    /// on-disk cache there.
    root: Option<Arc<SharedRoot>>,
}

enum MediaStore {
    /// All media of the asset under the asset itself (persistent mode).
    Asset(AssetHandle),
    /// Each media resource is its own entry of a bounded in-memory LRU cache,
    /// so old segments are evicted one by one instead of filling the cache
    /// with an asset that cannot evict itself.
    PerResource { cache: AssetCache, asset: AssetId },
}

impl Stores {
    /// The stores for `asset` under `mode`. Writes nothing: the asset only
    /// appears in the cache once something of it is stored.
    pub(crate) fn new(mode: &CacheMode, asset: AssetId) -> Result<Self, HlsError> {
        match mode {
            CacheMode::Persistent(cache) => persistent::stores(cache, asset),
            CacheMode::Memory {
                max_bytes,
                resource_root,
            } => memory::stores(*max_bytes, resource_root.as_deref(), asset),
        }
    }

    /// What a task using a handle of these stores must keep alive (and drop
    /// after the handle): the shared on-disk cache of memory mode, if any.
    pub(crate) fn keepalive(&self) -> Option<Arc<SharedRoot>> {
        self.root.clone()
    }

    /// The store of playlists and processed keys.
    pub(crate) fn meta(&self) -> &AssetHandle {
        &self.meta
    }

    /// The store of the media resource at `path`.
    pub(crate) fn media(&self, path: &CachePath) -> AssetHandle {
        match &self.media {
            MediaStore::Asset(h) => h.clone(),
            MediaStore::PerResource { cache, asset } => {
                cache.asset(asset.with_discriminator(&path.to_string()))
            }
        }
    }
}
