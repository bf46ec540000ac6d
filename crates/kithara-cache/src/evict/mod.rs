//! `EvictingStore<S, P>`: keeps the streamed assets under `max_bytes` and
//! the kept ones under `max_kept_bytes`.
//!
//! Before a commit makes a streamed asset bigger, it checks that evicting
//! every unprotected streamed asset other than the one being written would
//! make room; if not, it fails with [`CacheError::CacheFull`] having changed
//! nothing. Then it removes victims in the policy's order, as many as
//! needed, skipping leased and kept assets, and only then renames the new
//! file into place. A commit into a kept asset evicts nothing: it fits the
//! kept budget or fails with [`CacheError::KeptFull`].

mod lru;

use crate::error::{CacheError, Result};
use crate::id::AssetId;
use crate::index::Accounting;
use crate::lease::Protection;
use crate::path::CachePath;
use crate::store::{Commit, Plan, Replaces, Seen, Store, forward};
use crate::verify::Problem;
use crate::write::{InFlight, Share, Staged};

pub use lru::LruPolicy;

/// Chooses which assets to evict first.
///
/// The cache tells the policy about every access (with a tick of a monotonic
/// logical clock) and every removal; the policy yields assets in eviction
/// order. Leased assets are skipped by the cache, not by the policy.
pub trait EvictionPolicy: Send + 'static {
    /// The asset was created or accessed at logical time `tick`.
    fn on_access(&mut self, id: AssetId, tick: u64);
    /// The asset is gone.
    fn on_remove(&mut self, id: &AssetId);
    /// Assets in the order they should be evicted, best victim first.
    fn victims(&self) -> Box<dyn Iterator<Item = AssetId> + '_>;
}

impl EvictionPolicy for Box<dyn EvictionPolicy> {
    fn on_access(&mut self, id: AssetId, tick: u64) {
        (**self).on_access(id, tick);
    }

    fn on_remove(&mut self, id: &AssetId) {
        (**self).on_remove(id);
    }

    fn victims(&self) -> Box<dyn Iterator<Item = AssetId> + '_> {
        (**self).victims()
    }
}

/// Evicts by policy `P` so the store below stays under its `max_bytes`.
pub(crate) struct EvictingStore<S, P> {
    inner: S,
    policy: P,
    evictions: u64,
    /// The bytes staged by every write and not committed yet.
    in_flight: InFlight,
}

impl<S, P> EvictingStore<S, P>
where
    S: Store + Accounting + Protection,
    P: EvictionPolicy,
{
    pub(crate) fn new(inner: S, mut policy: P, in_flight: InFlight) -> Self {
        for (id, tick) in inner.recencies() {
            policy.on_access(id, tick);
        }
        Self {
            inner,
            policy,
            evictions: 0,
            in_flight,
        }
    }

    pub(crate) fn inner(&self) -> &S {
        &self.inner
    }

    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Assets evicted since open.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Tells the policy of an access made through another path (a source URL).
    pub(crate) fn accessed(&mut self, id: &AssetId) {
        if let Some(tick) = self.inner.recency(id) {
            self.policy.on_access(*id, tick);
        }
    }

    /// Evicts streamed assets until they fit `max_bytes`, as far as
    /// leases allow. Never a kept asset.
    pub(crate) fn shrink_to_fit(&mut self) -> Result<Vec<AssetId>> {
        self.shrink(false)
    }

    /// Evicts kept assets, least recently used first, until they fit
    /// `max_kept_bytes`, as far as leases allow: only on a user's explicit
    /// request (`gc --include-kept`), never to make room for a write.
    pub(crate) fn shrink_kept(&mut self) -> Result<Vec<AssetId>> {
        self.shrink(true)
    }

    fn shrink(&mut self, kept: bool) -> Result<Vec<AssetId>> {
        let (used, max) = self.budget(kept);
        let victims = self.choose(used.saturating_sub(max), None, kept);
        self.evict(victims)
    }

    /// The bytes of one budget (`kept` or streamed) and its limit.
    fn budget(&self, kept: bool) -> (u64, u64) {
        if kept {
            (self.inner.kept_bytes(), self.inner.max_kept_bytes())
        } else {
            (self.inner.streamed_bytes(), self.inner.max_bytes())
        }
    }

    /// Bytes staged by live writes other than `except` into the assets of
    /// one budget (`kept` or streamed).
    fn staged(&self, except: Option<&Share>, kept: bool) -> u64 {
        self.in_flight
            .bytes_except(except, |id| self.inner.is_kept(id) == kept)
    }

    /// The victims that make room for `delta` more bytes in asset `id`,
    /// or `CacheFull` (`KeptFull` for a kept asset, which evicts nothing);
    /// removes nothing (the commit does, all or none). `in_flight`: what
    /// other writes staged into the same budget.
    fn make_room(&self, id: &AssetId, delta: u64, in_flight: u64) -> Result<Vec<AssetId>> {
        if self.inner.is_kept(id) {
            return self.kept_room(delta, in_flight).map(|()| Vec::new());
        }
        let total = self.inner.streamed_bytes().saturating_add(in_flight);
        let max = self.inner.max_bytes();
        if total.saturating_add(delta) <= max {
            return Ok(Vec::new());
        }
        let mut kept = self.inner.protected_bytes().saturating_add(in_flight);
        if !self.inner.is_protected(id) {
            kept = kept.saturating_add(self.inner.asset_bytes(id));
        }
        let available = max.saturating_sub(kept);
        if delta > available {
            return Err(CacheError::CacheFull {
                needed: delta,
                available,
            });
        }
        let excess = total.saturating_add(delta) - max;
        Ok(self.choose(excess, Some(id), false))
    }

    /// `KeptFull` unless `needed` more bytes fit `max_kept_bytes` beside
    /// the kept bytes and the `in_flight` bytes staged into kept assets.
    fn kept_room(&self, needed: u64, in_flight: u64) -> Result<()> {
        let (used, max) = self.budget(true);
        let available = max.saturating_sub(used.saturating_add(in_flight));
        if needed > available {
            return Err(CacheError::KeptFull { needed, available });
        }
        Ok(())
    }

    /// Victims in policy order, among the `kept` assets or the streamed
    /// ones, whose bytes add up to at least `excess`.
    fn choose(&self, excess: u64, keep: Option<&AssetId>, kept: bool) -> Vec<AssetId> {
        let mut freed = 0u64;
        let mut victims = Vec::new();
        if excess == 0 {
            return victims;
        }
        // The policy's order first; should it repeat, invent or leave out
        // assets, the index's own LRU order after it (built only then): a
        // policy can reorder evictions, never make the cache outgrow its
        // limit.
        let fallback = std::iter::once_with(|| {
            let mut all = self.inner.recencies();
            all.sort_unstable_by_key(|&(_, tick)| tick);
            all.into_iter().map(|(id, _)| id)
        })
        .flatten();
        let mut chosen = std::collections::HashSet::new();
        for id in self.policy.victims().chain(fallback) {
            if Some(&id) == keep
                || self.inner.is_kept(&id) != kept
                || self.inner.is_protected(&id)
                || self.inner.recency(&id).is_none()
                || !chosen.insert(id)
            {
                continue;
            }
            freed = freed.saturating_add(self.inner.asset_bytes(&id));
            victims.push(id);
            if freed >= excess {
                break;
            }
        }
        victims
    }

    fn evict(&mut self, victims: Vec<AssetId>) -> Result<Vec<AssetId>> {
        for id in &victims {
            let bytes = self.inner.asset_bytes(id);
            self.inner.remove_all(id)?;
            self.policy.on_remove(id);
            self.evictions += 1;
            tracing::info!(asset = %id, bytes, "evicted asset");
        }
        Ok(victims)
    }
}

impl<S, P> Store for EvictingStore<S, P>
where
    S: Store + Accounting + Protection,
    P: EvictionPolicy,
{
    // Reads and staging make no room, and nothing of this layer is read
    // without the lock; a hit and a removal update the order.
    forward!(exists, len, open, lookup, stage, remove_file);

    /// Keeping checks the kept budget first (the asset's bytes, and what
    /// its writes staged, move into it): `KeptFull` changes nothing.
    /// Either way the asset's new recency reaches the policy; the caller
    /// evicts down to `max_bytes` after an unkeep.
    fn set_kept(&mut self, id: &AssetId, kept: bool) -> Result<()> {
        if kept && !self.inner.is_kept(id) {
            let mine = self
                .inner
                .asset_bytes(id)
                .saturating_add(self.in_flight.bytes_except(None, |a| a == id));
            self.kept_room(mine, self.staged(None, true))?;
        }
        self.inner.set_kept(id, kept)?;
        self.accessed(id);
        Ok(())
    }

    /// A hit the layers below let pass reaches the policy.
    fn served(&mut self, id: &AssetId, path: &CachePath, seen: Seen) -> Option<Problem> {
        let problem = self.inner.served(id, path, seen);
        if problem.is_none() {
            self.accessed(id);
        }
        problem
    }

    /// Hands the layers below a [`Plan`]: the victims that make room and,
    /// when it had to measure it for them, the length of the file the
    /// write replaces.
    fn commit(&mut self, staged: Staged, plan: Plan) -> Result<Commit> {
        debug_assert!(plan.evict.is_empty(), "victims are chosen here, not above");
        let id = staged.id;
        let len = staged.len();
        // Past its lease the write no longer protected its asset, which
        // may be gone: refused, as the caller's view of it is stale.
        if staged.share.expired() {
            return Err(CacheError::WriteExpired {
                path: staged.path.to_string(),
            });
        }
        // Other live writes' staged bytes are on disk already: they count
        // against the budget of the asset they go to.
        let kept = self.inner.is_kept(&id);
        let others = self.staged(Some(&staged.share), kept);
        let (used, max) = self.budget(kept);
        // With room for all of it, what the write replaces cannot matter
        // here: the base finds out (a new file then costs it no stat).
        let fits = used.saturating_add(len).saturating_add(others) <= max;
        let plan = if fits {
            Plan::default()
        } else {
            let replaces = self.inner.len(&id, &staged.path)?;
            let delta = len.saturating_sub(replaces.unwrap_or(0));
            Plan {
                evict: self.make_room(&id, delta, others)?,
                replaces: Replaces::Known(replaces),
            }
        };
        let commit = self.inner.commit(staged, plan)?;
        for victim in &commit.evicted {
            self.policy.on_remove(victim);
            self.evictions += 1;
            tracing::info!(asset = %victim, "evicted asset");
        }
        self.accessed(&id);
        Ok(commit)
    }

    fn remove_all(&mut self, id: &AssetId) -> Result<()> {
        self.inner.remove_all(id)?;
        self.policy.on_remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Index, IndexStore};
    use crate::lease::{LeaseKind, LeaseStore};
    use crate::store::MemStore;
    use crate::store::record::Record;

    type Stack = EvictingStore<LeaseStore<IndexStore<MemStore>>, LruPolicy>;

    fn stack(max: u64) -> Stack {
        stack_with(max, Default::default())
    }

    /// A stack whose index knows `records` (as the scan finds them on disk).
    fn stack_with(max: u64, records: crate::index::Records) -> Stack {
        let index = Index::new(0, None, Default::default(), false).with_records(records);
        let mut index = IndexStore::new(MemStore::default(), index);
        index.set_max_bytes(max);
        let in_flight = InFlight::default();
        EvictingStore::new(
            LeaseStore::new(index, in_flight.clone()),
            LruPolicy::default(),
            in_flight,
        )
    }

    fn id(n: u8) -> AssetId {
        AssetId::from_key(&[n])
    }

    fn path() -> CachePath {
        CachePath::parse("r").unwrap()
    }

    #[test]
    fn the_layers_compose_without_the_facade() {
        let mut s = stack(100);
        for n in 1..=3 {
            s.put_atomic(&id(n), &path(), &[0; 30]).unwrap();
        }
        s.inner_mut().acquire(id(1), LeaseKind::Pin);
        let commit = s.put_atomic(&id(4), &path(), &[0; 40]).unwrap();
        assert_eq!(commit.evicted, vec![id(2)]);
        assert_eq!(s.inner().total_bytes(), 100);
        assert!(matches!(
            s.remove_all(&id(1)),
            Err(CacheError::AssetInUse { .. })
        ));
        s.inner_mut().release(&id(1), LeaseKind::Pin);
        s.remove_all(&id(1)).unwrap();
        assert_eq!(s.inner().total_bytes(), 70);
    }

    /// A read goes through every layer under the lock: the index checks
    /// the record, and only a hit that passes reaches the recency and the
    /// policy (here: which asset the next eviction takes).
    #[test]
    fn a_read_is_checked_by_the_index_and_ordered_by_the_policy() {
        let s_path = CachePath::parse("s").unwrap();
        let record = Record { len: 4, digest: 9 };
        let mut records = crate::index::Records::default();
        records.insert(id(1), &s_path, record);
        let mut s = stack_with(60, records);
        for n in 1..=2 {
            s.put_atomic(&id(n), &path(), &[0; 30]).unwrap();
        }
        let seen = |len, digest| Seen { len, digest };
        let recency = |s: &Stack, n| s.inner().recency(&id(n)).unwrap();
        let before = recency(&s, 1);
        // Torn, then rotted: refused, and asset 1 stays the oldest.
        assert!(matches!(
            s.served(&id(1), &s_path, seen(3, None)),
            Some(Problem::Length {
                recorded: 4,
                found: 3
            })
        ));
        assert!(matches!(
            s.served(&id(1), &s_path, seen(4, Some(8))),
            Some(Problem::Digest)
        ));
        assert_eq!(recency(&s, 1), before, "the index recorded no hit");
        let commit = s.put_atomic(&id(3), &path(), &[0; 30]).unwrap();
        assert_eq!(commit.evicted, vec![id(1)]);
        // A hit that passes (or has no record) makes its asset the newest.
        let before = recency(&s, 2);
        assert!(s.served(&id(2), &path(), seen(30, None)).is_none());
        assert!(recency(&s, 2) > before, "the index recorded the hit");
        let commit = s.put_atomic(&id(4), &path(), &[0; 30]).unwrap();
        assert_eq!(commit.evicted, vec![id(3)]);
    }

    #[test]
    fn an_unleased_writer_is_still_not_evicted_for_itself() {
        let mut s = stack(100);
        s.put_atomic(&id(1), &CachePath::parse("a").unwrap(), &[0; 60])
            .unwrap();
        let err = s
            .put_atomic(&id(1), &CachePath::parse("b").unwrap(), &[0; 50])
            .unwrap_err();
        assert!(matches!(
            err,
            CacheError::CacheFull {
                needed: 50,
                available: 40
            }
        ));
        assert_eq!(s.inner().total_bytes(), 60);
    }
}
