//! `LruPolicy`: least recently used asset first.

use std::collections::BTreeSet;

use crate::evict::EvictionPolicy;
use crate::id::{AssetId, IdMap};

/// Evicts the asset whose last access has the lowest logical tick.
/// Every operation is O(log n) in the number of assets.
#[derive(Debug, Default)]
pub struct LruPolicy {
    order: BTreeSet<(u64, AssetId)>,
    ticks: IdMap<u64>,
}

impl EvictionPolicy for LruPolicy {
    fn on_access(&mut self, id: AssetId, tick: u64) {
        match self.ticks.insert(id, tick) {
            // Already in place: the common case of a player reading its track.
            Some(old) if old == tick => return,
            Some(old) => {
                self.order.remove(&(old, id));
            }
            None => {}
        }
        self.order.insert((tick, id));
    }

    fn on_remove(&mut self, id: &AssetId) {
        if let Some(old) = self.ticks.remove(id) {
            self.order.remove(&(old, *id));
        }
    }

    fn victims(&self) -> Box<dyn Iterator<Item = AssetId> + '_> {
        Box::new(self.order.iter().map(|(_, id)| *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> AssetId {
        AssetId::from_key(&[n])
    }

    #[test]
    fn oldest_first_and_access_moves_to_back() {
        let mut lru = LruPolicy::default();
        for (n, tick) in [(1, 10), (2, 11), (3, 12)] {
            lru.on_access(id(n), tick);
        }
        lru.on_access(id(1), 13);
        lru.on_remove(&id(2));
        let order: Vec<_> = lru.victims().collect();
        assert_eq!(order, vec![id(3), id(1)]);
    }

    #[test]
    fn equal_ticks_keep_both_assets() {
        let mut lru = LruPolicy::default();
        lru.on_access(id(1), 0);
        lru.on_access(id(2), 0);
        assert_eq!(lru.victims().count(), 2);
    }
}
