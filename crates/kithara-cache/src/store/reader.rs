//! `AssetReader`: a cached resource open for reading.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};

use bytes::Bytes;

/// A cached resource open for reading. A file stays readable even if its
/// asset is evicted while it is open.
#[derive(Debug)]
pub struct AssetReader {
    body: Body,
    len: u64,
    /// Whether a read or seek moved it from the start (saves an lseek).
    moved: bool,
}

#[derive(Debug)]
enum Body {
    File(File),
    Mem(Cursor<Bytes>),
}

impl AssetReader {
    pub(crate) fn file(file: File, len: u64) -> Self {
        Self {
            body: Body::File(file),
            len,
            moved: false,
        }
    }

    pub(crate) fn memory(bytes: Bytes) -> Self {
        Self {
            len: bytes.len() as u64,
            body: Body::Mem(Cursor::new(bytes)),
            moved: false,
        }
    }

    /// Length of the resource in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty resource.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the whole resource from the current position on.
    pub fn into_bytes(self) -> io::Result<Bytes> {
        match self.body {
            Body::Mem(c) => {
                let pos = usize::try_from(c.position()).unwrap_or(usize::MAX);
                let bytes = c.into_inner();
                Ok(bytes.slice(pos.min(bytes.len())..))
            }
            Body::File(mut f) => {
                // Cached files are never modified in place (only replaced by
                // rename), so the length measured at open bounds the read: one
                // read call into reserved memory, no size probe, no zero-fill,
                // and `take` answers the EOF probe without a syscall.
                let pos = if self.moved { f.stream_position()? } else { 0 };
                let rest = self.len.saturating_sub(pos);
                let cap = usize::try_from(rest)
                    .map_err(|_| io::Error::other("resource larger than memory"))?;
                let mut buf = Vec::with_capacity(cap);
                f.take(rest).read_to_end(&mut buf)?;
                Ok(Bytes::from(buf))
            }
        }
    }
}

impl Read for AssetReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.moved = true;
        match &mut self.body {
            Body::File(f) => f.read(buf),
            Body::Mem(c) => c.read(buf),
        }
    }

    // Forwarded so `File`'s sized read_to_end is used instead of the generic
    // doubling loop (five reads for 64 KiB).
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.moved = true;
        match &mut self.body {
            Body::File(f) => f.read_to_end(buf),
            Body::Mem(c) => c.read_to_end(buf),
        }
    }
}

impl Seek for AssetReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.moved = true;
        match &mut self.body {
            Body::File(f) => f.seek(pos),
            Body::Mem(c) => c.seek(pos),
        }
    }
}
