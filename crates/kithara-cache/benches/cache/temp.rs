//! The temp file of a put, alone: the crate's own (`write/staged.rs`
//! `TempFile`: `O_EXCL` create of a unique name relative to a descriptor of
//! the destination's folder, `renameat2(RENAME_NOREPLACE)` relative to it)
//! against `tempfile::Builder` + `persist_noclobber` (the same calls by
//! path, with a random name), each staging and committing 64 KiB as a new
//! resource, `Buffered`, into one folder. The folder's descriptor is opened
//! once, as the cache holds it; `kithara_buffered` is the whole production
//! put of the same bytes for reference. Group `temp_64KiB_new`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process;

use criterion::{Criterion, Throughput};
use kithara_cache::{CachePath, Durability};
use rustix::fs::{Mode, OFlags, RenameFlags};

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{self, KIB, asset_id, payload, quiesce, seg};
use crate::put::{SLOTS, rounds};

const LEN: usize = 64 * KIB;

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    let mut g = cfg.group(c, "temp_64KiB_new");
    g.throughput(Throughput::Bytes(LEN as u64));
    let data: Vec<Vec<u8>> = (0..SLOTS).map(|n| payload(LEN, n as u64 + 1)).collect();

    let dir = scratch("temp-own");
    let folder = dir.path().join("seg");
    fs::create_dir_all(&folder).expect("create folder");
    let fd = rustix::fs::open(
        &folder,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .expect("open folder");
    let names: Vec<OsString> = (0..SLOTS).map(|n| format!("{n:06}.ts").into()).collect();
    let mut own = Own::new(fd);
    quiesce();
    g.bench_function("own_excl_noreplace", |b| {
        rounds(
            b,
            true,
            &mut |slot| own.put(&names[slot], &data[slot]),
            &mut |slot| fs::remove_file(folder.join(&names[slot])).expect("remove"),
        );
    });
    drop(dir);

    let dir = scratch("temp-tempfile");
    let dests: Vec<PathBuf> = (0..SLOTS)
        .map(|n| dir.path().join(format!("{n:06}.ts")))
        .collect();
    quiesce();
    g.bench_function("tempfile_noclobber", |b| {
        rounds(
            b,
            true,
            &mut |slot| {
                let mut t = tempfile::Builder::new()
                    .prefix(".")
                    .suffix(".kithara-tmp")
                    .tempfile_in(dir.path())
                    .expect("create temp file");
                t.write_all(&data[slot]).expect("write");
                black_box(t.persist_noclobber(&dests[slot]).expect("persist"));
            },
            &mut |slot| fs::remove_file(&dests[slot]).expect("remove"),
        );
    });
    drop(dir);

    let dir = scratch("temp-kithara");
    let cache = fixture::open(dir.path(), Durability::Buffered);
    let asset = cache.asset(asset_id("temp", 0));
    let paths: Vec<CachePath> = (0..SLOTS).map(seg).collect();
    quiesce();
    g.bench_function("kithara_buffered", |b| {
        rounds(
            b,
            true,
            &mut |slot| {
                black_box(asset.put_atomic(&paths[slot], &data[slot]).expect("put"));
            },
            &mut |slot| {
                asset.remove(&paths[slot]).expect("remove");
            },
        );
    });
    g.finish();
    drop((asset, cache, dir));
}

/// The crate's way, by hand: names `.<pid>-<counter>.kithara-tmp`.
struct Own {
    dir: OwnedFd,
    pid: u32,
    counter: u64,
}

impl Own {
    fn new(dir: OwnedFd) -> Self {
        Self {
            dir,
            pid: process::id(),
            counter: 0,
        }
    }

    fn put(&mut self, dest: &OsString, bytes: &[u8]) {
        self.counter += 1;
        let name = format!(".{:x}-{:x}.kithara-tmp", self.pid, self.counter);
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.dir, &name, flags, Mode::from_raw_mode(0o666))
            .expect("create temp file");
        File::from(fd).write_all(bytes).expect("write");
        rustix::fs::renameat_with(&self.dir, &name, &self.dir, dest, RenameFlags::NOREPLACE)
            .expect("rename");
    }
}
