//! Reading: [`AssetReader`] over a cached file or bytes in memory, and
//! reading a cached file whose length is known.
//!
//! Cached files are never modified in place, only replaced by a rename, so
//! the length seen when a file was opened is what the open file holds.
//! Reading exactly that much into memory reserved once takes one `read` call
//! for a segment. std's `read_to_end` would ask the file for its size and
//! position again (`statx`, `lseek`) and then `read` once more to see the
//! end: three syscalls of a hit's seven. On unix `rustix` reads into the
//! vector's spare capacity, which std allows only on nightly (`read_buf`);
//! elsewhere std's generic read does it with more calls.

mod reader;

use std::fs::File;
use std::io;

#[cfg(not(unix))]
use std::io::Read;

#[cfg(unix)]
use rustix::{buffer::spare_capacity, io::Errno};

pub use reader::AssetReader;

/// Appends the `len` bytes that `file` holds from its position on to `buf`
/// and returns how many it appended, fewer if the file ends sooner. `len`
/// must be all the file holds from there (a cached file's length at open):
/// the read fills whatever spare capacity `buf` has.
pub(crate) fn append(file: &File, len: u64, buf: &mut Vec<u8>) -> io::Result<usize> {
    let want = usize::try_from(len).map_err(|_| io::Error::other("resource larger than memory"))?;
    buf.try_reserve_exact(want)?;
    let start = buf.len();
    fill(file, start + want, buf)?;
    Ok(buf.len() - start)
}

/// Appends the `len` bytes at offset `at` of `file` to `buf` with
/// positional reads (on unix the file's position is left alone) and returns how
/// many it appended, fewer if the file ends sooner.
pub(crate) fn append_at(file: &File, at: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<usize> {
    let want = usize::try_from(len).map_err(|_| io::Error::other("resource larger than memory"))?;
    buf.try_reserve_exact(want)?;
    let start = buf.len();
    while buf.len() < start + want {
        let off = at + (buf.len() - start) as u64;
        match pread(file, off, buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf.len() - start)
}

#[cfg(unix)]
fn pread(file: &File, off: u64, buf: &mut Vec<u8>) -> io::Result<usize> {
    Ok(rustix::io::pread(file, spare_capacity(buf), off)?)
}

// Elsewhere a seek and a read: the file's position moves.
#[cfg(not(unix))]
fn pread(file: &File, off: u64, buf: &mut Vec<u8>) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    let start = buf.len();
    buf.resize(buf.capacity(), 0);
    let n = f.read(&mut buf[start..]);
    buf.truncate(start + *n.as_ref().unwrap_or(&0));
    n
}

/// Reads until `buf` is `end` long or the file ends.
#[cfg(unix)]
fn fill(file: &File, end: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    while buf.len() < end {
        match rustix::io::read(file, spare_capacity(buf)) {
            Ok(0) => break,
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn fill(file: &File, end: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    let want = end.saturating_sub(buf.len()) as u64;
    file.take(want).read_to_end(buf)?;
    Ok(())
}
