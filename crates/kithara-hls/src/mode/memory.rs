//! Memory mode: segments in bounded memory, never one file per segment.
//! Playlists and keys go to an on-disk cache under `resource_root` when one is
//! given (so they survive for offline use), else to memory as well.

use std::path::Path;

use kithara_cache::{AssetCache, AssetId, CacheOptions};
use url::Url;

use super::{MediaStore, Stores};
use crate::error::HlsError;

pub(super) fn stores(
    max_bytes: u64,
    resource_root: Option<&Path>,
    asset: AssetId,
    source: &Url,
) -> Result<Stores, HlsError> {
    let media_cache = AssetCache::in_memory(max_bytes);
    let mut leases = Vec::new();
    let meta = match resource_root {
        Some(root) => {
            let disk = AssetCache::open(CacheOptions::new(root))?;
            leases.push(disk.pin(asset)?);
            disk.asset(asset)
        }
        None => {
            // Playlists and keys share the memory cache, pinned so segments
            // never evict them.
            leases.push(media_cache.pin(asset)?);
            media_cache.asset(asset)
        }
    };
    meta.set_source_url(source)?;
    Ok(Stores {
        meta,
        media: MediaStore::PerResource {
            cache: media_cache,
            asset,
        },
        _leases: leases,
    })
}
