//! The integrity record of a resource: its length and content digest.
//!
//! The record travels with the file itself, as the extended attribute
//! `user.kithara.rec` set on the temp file before it is synced and renamed:
//! the rename that publishes the bytes publishes their record with them (no
//! second file, no window between the two), a `Sync` write makes both
//! durable with one `fsync`, and the scan at open reads it back from the
//! file system, which stays the source of truth. A file without the
//! attribute (written by an older version, copied without attributes, or on
//! a file system or system without user attributes) is *unverified*: still
//! served, counted by `verify`.
//!
//! The digest is XXH3-64: a non-cryptographic checksum at memory speed
//! (tens of GB/s), enough to tell a torn or rotted file from the one that
//! was written. It is not tamper evidence: whoever can rewrite a cached
//! file can rewrite its attribute too, and a keyed hash would need a secret
//! the cache has nowhere safe to keep.

use std::fs::File;
use std::io::{self, Read};

use xxhash_rust::xxh3::Xxh3Default;

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
use crate::layout::RECORD_XATTR;

/// What a resource was when it was committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub len: u64,
    pub digest: u64,
}

/// Format version, then the length and the digest, little-endian.
const VERSION: u8 = 1;
const ENCODED: usize = 17;

impl Record {
    fn encode(self) -> [u8; ENCODED] {
        let mut out = [0u8; ENCODED];
        out[0] = VERSION;
        out[1..9].copy_from_slice(&self.len.to_le_bytes());
        out[9..].copy_from_slice(&self.digest.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != ENCODED || bytes[0] != VERSION {
            return None;
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        Some(Self {
            len: word(1),
            digest: word(9),
        })
    }
}

/// The digest of bytes in one piece.
pub(crate) fn digest(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The digest of bytes that arrive in pieces.
#[derive(Default)]
pub(crate) struct Digest(Box<Xxh3Default>);

impl Digest {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0.digest()
    }
}

/// Reads `file` from its current position to the end; its length and digest.
pub(crate) fn measure(file: &mut File) -> io::Result<Record> {
    let mut digest = Digest::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                digest.update(&buf[..n]);
                len += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Record {
        len,
        digest: digest.finish(),
    })
}

/// Attaches `record` to the open file; `false` where the system or the file
/// system keeps no user attributes (the resource is then unverified).
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
pub(crate) fn attach(file: &File, record: Record) -> bool {
    rustix::fs::fsetxattr(
        file,
        RECORD_XATTR,
        &record.encode(),
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
pub(crate) fn attach(_file: &File, record: Record) -> bool {
    let _ = record.encode();
    false
}

/// The record attached to an open file, if any.
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
pub(crate) fn read(file: &File) -> Option<Record> {
    let mut buf = [0u8; ENCODED + 1];
    let n = rustix::fs::fgetxattr(file, RECORD_XATTR, &mut buf).ok()?;
    Record::decode(&buf[..n])
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
pub(crate) fn read(_file: &File) -> Option<Record> {
    Record::decode(&[])
}

/// The raw attribute attached to an open file (the power-cut recorder
/// copies it as it is).
#[cfg(all(feature = "fuzzing", target_os = "linux"))]
pub(crate) fn attached(file: &File) -> Option<Vec<u8>> {
    let mut buf = [0u8; ENCODED + 1];
    let n = rustix::fs::fgetxattr(file, RECORD_XATTR, &mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// The record attached to the file at `path` (never through a link: the
/// scan has checked it is a regular file).
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
pub(crate) fn read_at(path: &std::path::Path) -> Option<Record> {
    let mut buf = [0u8; ENCODED + 1];
    let n = rustix::fs::lgetxattr(path, RECORD_XATTR, &mut buf).ok()?;
    Record::decode(&buf[..n])
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
pub(crate) fn read_at(_path: &std::path::Path) -> Option<Record> {
    Record::decode(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_foreign_bytes_are_no_record() {
        let r = Record {
            len: 65_536,
            digest: digest(b"segment"),
        };
        assert_eq!(Record::decode(&r.encode()), Some(r));
        assert_eq!(Record::decode(&r.encode()[..16]), None);
        let mut other = r.encode();
        other[0] = 2;
        assert_eq!(Record::decode(&other), None);
        let mut d = Digest::default();
        d.update(b"seg");
        d.update(b"ment");
        assert_eq!(d.finish(), r.digest);
    }
}
