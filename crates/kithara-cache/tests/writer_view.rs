//! A streaming write can be read while it goes on (a proxy's tee): what a
//! view shows is exactly what was written and flushed, it is not in the
//! cache before the commit, and it stays readable after a commit or an
//! abandoned write.

mod common;

use std::io::Write;

use common::{id, open, p};
use kithara_cache::{AssetCache, WriterView};

fn read_all(view: &WriterView) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = view.read_at(&mut buf, out.len() as u64).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn follows_the_write(cache: &AssetCache) {
    let asset = cache.asset(id(1));
    let path = p("v0/seg/000001.ts");
    let mut w = asset.writer(&path).unwrap();
    let view = w.view().unwrap();
    assert!(read_all(&view).is_empty());
    w.write_all(b"first half, ").unwrap();
    w.flush().unwrap();
    assert_eq!(read_all(&view), b"first half, ");
    assert!(
        !asset.exists(&path),
        "visible in the cache before the commit"
    );
    let mut tail = [0u8; 4];
    assert_eq!(view.read_at(&mut tail, 6).unwrap(), 4);
    assert_eq!(&tail, b"half");
    w.write_all(b"second half").unwrap();
    w.flush().unwrap();
    let late = w.view().unwrap();
    w.commit().unwrap();
    assert_eq!(read_all(&view), b"first half, second half");
    assert_eq!(read_all(&late), b"first half, second half");
    assert_eq!(
        asset.read(&path).unwrap().unwrap(),
        &b"first half, second half"[..]
    );

    // Abandoned: nothing lands, the view still reads what was written.
    let other = p("v0/seg/000002.ts");
    let mut w = asset.writer(&other).unwrap();
    w.write_all(b"cut short").unwrap();
    w.flush().unwrap();
    let view = w.view().unwrap();
    drop(w);
    assert!(!asset.exists(&other));
    assert_eq!(read_all(&view), b"cut short");
}

#[test]
fn a_view_follows_a_write_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    follows_the_write(&open(dir.path(), 1 << 20));
    // The abandoned write left no temp file behind.
    let leftovers: Vec<_> = common::files(dir.path())
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(common::TEMP_SUFFIX))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_view_follows_a_write_in_memory() {
    follows_the_write(&AssetCache::in_memory(1 << 20));
}
