//! `AssetWriter`: a streaming write that commits atomically.

use std::io::{self, Write};
use std::sync::Arc;

use crate::cache::Inner;
use crate::error::{CacheError, Result};
use crate::guard::LeaseGuard;
use crate::handle::PutResult;
use crate::write::{Staged, WriterView};

/// Takes bytes as they arrive (into a temp file on disk) and makes them
/// visible at once on [`AssetWriter::commit`]. Dropped without a commit, it
/// leaves nothing behind. While it lives its asset cannot be evicted.
pub struct AssetWriter {
    inner: Arc<Inner>,
    staged: Staged,
    _lease: LeaseGuard,
    /// The bound of the budget the asset was in when the write began, and
    /// whether it is the kept one: a resource larger than it is refused
    /// early (the commit checks the budget it is in then).
    budget: (u64, bool),
}

impl AssetWriter {
    pub(crate) fn new(
        inner: Arc<Inner>,
        staged: Staged,
        lease: LeaseGuard,
        budget: (u64, bool),
    ) -> Self {
        Self {
            inner,
            staged,
            _lease: lease,
            budget,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.staged.len()
    }

    /// True if nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.staged.len() == 0
    }

    /// A view of the bytes written so far, for readers that follow the
    /// write as it goes (see [`WriterView`]); bytes reach views at each
    /// [`flush`](Write::flush).
    pub fn view(&self) -> Result<WriterView> {
        self.staged.view()
    }

    /// Flushes, syncs (with `Durability::Sync`) and renames into place,
    /// evicting as a put does; fails with [`CacheError::CacheFull`] having
    /// changed nothing if room cannot be made.
    pub fn commit(mut self) -> Result<PutResult> {
        self.staged.finish()?;
        let commit = self.inner.commit(self.staged)?;
        Ok(PutResult {
            bytes_written: commit.new_len,
            evicted: commit.evicted,
        })
    }
}

impl Write for AssetWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (max, kept) = self.budget;
        let len = self.staged.len().saturating_add(buf.len() as u64);
        if len > max {
            // No point writing a resource that can never fit.
            return Err(io::Error::other(CacheError::full(kept, len, max)));
        }
        self.staged.write_bytes(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    /// Makes the bytes written so far readable through [`view`](Self::view)s;
    /// they become visible in the cache only on [`commit`](Self::commit).
    fn flush(&mut self) -> io::Result<()> {
        self.staged.flush_to_views().map_err(io::Error::other)
    }
}

impl std::fmt::Debug for AssetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetWriter")
            .field("path", &self.staged.path)
            .field("len", &self.staged.len())
            .finish()
    }
}
