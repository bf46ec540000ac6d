//! Persistent mode: everything in the caller's on-disk cache, under one asset.

use kithara_cache::{AssetCache, AssetId};
use url::Url;

use super::{MediaStore, Stores};
use crate::error::HlsError;

pub(super) fn stores(cache: &AssetCache, asset: AssetId, source: &Url) -> Result<Stores, HlsError> {
    let lease = cache.pin(asset)?;
    let handle = cache.asset(asset);
    if !cache.is_read_only() {
        handle.set_source_url(source)?;
    }
    Ok(Stores {
        meta: handle.clone(),
        media: MediaStore::Asset(handle),
        _leases: vec![lease],
    })
}
