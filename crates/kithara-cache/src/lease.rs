//! `LeaseStore<S>`: pins that keep assets from being evicted.
//!
//! A lease is a reference count per asset, held in memory only: a crash or a
//! restart leaves nothing pinned. Two kinds are counted apart so that stats
//! show the user's pins: `Pin` (a [`LeaseGuard`](crate::LeaseGuard), e.g. the
//! playing track) and `Write` (an in-flight write, so an asset is never
//! evicted to make room for itself). Both protect the asset. The check lives
//! here, at the lowest layer that removes: `remove_all` of a leased asset
//! fails, so no layer above can evict one by mistake.

use crate::error::{CacheError, Result};
use crate::id::{AssetId, IdMap};
use crate::index::Accounting;
use crate::store::{Commit, Plan, Store, forward};
use crate::write::{InFlight, Staged};

/// Why an asset is leased.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeaseKind {
    Pin,
    Write,
}

#[derive(Clone, Copy, Debug, Default)]
struct Count {
    pins: usize,
    writes: usize,
}

/// What the eviction layer needs to know of leases.
pub(crate) trait Protection {
    /// Whether the asset must not be evicted.
    fn is_protected(&self, id: &AssetId) -> bool;
    /// Bytes of the protected streamed assets (kept ones are never
    /// evicted anyway, and count against their own budget).
    fn protected_bytes(&self) -> u64;
}

/// Reference-counted leases over a store.
pub(crate) struct LeaseStore<S> {
    inner: S,
    leases: IdMap<Count>,
    /// The writes in flight, whose leases expire (`write/in_flight.rs`).
    in_flight: InFlight,
}

impl<S: Store + Accounting> LeaseStore<S> {
    pub(crate) fn new(inner: S, in_flight: InFlight) -> Self {
        Self {
            inner,
            leases: IdMap::default(),
            in_flight,
        }
    }

    pub(crate) fn inner(&self) -> &S {
        &self.inner
    }

    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub(crate) fn acquire(&mut self, id: AssetId, kind: LeaseKind) {
        let c = self.leases.entry(id).or_default();
        match kind {
            LeaseKind::Pin => c.pins += 1,
            LeaseKind::Write => c.writes += 1,
        }
    }

    pub(crate) fn release(&mut self, id: &AssetId, kind: LeaseKind) {
        let Some(c) = self.leases.get_mut(id) else {
            return;
        };
        match kind {
            LeaseKind::Pin => c.pins = c.pins.saturating_sub(1),
            LeaseKind::Write => c.writes = c.writes.saturating_sub(1),
        }
        if c.pins == 0 && c.writes == 0 {
            self.leases.remove(id);
        }
    }

    /// Whether a user holds a pin on the asset.
    pub(crate) fn is_pinned(&self, id: &AssetId) -> bool {
        self.leases.get(id).is_some_and(|c| c.pins > 0)
    }

    /// Assets with at least one user pin.
    pub(crate) fn pinned(&self) -> impl Iterator<Item = &AssetId> {
        self.leases
            .iter()
            .filter(|(_, c)| c.pins > 0)
            .map(|(id, _)| id)
    }
}

impl<S: Store + Accounting> Protection for LeaseStore<S> {
    fn is_protected(&self, id: &AssetId) -> bool {
        self.leases
            .get(id)
            .is_some_and(|c| c.pins > 0 || (c.writes > 0 && self.in_flight.protects(id)))
    }

    fn protected_bytes(&self) -> u64 {
        self.leases
            .keys()
            .filter(|id| self.is_protected(id) && !self.inner.is_kept(id))
            .map(|id| self.inner.asset_bytes(id))
            .sum()
    }
}

impl<S: Store + Accounting> Store for LeaseStore<S> {
    // Reading (without the lock or under it) and staging touch no lease;
    // removing one resource is not eviction, so it is allowed on a leased asset.
    forward!(
        exists,
        len,
        open,
        lookup,
        served,
        stage,
        remove_file,
        set_kept
    );

    fn commit(&mut self, staged: Staged, plan: Plan) -> Result<Commit> {
        // Checked before anything moves, as `remove_all` does.
        if let Some(id) = plan.evict.iter().find(|id| self.is_protected(id)) {
            return Err(CacheError::AssetInUse { id: *id });
        }
        self.inner.commit(staged, plan)
    }

    fn remove_all(&mut self, id: &AssetId) -> Result<()> {
        if self.is_protected(id) {
            return Err(CacheError::AssetInUse { id: *id });
        }
        self.inner.remove_all(id)
    }
}

impl<S: Store + Accounting> Accounting for LeaseStore<S> {
    fn total_bytes(&self) -> u64 {
        self.inner.total_bytes()
    }

    fn max_bytes(&self) -> u64 {
        self.inner.max_bytes()
    }

    fn asset_bytes(&self, id: &AssetId) -> u64 {
        self.inner.asset_bytes(id)
    }

    fn recency(&self, id: &AssetId) -> Option<u64> {
        self.inner.recency(id)
    }

    fn recencies(&self) -> Vec<(AssetId, u64)> {
        self.inner.recencies()
    }

    fn is_kept(&self, id: &AssetId) -> bool {
        self.inner.is_kept(id)
    }

    fn kept_bytes(&self) -> u64 {
        self.inner.kept_bytes()
    }

    fn max_kept_bytes(&self) -> u64 {
        self.inner.max_kept_bytes()
    }
}
