//! Persistent mode: everything in the caller's on-disk cache, under one asset.

use kithara_cache::{AssetCache, AssetId};

use super::{MediaStore, Stores};
use crate::error::HlsError;

pub(super) fn stores(cache: &AssetCache, asset: AssetId) -> Result<Stores, HlsError> {
    let lease = cache.pin(asset)?;
    let handle = cache.asset(asset);
    Ok(Stores {
        meta: handle.clone(),
        media: MediaStore::Asset(handle),
        _leases: vec![lease],
        root: None,
    })
}
