//! `LeaseGuard`: an owned pin on an asset.

use std::sync::Arc;

use crate::cache::Inner;
use crate::id::AssetId;
use crate::lease::LeaseKind;

/// Keeps an asset from being evicted while it lives.
///
/// Owned (`'static`, `Send + Sync`): it can move into threads and tasks.
/// Cloning takes another reference; the asset is unpinned when the last
/// guard is dropped. A pin is counted in memory; on disk the owner also
/// holds a lock that shows it to other processes (`pins.rs`), which the
/// kernel drops with the process: a crash leaves nothing pinned.
pub struct LeaseGuard {
    inner: Arc<Inner>,
    id: AssetId,
    kind: LeaseKind,
}

impl LeaseGuard {
    pub(crate) fn acquire(inner: Arc<Inner>, id: AssetId, kind: LeaseKind) -> Self {
        inner.engine().inner_mut().acquire(id, kind);
        if kind == LeaseKind::Pin {
            inner.pins.pin(&id);
        }
        Self { inner, id, kind }
    }

    /// The pinned asset.
    pub fn id(&self) -> AssetId {
        self.id
    }
}

impl Clone for LeaseGuard {
    fn clone(&self) -> Self {
        Self::acquire(Arc::clone(&self.inner), self.id, self.kind)
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.inner.engine().inner_mut().release(&self.id, self.kind);
        if self.kind == LeaseKind::Pin {
            self.inner.pins.unpin(&self.id);
        }
    }
}

impl std::fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseGuard").field("id", &self.id).finish()
    }
}
