//! Every way to read a resource gives its bytes, whole and exact: `read`,
//! `open` + `read_to_end`, `into_bytes`, and either after reads and seeks.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use common::{holding, id, open, p};
use kithara_cache::AssetCache;

/// Empty, one byte, around a page and a typical segment, and several MiB.
const LENS: [usize; 6] = [0, 1, 4095, 64 * 1024, 64 * 1024 + 1, 3 * 1024 * 1024 + 7];

fn cache(root: &Path) -> AssetCache {
    open(root, 64 << 20)
}

/// `len` pseudo-random bytes of `seed` (splitmix64 of the position): a
/// shifted, repeated or foreign chunk shows. `common::payload` has a
/// 16-byte header, and these tests need lengths 0 and 1.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let mut z = (seed << 40 ^ i).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

#[test]
fn read_and_open_give_the_whole_resource_at_every_length() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let a = cache.asset(id(1));
    for (n, len) in LENS.into_iter().enumerate() {
        let path = p(&format!("seg/{n}"));
        let data = payload(n as u64, len);
        a.put_atomic(&path, &data).unwrap();

        assert_eq!(a.read(&path).unwrap().unwrap(), data, "read, {len} bytes");

        let r = a.open(&path).unwrap().unwrap();
        assert_eq!(r.len(), len as u64);
        assert_eq!(r.into_bytes().unwrap(), data, "into_bytes, {len} bytes");

        let mut r = a.open(&path).unwrap().unwrap();
        let mut buf = b"kept".to_vec();
        assert_eq!(r.read_to_end(&mut buf).unwrap(), len);
        assert_eq!(&buf[..4], b"kept", "read_to_end appends");
        assert_eq!(&buf[4..], &data[..], "read_to_end, {len} bytes");
        assert_eq!(r.read_to_end(&mut buf).unwrap(), 0, "then nothing is left");
    }
}

#[test]
fn reads_continue_from_where_reads_and_seeks_left_the_reader() {
    let data = payload(7, 200_000);
    let dir = tempfile::tempdir().unwrap();
    let (_cache, a) = holding(dir.path(), "s", &data);

    let mut r = a.open(&p("s")).unwrap().unwrap();
    let mut head = [0u8; 1000];
    r.read_exact(&mut head).unwrap();
    assert_eq!(head, data[..1000]);
    assert_eq!(
        r.into_bytes().unwrap(),
        data[1000..],
        "into_bytes after a read"
    );

    let mut r = a.open(&p("s")).unwrap().unwrap();
    r.seek(SeekFrom::End(-10)).unwrap();
    assert_eq!(r.into_bytes().unwrap(), data[data.len() - 10..]);

    let mut r = a.open(&p("s")).unwrap().unwrap();
    r.seek(SeekFrom::Start(150_000)).unwrap();
    r.seek(SeekFrom::Current(-50_000)).unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, data[100_000..], "read_to_end after seeks");

    let mut r = a.open(&p("s")).unwrap().unwrap();
    r.seek(SeekFrom::Start(300_000)).unwrap();
    assert!(r.into_bytes().unwrap().is_empty(), "past the end: nothing");
}

#[test]
fn an_open_reader_keeps_the_version_it_opened() {
    let old = payload(1, 100_000);
    let dir = tempfile::tempdir().unwrap();
    let (_cache, a) = holding(dir.path(), "s", &old);
    let r = a.open(&p("s")).unwrap().unwrap();
    let mut r2 = a.open(&p("s")).unwrap().unwrap();
    a.put_atomic(&p("s"), b"new and short").unwrap();
    assert_eq!(r.into_bytes().unwrap(), old);
    let mut buf = Vec::new();
    r2.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, old);
    assert_eq!(a.read(&p("s")).unwrap().unwrap(), &b"new and short"[..]);
}

#[test]
fn a_memory_cache_reads_the_same_way() {
    let cache = AssetCache::in_memory(1 << 20);
    let a = cache.asset(id(1));
    let data = payload(3, 70_000);
    a.put_atomic(&p("s"), &data).unwrap();
    assert_eq!(a.read(&p("s")).unwrap().unwrap(), data);
    let mut r = a.open(&p("s")).unwrap().unwrap();
    r.seek(SeekFrom::Start(69_000)).unwrap();
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, data[69_000..]);
}

/// `read_at` gives exactly the bytes asked for, anywhere in the resource,
/// without moving the reader's position; past the end it fails. Through
/// `fd`, the kernel sees the same bytes (what `sendfile` sends).
#[test]
fn positional_reads_are_exact_and_leave_the_position_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let a = cache.asset(id(3));
    let data = payload(3, 3 * 1024 * 1024 + 7);
    a.put_atomic(&p("seg/x"), &data).unwrap();
    let mut r = a.open(&p("seg/x")).unwrap().unwrap();
    let mut first = [0u8; 10];
    r.read_exact(&mut first).unwrap();
    let len = data.len() as u64;
    for (at, n) in [
        (0, 1),
        (10, 65_536),
        (len - 7, 7),
        (1 << 20, 2 << 20),
        (len, 0),
    ] {
        let got = r.read_at(at, n).unwrap();
        assert_eq!(got, data[at as usize..(at + n) as usize], "{at}+{n}");
    }
    for (at, n) in [(len - 6, 7), (len + 1, 0), (u64::MAX, 2)] {
        let e = r.read_at(at, n).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{at}+{n}");
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, data[10..], "the position did not move");
    let fd = r.fd().expect("a file on disk");
    let mut via_fd = vec![0u8; 100];
    rustix::io::pread(fd, &mut via_fd[..], 5000).unwrap();
    assert_eq!(via_fd, data[5000..5100]);
}
