//! Kill -9 mid-write, many times: the cache reopens clean and no torn file is ever visible.

mod common;

use std::io::Write;

use common::{
    disk_usage, files, id, is_temp, p, payload, payload_is_whole, spawn_child, temp_files,
    wait_for_line,
};
use kithara_cache::{AssetCache, CacheOptions, Durability};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ROOT: &str = "KITHARA_CRASH_ROOT";
const SEED: &str = "KITHARA_CRASH_SEED";
/// `sync` for a child that writes with `Durability::Sync`.
const DURABILITY: &str = "KITHARA_CRASH_DURABILITY";
const MAX_BYTES: u64 = 24 << 20;

fn rounds() -> u64 {
    std::env::var("KITHARA_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100)
}

/// Child: writes resources forever (whole puts and streaming writes), pinning
/// one asset, and reports every commit; the parent kills it at a random moment.
#[test]
#[ignore = "helper process for the crash tests"]
fn child_writer() {
    let (Ok(root), Ok(seed)) = (std::env::var(ROOT), std::env::var(SEED)) else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(seed.parse().unwrap());
    let durability = match std::env::var(DURABILITY).as_deref() {
        Ok("sync") => Durability::Sync,
        _ => Durability::Buffered,
    };
    let opts = CacheOptions::new(&root)
        .max_bytes(MAX_BYTES)
        .durability(durability);
    let cache = AssetCache::open(opts).unwrap();
    let _playing = cache.pin(id(0)).unwrap();
    for n in 0u64.. {
        let asset = cache.asset(id(rng.random_range(0..8)));
        let path = p(&format!("v0/seg/{:06}.ts", rng.random_range(0..12)));
        let len = rng.random_range(1024..=4 << 20);
        let bytes = payload(rng.random(), len);
        let done = if rng.random_bool(0.5) {
            asset.put_atomic(&path, &bytes).map(|_| ())
        } else {
            let mut w = asset.writer(&path).unwrap();
            for chunk in bytes.chunks(16 * 1024) {
                w.write_all(chunk).unwrap();
            }
            w.commit().map(|_| ())
        };
        match done {
            Ok(()) => println!("committed {n}"),
            Err(e) if e.is_cache_full() => println!("committed {n} (full)"),
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

fn check_cache(root: &std::path::Path, round: u64) {
    let cache = AssetCache::open(CacheOptions::new(root)).unwrap();
    assert!(
        temp_files(root).is_empty(),
        "round {round}: temp files survived the open"
    );
    for f in files(&root.join("assets")) {
        assert!(!is_temp(&f));
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            payload_is_whole(&bytes),
            "round {round}: torn file {}",
            f.display()
        );
    }
    let stats = cache.stats().unwrap();
    let (bytes, count) = disk_usage(root);
    assert_eq!(stats.total_bytes, bytes, "round {round}");
    assert_eq!(stats.file_count, count as u64, "round {round}");
    assert!(stats.total_bytes <= MAX_BYTES, "round {round}");
    // Pins are memory-only, so a new process has none by construction;
    // that the dead child's pin no longer protects its asset is checked by
    // eviction in leases.rs and ownership.rs.
    drop(cache);
    let again = AssetCache::open(CacheOptions::new(root)).unwrap();
    assert!(
        again.recovery().is_clean(),
        "round {round}: {:?}",
        again.recovery()
    );
}

/// With `Durability::Buffered` writers, then with `Sync` ones (fewer
/// rounds: every write waits for the disk; what each sync call does is
/// checked by strace in `durability.rs`). One test, not two: children
/// forked by a test running beside this one would inherit the parent's
/// lock descriptor until they exec, and a reopen here would see the cache
/// in use.
#[test]
fn killed_writers_never_leave_a_torn_or_uncounted_file() {
    kill_rounds("buffered", rounds(), 0x006b_6974_6861_7261);
    kill_rounds("sync", rounds().div_ceil(4), 0x0073_796e_6321);
}

fn kill_rounds(durability: &str, rounds: u64, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..rounds {
        let seed = rng.random::<u32>().to_string();
        let env = [
            (ROOT, root.as_str()),
            (SEED, &seed),
            (DURABILITY, durability),
        ];
        let mut child = spawn_child("child_writer", &env);
        let commits = rng.random_range(0..6);
        let mut seen = wait_for_line(&mut child, "committed");
        for _ in 0..commits {
            seen = wait_for_line(&mut child, "committed");
        }
        assert!(seen.is_some(), "round {round}: the writer died on its own");
        child.kill().unwrap();
        child.wait().unwrap();
        check_cache(dir.path(), round);
    }
    eprintln!("crash recovery ({durability}): {rounds} kill -9 rounds survived");
}
