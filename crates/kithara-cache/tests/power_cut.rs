//! Power-cut simulation (issue 15 item 14).
//!
//! A seeded workload of puts (`Sync` and `Buffered`, one-shot and
//! streaming, replacing and new), evictions and index writes runs on a real
//! cache while the production store records every file-system operation it
//! makes (`kithara_cache::fuzzing::power`, `fuzzing` feature). Then, for a
//! cut after every operation, and under two crash models (`Ordered`: a
//! journaling file system, metadata in order and data only as far as
//! synced; `Strict`: nothing that no sync made durable), the state the cut
//! may leave is written to a fresh directory and a real cache opens it.
//! Every resource it serves must be bytes that were put at that path,
//! never other bytes; every `Sync` put that returned before the cut and
//! was not replaced or evicted since must be served whole; and the
//! accounting must equal the bytes on disk.

#![cfg(target_os = "linux")]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{disk_usage, id, p};
use kithara_cache::fuzzing::power::{self, Crash, Model, Op};
use kithara_cache::{AssetCache, AssetId, CacheOptions, Durability};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PATHS: [&str; 4] = [
    "master.m3u8",
    "v0/playlist.m3u8",
    "v0/seg/1.ts",
    "v0/seg/2.ts",
];

/// One put of the workload, and where in the log it began and ended.
struct Put {
    asset: AssetId,
    path: String,
    bytes: Vec<u8>,
    sync: bool,
    start: usize,
    end: usize,
    evicted: Vec<AssetId>,
}

fn workload(root: &Path, seed: u64, rounds: usize) -> (Model, Vec<Op>, Vec<Put>) {
    let cache = AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(120_000)
            .durability(Durability::Buffered)
            // Index writes happen at the workload's flush() calls, on this
            // thread, where they are recorded.
            .flush_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let baseline = Model::from_disk(root).unwrap();
    power::arm(root);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut puts = Vec::new();
    for round in 0..rounds {
        let asset = id(rng.random_range(0..5));
        let path = PATHS[rng.random_range(0..PATHS.len())];
        let len = rng.random_range(1..30_000);
        let bytes: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(7) ^ (round as u8))
            .collect();
        let sync = rng.random_bool(0.5);
        let durability = if sync {
            Durability::Sync
        } else {
            Durability::Buffered
        };
        let start = power::recorded();
        let handle = cache.asset(asset);
        let put = if rng.random_bool(0.3) {
            let mut w = handle.writer_with(&p(path), durability).unwrap();
            for chunk in bytes.chunks(7_000) {
                w.write_all(chunk).unwrap();
            }
            w.commit()
        } else {
            handle.put_atomic_with(&p(path), &bytes, durability)
        };
        let put = put.unwrap();
        puts.push(Put {
            asset,
            path: path.to_owned(),
            bytes,
            sync,
            start,
            end: power::recorded(),
            evicted: put.evicted,
        });
        if round % 5 == 4 {
            cache.flush().unwrap();
        }
    }
    let ops = power::disarm();
    (baseline, ops, puts)
}

/// Opens the state of a cut after `k` operations and checks it.
fn check(dir: &Path, k: usize, puts: &[Put]) -> Result<usize, String> {
    // A limit that no state reaches: the open must not evict what it checks.
    let cache = AssetCache::open(
        CacheOptions::new(dir)
            .max_bytes(1 << 30)
            .durability(Durability::Buffered),
    )
    .map_err(|e| format!("open: {e}"))?;
    let mut versions: HashMap<(AssetId, &str), HashSet<&[u8]>> = HashMap::new();
    for put in puts {
        versions
            .entry((put.asset, put.path.as_str()))
            .or_default()
            .insert(&put.bytes);
    }
    let mut served = 0;
    for (&(asset, path), known) in &versions {
        let got = cache
            .asset(asset)
            .read(&p(path))
            .map_err(|e| format!("read {path}: {e}"))?;
        if let Some(bytes) = got {
            served += 1;
            if !known.contains(&bytes[..]) {
                return Err(format!(
                    "{asset} {path}: served {} bytes that no put wrote",
                    bytes.len()
                ));
            }
        }
    }
    // A Sync put that returned before the cut, not superseded since.
    for (i, put) in puts.iter().enumerate() {
        if !put.sync || put.end > k {
            continue;
        }
        let superseded = puts[i + 1..].iter().any(|later| {
            later.start < k
                && ((later.asset == put.asset && later.path == put.path)
                    || later.evicted.contains(&put.asset))
        });
        if superseded {
            continue;
        }
        let got = cache.asset(put.asset).read(&p(&put.path)).ok().flatten();
        if got.as_deref() != Some(&put.bytes[..]) {
            return Err(format!(
                "{} {}: the Sync put that returned at op {} is {}",
                put.asset,
                put.path,
                put.end,
                got.map_or("absent".into(), |b| format!("{} other bytes", b.len()))
            ));
        }
    }
    let stats = cache.stats().map_err(|e| e.to_string())?;
    let (on_disk, _) = disk_usage(dir);
    if stats.total_bytes != on_disk {
        return Err(format!(
            "accounted {} bytes, {on_disk} on disk",
            stats.total_bytes
        ));
    }
    Ok(served)
}

/// An operation without its bytes, for messages.
fn name(op: &Op) -> String {
    match op {
        Op::Append(path, bytes) => format!("Append({path}, {} bytes)", bytes.len()),
        Op::Attr(path, _) => format!("Attr({path})"),
        other => format!("{other:?}"),
    }
}

#[test]
fn after_a_cut_at_any_operation_every_resource_is_a_committed_version_or_absent() {
    let seed = std::env::var("KITHARA_POWER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de);
    let rounds = std::env::var("KITHARA_POWER_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let live = tempfile::tempdir().unwrap();
    let (baseline, ops, puts) = workload(live.path(), seed, rounds);
    let evictions: usize = puts.iter().map(|p| p.evicted.len()).sum();
    let syncs = ops
        .iter()
        .filter(|o| matches!(o, Op::SyncFile { .. } | Op::SyncDir(_)))
        .count();
    assert!(evictions > 0, "the workload must evict");
    assert!(
        ops.iter()
            .any(|o| matches!(o, Op::Rename(_, to) if to == "state.json"))
    );

    let mut failures = Vec::new();
    let mut cuts = 0;
    let mut served = 0;
    let mut model = baseline;
    for k in 0..=ops.len() {
        if k > 0 {
            model.apply(&ops[k - 1]);
        }
        for crash in [Crash::Ordered, Crash::Strict] {
            let dir = tempfile::tempdir().unwrap();
            model.materialize(crash, dir.path()).unwrap();
            cuts += 1;
            match check(dir.path(), k, &puts) {
                Ok(n) => served += n,
                Err(e) => failures.push(format!(
                    "cut after op {k} ({}), {crash:?}: {e}",
                    k.checked_sub(1).map_or("none".into(), |i| name(&ops[i]))
                )),
            }
        }
    }
    eprintln!(
        "power cuts: {cuts} states ({} operations x 2 models; {} puts, {evictions} evictions, \
         {syncs} syncs), {served} resources served and checked, {} failed",
        ops.len(),
        puts.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cuts} cuts failed, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}

/// A directory that gained more `Buffered` files than the store lists by
/// name (it keeps at most 256 names per directory, so that a long track
/// does not cost memory for as long as the process runs) is synced only
/// after every file in it: a cut anywhere in the `Sync` write that syncs
/// the directory never leaves a name without its bytes.
#[test]
fn a_directory_of_many_buffered_files_is_synced_after_all_of_them() {
    let live = tempfile::tempdir().unwrap();
    let root = live.path();
    let cache = AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(1 << 30)
            .durability(Durability::Buffered)
            .flush_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let asset = id(1);
    let put = |path: &str, bytes: &[u8], durability| {
        cache
            .asset(asset)
            .put_atomic_with(&p(path), bytes, durability)
            .unwrap()
    };
    // The folders exist and are durable before the recording starts.
    put("v0/seg/first.ts", b"first", Durability::Sync);
    let baseline = Model::from_disk(root).unwrap();
    power::arm(root);
    let mut puts = Vec::new();
    for i in 0..300 {
        let path = format!("v0/seg/{i}.ts");
        let bytes = format!("segment {i}").into_bytes();
        let start = power::recorded();
        put(&path, &bytes, Durability::Buffered);
        let end = power::recorded();
        puts.push(Put {
            asset,
            path,
            bytes,
            sync: false,
            start,
            end,
            evicted: Vec::new(),
        });
    }
    let start = power::recorded();
    put("v0/seg/last.ts", b"last", Durability::Sync);
    let end = power::recorded();
    puts.push(Put {
        asset,
        path: "v0/seg/last.ts".into(),
        bytes: b"last".to_vec(),
        sync: true,
        start,
        end,
        evicted: Vec::new(),
    });
    let ops = power::disarm();
    drop(cache);
    let synced = ops[start..]
        .iter()
        .filter(|o| matches!(o, Op::SyncFile { .. }))
        .count();
    assert!(synced > 300, "{synced} files synced with the directory");

    let mut model = baseline;
    for op in &ops[..start] {
        model.apply(op);
    }
    let mut failures = Vec::new();
    let mut cuts = 0;
    for k in start..=ops.len() {
        if k > start {
            model.apply(&ops[k - 1]);
        }
        // Before a directory sync, the names of the files in it are not
        // durable: the cuts that matter follow one (300 files to write
        // out per cut make every cut slow).
        let after_dir_sync = k > start && matches!(ops[k - 1], Op::SyncDir(_));
        if !after_dir_sync && k != ops.len() {
            continue;
        }
        cuts += 1;
        for crash in [Crash::Ordered, Crash::Strict] {
            let dir = tempfile::tempdir().unwrap();
            model.materialize(crash, dir.path()).unwrap();
            if let Err(e) = check(dir.path(), k, &puts) {
                failures.push(format!("cut after op {k}, {crash:?}: {e}"));
            }
        }
    }
    assert!(cuts > 0, "no directory sync recorded");
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(5)].join("\n")
    );
}
