//! `WriterView`: the bytes of a write in progress, readable while it goes on.

use std::fs::File;
use std::io;
use std::sync::Arc;

use parking_lot::RwLock;

/// A read-only view of the bytes an [`AssetWriter`](crate::AssetWriter) has
/// written and flushed so far, for serving a resource to readers while it
/// is still being written (a proxy's streaming tee). Reads never block the
/// writer, and the bytes stay readable after the write commits or is
/// abandoned (the view holds its own handle). Nothing read through it is in
/// the cache until the writer commits.
#[derive(Clone, Debug)]
pub struct WriterView {
    body: Body,
}

#[derive(Clone, Debug)]
enum Body {
    File(Arc<File>),
    Mem(Arc<RwLock<Vec<u8>>>),
}

impl WriterView {
    pub(crate) fn file(file: File) -> Self {
        Self {
            body: Body::File(Arc::new(file)),
        }
    }

    pub(crate) fn memory(buf: Arc<RwLock<Vec<u8>>>) -> Self {
        Self {
            body: Body::Mem(buf),
        }
    }

    /// Reads bytes from `offset` into `buf`; returns how many (0 at the end
    /// of what was flushed so far). Does not move any position: views and
    /// the writer may read and write concurrently.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match &self.body {
            #[cfg(unix)]
            Body::File(f) => std::os::unix::fs::FileExt::read_at(&**f, buf, offset),
            #[cfg(windows)]
            Body::File(f) => std::os::windows::fs::FileExt::seek_read(&**f, buf, offset),
            Body::Mem(v) => {
                let v = v.read();
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(v.len());
                let n = buf.len().min(v.len() - start);
                buf[..n].copy_from_slice(&v[start..start + n]);
                Ok(n)
            }
        }
    }
}
