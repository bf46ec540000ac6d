//! `MemStore`: the base layer of memory-only mode; it writes no files.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::Result;
use crate::id::{AssetId, IdMap};
use crate::path::CachePath;
use crate::read::AssetReader;
use crate::store::{Commit, Plan, Store};
use crate::write::Staged;
use crate::write::staged::Body;

/// Resources held in memory, bounded by the same eviction as on disk.
#[derive(Default)]
pub(crate) struct MemStore {
    assets: IdMap<HashMap<CachePath, Bytes>>,
}

impl Store for MemStore {
    fn exists(&self, id: &AssetId, path: &CachePath) -> bool {
        self.assets.get(id).is_some_and(|a| a.contains_key(path))
    }

    fn len(&self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        Ok(self
            .assets
            .get(id)
            .and_then(|a| a.get(path))
            .map(|b| b.len() as u64))
    }

    fn open(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<AssetReader>> {
        let bytes = self.assets.get(id).and_then(|a| a.get(path)).cloned();
        Ok(bytes.map(AssetReader::memory))
    }

    /// None: the map lives under the engine lock.
    fn lookup(&self) -> Option<super::FsStore> {
        None
    }

    fn stage(&self, id: &AssetId, path: &CachePath) -> Result<Staged> {
        Ok(Staged::memory(*id, path.clone(), 0))
    }

    /// The map says what the write replaces: `plan.replaces` is not needed.
    fn commit(&mut self, staged: Staged, plan: Plan) -> Result<Commit> {
        let Staged { id, path, body, .. } = staged;
        let bytes = match body {
            // Views of the write may still hold the buffer: they keep a copy.
            Body::Mem(v) => Bytes::from(
                Arc::try_unwrap(v).map_or_else(|v| v.read().clone(), RwLock::into_inner),
            ),
            // A file staged by another base cannot land here; the facade never mixes them.
            Body::File(t) => unreachable!("MemStore got a staged file {}", t.temp.display()),
        };
        let new_len = bytes.len() as u64;
        // Nothing here can fail: the victims go, the bytes land.
        for victim in &plan.evict {
            self.assets.remove(victim);
        }
        let old = self.assets.entry(id).or_default().insert(path, bytes);
        Ok(Commit {
            old_len: old.map(|b| b.len() as u64),
            new_len,
            record: None,
            evicted: plan.evict,
        })
    }

    fn remove_file(&mut self, id: &AssetId, path: &CachePath) -> Result<Option<u64>> {
        let removed = self.assets.get_mut(id).and_then(|a| a.remove(path));
        Ok(removed.map(|b| b.len() as u64))
    }

    fn remove_all(&mut self, id: &AssetId) -> Result<()> {
        self.assets.remove(id);
        Ok(())
    }

    /// Nothing to record: in memory the index's entry is the only place
    /// an asset lives, and it holds the mark.
    fn set_kept(&mut self, _id: &AssetId, _kept: bool) -> Result<()> {
        Ok(())
    }
}
