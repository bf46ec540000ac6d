//! Issue 6, item 7: the disk fills up under the cache.
//!
//! A 4 MiB tmpfs is mounted in a temp directory (this needs root or
//! CAP_SYS_ADMIN; CI runs as root). The cache's `max_bytes` is far larger, so
//! the file system, not the limit, is what fills. Writes (`put_atomic` and the
//! streaming writer, alternately) go on until the disk refuses them. Each
//! refused write must be an `Err` (never a panic), leave neither the file nor
//! a temp file, and keep `total_bytes` equal to the bytes on disk. Once an
//! asset is removed the cache accepts writes again, and a reopen agrees.
//! The tmpfs is unmounted by a guard, also when the test fails.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{asset_dir, disk_usage, id, p, payload, payload_is_whole, temp_files};
use kithara_cache::{AssetCache, CacheError, CacheOptions, Durability};

const TMPFS_BYTES: u64 = 4 << 20;

/// A tmpfs mounted at `path`, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// `None` when mounting is not permitted here.
    fn mount(path: &Path, bytes: u64) -> Option<Self> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (e.g. a panic left a file open): detach it lazily.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

fn open(root: &Path) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(1 << 30)
            .durability(Durability::Sync),
    )
    .expect("open the cache on the tmpfs")
}

/// The accounting matches the disk and no temp file is left.
fn assert_consistent(cache: &AssetCache, root: &Path, what: &str) {
    let temps = temp_files(root);
    assert!(temps.is_empty(), "{what}: temp files left: {temps:?}");
    let (bytes, _) = disk_usage(root);
    let stats = cache.stats().expect("stats");
    assert_eq!(stats.total_bytes, bytes, "{what}: total_bytes vs disk");
}

/// Write `bytes` at `name` in asset `n`, with the streaming writer (in
/// 64 KiB pieces) or `put_atomic`.
/// The error of a refused write: from the cache, or (streaming writer) from `write`.
#[derive(Debug)]
enum Refused {
    Cache(CacheError),
    Io(std::io::Error),
}

impl Refused {
    /// The refusal is the disk's (ENOSPC), whichever layer reported it.
    fn is_no_space(&self) -> bool {
        let text = match self {
            Refused::Cache(e) => format!("{e:?}"),
            Refused::Io(e) => format!("{e:?}"),
        };
        text.contains("StorageFull")
    }
}

fn write(
    cache: &AssetCache,
    n: u32,
    name: &str,
    bytes: &[u8],
    streaming: bool,
) -> Result<(), Refused> {
    let asset = cache.asset(id(n));
    if streaming {
        let mut w = asset.writer(&p(name)).map_err(Refused::Cache)?;
        for piece in bytes.chunks(64 * 1024) {
            w.write_all(piece).map_err(Refused::Io)?;
        }
        w.commit().map(drop).map_err(Refused::Cache)
    } else {
        asset
            .put_atomic(&p(name), bytes)
            .map(drop)
            .map_err(Refused::Cache)
    }
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_the_cache_recovers() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&mnt, TMPFS_BYTES) else {
        // Not a silent pass: without the mount nothing was checked, so
        // this fails unless the run says it accepts the gap.
        assert!(
            std::env::var_os("KITHARA_SKIP_FULL_DISK").is_some_and(|v| v == "1"),
            "full_disk cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); \
             run as root (CI does) or set KITHARA_SKIP_FULL_DISK=1 to skip it knowingly"
        );
        eprintln!("\n!!! SKIPPED full_disk: KITHARA_SKIP_FULL_DISK=1 and no tmpfs mount !!!\n");
        return;
    };
    let root = mnt.join("cache");
    let cache = open(&root);

    // Fill: resources of 96 KiB to ~700 KiB over three assets until the disk refuses.
    let (mut written, mut refused, mut refused_streaming) = (0u32, 0u32, 0u32);
    let mut kept: Vec<(u32, String, Vec<u8>)> = Vec::new();
    let mut i = 0u32;
    while refused < 6 {
        assert!(i < 200, "the 4 MiB disk never filled");
        let n = i % 3;
        let len = 96 * 1024 + (i as usize * 151_007) % (600 * 1024);
        let name = format!("v0/seg/{i:06}.ts");
        let bytes = payload(u64::from(i), len);
        let streaming = i % 2 == 1;
        match write(&cache, n, &name, &bytes, streaming) {
            Ok(()) => {
                written += 1;
                kept.push((n, name, bytes));
            }
            Err(e) => {
                refused += 1;
                refused_streaming += u32::from(streaming);
                eprintln!("write {i} ({len} bytes, streaming {streaming}) refused: {e:?}");
                assert!(
                    !matches!(e, Refused::Cache(CacheError::CacheFull { .. })),
                    "the disk filled, not the limit: {e:?}"
                );
                assert!(e.is_no_space(), "write {i}: not ENOSPC: {e:?}");
                let file = asset_dir(&root, &id(n)).join(&name);
                assert!(!file.exists(), "write {i}: a partial file was left");
                assert!(!cache.asset(id(n)).exists(&p(&name)));
                assert_consistent(&cache, &root, &format!("after refused write {i}"));
            }
        }
        i += 1;
    }
    assert!(written >= 3, "only {written} writes fitted in 4 MiB");
    assert!(refused_streaming >= 1, "no streaming write was refused");
    // Fill the last pages with a file outside the cache, after one small
    // write that leaves the index dirty: now even a tiny resource and the
    // index itself cannot be written. Errors, not panics; no temp file left.
    write(&cache, 1, "small.bin", &payload(7, 100), false).unwrap_or_default();
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 4096]).is_ok() {}
    }
    let tiny = write(&cache, 1, "tiny.bin", &payload(8, 16), false);
    assert!(tiny.is_err(), "a write on a completely full disk succeeded");
    let flushed = cache.flush();
    eprintln!("flush on a completely full disk: {flushed:?}");
    assert_consistent(&cache, &root, "after flush on a full disk");
    std::fs::remove_file(&filler).unwrap();
    kept.extend(
        cache
            .asset(id(1))
            .read(&p("small.bin"))
            .unwrap()
            .map(|b| (1, "small.bin".to_owned(), b.to_vec())),
    );
    // Everything that was accepted is whole.
    for (n, name, bytes) in &kept {
        let got = cache.asset(id(*n)).read(&p(name)).unwrap().unwrap();
        assert!(got == *bytes && payload_is_whole(&got), "{name} damaged");
    }

    // Free space by removing an asset: writes work again.
    cache.remove(id(0)).expect("remove an asset on a full disk");
    kept.retain(|(n, ..)| *n != 0);
    assert_consistent(&cache, &root, "after remove");
    for (k, streaming) in [(0, false), (1, true)] {
        let name = format!("v1/after-{k}.ts");
        let bytes = payload(1000 + k, 200 * 1024);
        write(&cache, 4, &name, &bytes, streaming).expect("a write after space was freed");
        kept.push((4, name, bytes));
    }
    cache.flush().expect("flush after space was freed");
    assert_consistent(&cache, &root, "after writes with room again");

    // A reopen agrees with the disk and finds every accepted resource.
    drop(cache);
    let cache = open(&root);
    assert_consistent(&cache, &root, "after reopen");
    for (n, name, bytes) in &kept {
        let got = cache.asset(id(*n)).read(&p(name)).unwrap();
        assert_eq!(got.as_deref(), Some(&bytes[..]), "{name} after reopen");
    }
    drop(cache);
    eprintln!(
        "full_disk: {written} writes accepted, {refused} refused ({refused_streaming} streaming) \
         on a {} KiB tmpfs, recovered after remove, in {:.1?}",
        TMPFS_BYTES / 1024,
        started.elapsed()
    );
}
