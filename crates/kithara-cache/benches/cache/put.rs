//! Workload 1: put of 64 KiB and 1 MiB resources.
//!
//! Every variant rotates over the same 32 destinations of one asset. In the
//! `put_<size>` groups each put replaces an existing file (a re-downloaded
//! segment); in `put_<size>_new` each put makes a new one (a cache filling:
//! the destinations are removed between rounds of 32, untimed, and each
//! variant first waits out ext4's recently-deleted window, see `quiesce`).
//! No directory is created in the measured loop.
//!
//! Criterion measures one variant after the other, and a shared disk's speed
//! drifts between them; so after criterion the new-resource puts run again
//! in rotation ([`rotation`]), each round meeting the same moments of the disk.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cacache::RemoveOpts;
use criterion::{Bencher, Criterion, Throughput};
use kithara_cache::{CachePath, Durability};
use tempfile::TempDir;

use kithara_test_utils::bench::scratch;

use crate::Cfg;
use crate::fixture::{self, KIB, MIB, asset_id, payload, quiesce, seg, settle};
use crate::raw::{self, RawWriter};

/// Destinations of one asset that every variant rotates over.
pub const SLOTS: usize = 32;
const CACACHE: &str = "cacache_write_sync";
/// Sizes of the put workload.
pub const SIZES: [(&str, usize); 2] = [("64KiB", 64 * KIB), ("1MiB", MIB)];

pub fn bench(c: &mut Criterion, cfg: &Cfg) {
    for new in [false, true] {
        for (label, len) in SIZES {
            group(c, cfg, &group_name(label, new), len, new);
        }
    }
}

/// `put_<size>` (each put replaces a file) or `put_<size>_new`.
pub fn group_name(size: &str, new: bool) -> String {
    format!("put_{size}{}", if new { "_new" } else { "" })
}

/// One way of putting the same bytes into the `SLOTS` destinations.
struct Variant {
    name: &'static str,
    put: Box<dyn FnMut(usize)>,
    clear: Box<dyn FnMut(usize)>,
    /// Where it writes; dropped last, after any cache in the closures closed.
    _dir: TempDir,
}

/// The raw baselines, kithara at both durabilities and cacache, each in a
/// scratch directory of its own, putting `data[slot]` into each slot.
fn variants(data: &Rc<[Vec<u8>]>) -> Vec<Variant> {
    let id = asset_id("put", 0);
    let mut out = Vec::new();
    for (name, sync, dir_sync) in [
        ("raw_buffered", false, false),
        ("raw_sync", true, false),
        ("raw_sync_dirsync", true, true),
    ] {
        let dir = scratch("put-raw");
        let seg_dir = raw::asset_dir(dir.path(), &id).join("v0").join("seg");
        fs::create_dir_all(&seg_dir).expect("create dirs");
        let dests: Vec<PathBuf> = (0..SLOTS)
            .map(|n| seg_dir.join(format!("{n:06}.ts")))
            .collect();
        let removed = dests.clone();
        let (data, mut w) = (Rc::clone(data), RawWriter::default());
        out.push(Variant {
            name,
            put: Box::new(move |slot| {
                w.put(&dests[slot], &data[slot], sync).expect("raw put");
                if dir_sync {
                    raw::sync_dir(&seg_dir).expect("sync dir");
                }
            }),
            clear: Box::new(move |slot| fs::remove_file(&removed[slot]).expect("raw remove")),
            _dir: dir,
        });
    }

    for (name, durability) in [
        ("kithara_buffered", Durability::Buffered),
        ("kithara_sync", Durability::Sync),
    ] {
        let dir = scratch("put-kithara");
        let cache = fixture::open(dir.path(), durability);
        let (handle, removing) = (cache.asset(id), cache.asset(id));
        drop(cache); // the handles keep it open
        let paths: Vec<CachePath> = (0..SLOTS).map(seg).collect();
        let removed = paths.clone();
        let data = Rc::clone(data);
        out.push(Variant {
            name,
            put: Box::new(move |slot| {
                black_box(
                    handle
                        .put_atomic(&paths[slot], &data[slot])
                        .expect("kithara put"),
                );
            }),
            clear: Box::new(move |slot| {
                removing.remove(&removed[slot]).expect("kithara remove");
            }),
            _dir: dir,
        });
    }

    let dir = scratch("put-cacache");
    let keys: Vec<String> = (0..SLOTS).map(|n| format!("put/{n}")).collect();
    let root = dir.path().to_path_buf();
    let (removed, removed_root) = (keys.clone(), root.clone());
    let data = Rc::clone(data);
    out.push(Variant {
        name: CACACHE,
        put: Box::new(move |slot| {
            black_box(cacache::write_sync(&root, &keys[slot], &data[slot]).expect("cacache put"));
        }),
        // Content too, or the next put would rename over it (a replacement).
        clear: Box::new(move |slot| {
            RemoveOpts::new()
                .remove_fully(true)
                .remove_sync(&removed_root, &removed[slot])
                .expect("cacache remove");
        }),
        _dir: dir,
    });
    out
}

/// Different bytes for every slot, like real segments: cacache stores
/// content by its hash, and equal payloads would share one file.
fn payloads(len: usize) -> Rc<[Vec<u8>]> {
    (0..SLOTS).map(|n| payload(len, n as u64 + 1)).collect()
}

/// One group: every variant putting `len` bytes. `new`: every put makes a
/// new resource (the slots are emptied between rounds, untimed); else every
/// put replaces one.
fn group(c: &mut Criterion, cfg: &Cfg, name: &str, len: usize, new: bool) {
    let mut g = cfg.group(c, name);
    g.throughput(Throughput::Bytes(len as u64));
    for mut v in variants(&payloads(len)) {
        if new {
            quiesce();
        }
        g.bench_function(v.name, |b| {
            settle();
            rounds(b, new, &mut v.put, &mut v.clear);
        });
    }
    g.finish();
}

/// Times `put` over the slots in rounds of `SLOTS`; with `new`, `clear`
/// empties each slot after its round, outside the timing.
pub fn rounds(
    b: &mut Bencher,
    new: bool,
    put: &mut dyn FnMut(usize),
    clear: &mut dyn FnMut(usize),
) {
    b.iter_custom(|iters| {
        let mut timed = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            let n = usize::try_from(iters - done).map_or(SLOTS, |left| left.min(SLOTS));
            let start = Instant::now();
            (0..n).for_each(&mut *put);
            timed += start.elapsed();
            if new {
                (0..n).for_each(&mut *clear);
            }
            done += n as u64;
        }
        timed
    });
}

/// Median nanoseconds per put of each raw and kithara variant (cacache,
/// far behind, is left out), keyed by group name (`put_<size>[_new]`):
/// `rounds` rounds of `SLOTS` puts with every variant in turn (the starting
/// variant moves on each round), each after a `settle`. For replacements
/// the slots are filled once first, untimed.
pub fn rotation(rounds: usize) -> Vec<(String, &'static str, f64)> {
    let mut out = Vec::new();
    for new in [false, true] {
        for (label, len) in SIZES {
            let group = group_name(label, new);
            let mut vs: Vec<Variant> = variants(&payloads(len))
                .into_iter()
                .filter(|v| v.name != CACACHE)
                .collect();
            if !new {
                vs.iter_mut().for_each(|v| (0..SLOTS).for_each(&mut v.put));
            }
            let mut times = vec![Vec::with_capacity(rounds); vs.len()];
            quiesce();
            for round in 0..rounds {
                for k in 0..vs.len() {
                    let i = (round + k) % vs.len();
                    let v = &mut vs[i];
                    settle();
                    let start = Instant::now();
                    (0..SLOTS).for_each(&mut v.put);
                    times[i].push(start.elapsed().as_nanos() as f64 / SLOTS as f64);
                    if new {
                        (0..SLOTS).for_each(&mut v.clear);
                    }
                }
            }
            for (v, mut t) in vs.iter().zip(times) {
                t.sort_by(f64::total_cmp);
                out.push((group.clone(), v.name, t[t.len() / 2]));
            }
        }
    }
    out
}
