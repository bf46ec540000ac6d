//! Memory mode: segments in bounded memory, never one file per segment.
//! Playlists and keys go to an on-disk cache under `resource_root` when one is
//! given (so they survive for offline use), else to memory as well.
//!
//! An on-disk cache owns its directory (an advisory lock), so every session
//! of this process with the same `resource_root` shares one [`AssetCache`]:
//! [`SharedRoot::acquire`] hands out the one already open, and the last
//! session to end closes it, releasing the directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use kithara_cache::{AssetCache, AssetId, CacheError, CacheOptions};

use super::{MediaStore, Stores};
use crate::error::HlsError;

/// One open on-disk cache and how many [`SharedRoot`]s use it.
struct Entry {
    cache: AssetCache,
    users: usize,
}

/// The on-disk caches opened by memory-mode sessions, by canonical root.
fn registry() -> MutexGuard<'static, HashMap<PathBuf, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Entry>>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        // The map stays consistent even if a holder panicked: every update
        // is a single insert, increment, or decrement-and-remove.
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One session's use of the shared on-disk cache at a root.
///
/// Whoever holds an [`AssetHandle`](kithara_cache::AssetHandle) or a lease of
/// that cache must hold (a clone of) the `Arc<SharedRoot>` too and drop it
/// *after* them: the last `SharedRoot` to go closes the cache, and it does so
/// under the registry lock, so a session opening the same root at that moment
/// either reuses the cache or finds its directory released, never `InUse`.
pub(crate) struct SharedRoot {
    key: PathBuf,
    /// This user's clone; `None` only while dropping.
    cache: Option<AssetCache>,
}

impl SharedRoot {
    /// The cache at `root`, opened now or shared with the sessions using it.
    /// Blocking I/O (it may scan and lock the directory).
    pub(crate) fn acquire(root: &Path) -> Result<Arc<Self>, HlsError> {
        std::fs::create_dir_all(root).map_err(|source| CacheError::Io {
            op: "create resource root",
            path: root.to_path_buf(),
            source,
        })?;
        let key = root.canonicalize().map_err(|source| CacheError::Io {
            op: "resolve resource root",
            path: root.to_path_buf(),
            source,
        })?;
        let mut map = registry();
        let cache = match map.get_mut(&key) {
            Some(entry) => {
                entry.users += 1;
                entry.cache.clone()
            }
            None => {
                // Opened under the registry lock: two sessions starting at
                // once cannot both try to own the directory.
                let cache = AssetCache::open(CacheOptions::new(&key))?;
                map.insert(
                    key.clone(),
                    Entry {
                        cache: cache.clone(),
                        users: 1,
                    },
                );
                cache
            }
        };
        Ok(Arc::new(Self {
            key,
            cache: Some(cache),
        }))
    }

    fn cache(&self) -> &AssetCache {
        self.cache
            .as_ref()
            .expect("the cache is only taken out when dropping")
    }
}

impl Drop for SharedRoot {
    fn drop(&mut self) {
        drop(self.cache.take());
        let mut map = registry();
        let last = match map.get_mut(&self.key) {
            Some(entry) => {
                entry.users -= 1;
                entry.users == 0
            }
            None => false,
        };
        if last {
            // Dropped while the registry is locked: the directory is released
            // before anyone can look the root up again.
            drop(map.remove(&self.key));
        }
    }
}

impl std::fmt::Debug for SharedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRoot")
            .field("root", &self.key)
            .finish()
    }
}

pub(super) fn stores(
    max_bytes: u64,
    resource_root: Option<&Path>,
    asset: AssetId,
) -> Result<Stores, HlsError> {
    let media_cache = AssetCache::in_memory(max_bytes);
    let mut leases = Vec::new();
    let (meta, root) = match resource_root {
        Some(root) => {
            let shared = SharedRoot::acquire(root)?;
            let disk = shared.cache();
            leases.push(disk.pin(asset)?);
            (disk.asset(asset), Some(shared))
        }
        None => {
            // Playlists and keys share the memory cache, pinned so segments
            // never evict them.
            leases.push(media_cache.pin(asset)?);
            (media_cache.asset(asset), None)
        }
    };
    Ok(Stores {
        meta,
        media: MediaStore::PerResource {
            cache: media_cache,
            asset,
        },
        _leases: leases,
        root,
    })
}
