//! `AssetReader`: a cached resource open for reading.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};

use bytes::Bytes;

use super::{append, append_at};

/// A cached resource open for reading: the version that was there when it
/// was opened, [`len`](Self::len) bytes, even if the resource is replaced or
/// its asset evicted while it is open.
#[derive(Debug)]
pub struct AssetReader {
    body: Body,
    len: u64,
}

#[derive(Debug)]
enum Body {
    /// `pos` mirrors the file's offset, so reading the rest needs no `lseek`.
    File {
        file: File,
        pos: u64,
    },
    Mem(Cursor<Bytes>),
}

impl AssetReader {
    pub(crate) fn file(file: File, len: u64) -> Self {
        Self {
            body: Body::File { file, pos: 0 },
            len,
        }
    }

    pub(crate) fn memory(bytes: Bytes) -> Self {
        Self {
            len: bytes.len() as u64,
            body: Body::Mem(Cursor::new(bytes)),
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

    /// The open file, for a caller that hands its bytes to the kernel
    /// (`sendfile`); `None` for a resource held in memory. Reading through
    /// it with positional reads leaves this reader's position alone.
    #[cfg(unix)]
    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        match &self.body {
            Body::File { file, .. } => Some(file.as_fd()),
            Body::Mem(_) => None,
        }
    }

    /// Exactly `n` bytes from offset `at`, without moving the position;
    /// an error if the resource ends sooner.
    pub fn read_at(&self, at: u64, n: u64) -> io::Result<Bytes> {
        let short = || io::Error::new(io::ErrorKind::UnexpectedEof, "the resource is shorter");
        if at.checked_add(n).is_none_or(|end| end > self.len) {
            return Err(short());
        }
        match &self.body {
            Body::Mem(c) => {
                let (a, b) = (at as usize, (at + n) as usize);
                Ok(c.get_ref().slice(a..b))
            }
            Body::File { file, .. } => {
                let mut buf = Vec::new();
                if append_at(file, at, n, &mut buf)? < n as usize {
                    return Err(short());
                }
                Ok(Bytes::from(buf))
            }
        }
    }

    /// Reads the whole resource from the current position on.
    pub fn into_bytes(self) -> io::Result<Bytes> {
        match self.body {
            Body::Mem(c) => {
                let pos = usize::try_from(c.position()).unwrap_or(usize::MAX);
                let bytes = c.into_inner();
                Ok(bytes.slice(pos.min(bytes.len())..))
            }
            Body::File { file, pos } => {
                let mut buf = Vec::new();
                append(&file, self.len.saturating_sub(pos), &mut buf)?;
                Ok(Bytes::from(buf))
            }
        }
    }
}

impl Read for AssetReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Body::File { file, pos } => {
                let n = file.read(buf)?;
                *pos += n as u64;
                Ok(n)
            }
            Body::Mem(c) => c.read(buf),
        }
    }

    // The rest is known to be `len - pos` bytes: read in one call, where the
    // generic loop would read 64 KiB in four and `File`'s own would first
    // ask for the size and position.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match &mut self.body {
            Body::File { file, pos } => {
                let start = buf.len();
                let read = append(file, self.len.saturating_sub(*pos), buf);
                // Counted on an error too: what was appended was read.
                *pos += (buf.len() - start) as u64;
                read
            }
            Body::Mem(c) => c.read_to_end(buf),
        }
    }
}

impl Seek for AssetReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match &mut self.body {
            Body::File { file, pos } => {
                *pos = file.seek(to)?;
                Ok(*pos)
            }
            Body::Mem(c) => c.seek(to),
        }
    }
}
