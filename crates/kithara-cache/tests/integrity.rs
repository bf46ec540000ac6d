//! Integrity records (issue 15 items 12 and 13): every committed resource
//! carries its length and XXH3-64 digest; a hit whose length differs is a
//! miss and the resource is dropped; `verify` finds a rotted resource and
//! `repair` removes exactly it; `verify_reads(true)` refuses rot on reads;
//! resources without a record (older versions) are still served.

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{asset_dir, disk_usage, id, open, p};
use kithara_cache::{AssetCache, CacheOptions, Durability, Problem};

fn file_of(root: &Path, n: u32, path: &str) -> PathBuf {
    asset_dir(root, &id(n)).join(path)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Flips one byte in place (the length and the record stay).
fn rot(file: &Path, at: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    let mut b = [0u8];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x5a]).unwrap();
}

/// Cuts (or extends) a file in place behind the cache's back.
fn cut_to(file: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn verifying(root: &Path) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(1 << 20)
            .durability(Durability::Buffered)
            .verify_reads(true),
    )
    .unwrap()
}

#[test]
fn every_committed_resource_is_recorded_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let asset = cache.asset(id(1));
    asset.put_atomic(&p("master.m3u8"), &data(300, 1)).unwrap();
    asset
        .put_atomic_with(&p("v0/seg/1.ts"), &data(70_000, 2), Durability::Sync)
        .unwrap();
    let mut w = asset.writer(&p("v0/seg/2.ts")).unwrap();
    for chunk in data(200_000, 3).chunks(7_000) {
        w.write_all(chunk).unwrap();
    }
    w.commit().unwrap();
    asset.put_atomic(&p("empty"), b"").unwrap();

    let report = cache.verify().unwrap();
    assert_eq!(report.verified, 4, "{report:?}");
    assert_eq!(report.unverifiable, 0, "{report:?}");
    assert!(report.is_ok(), "{report:?}");
    // The records are on the files: a reopen finds them.
    drop((asset, cache));
    let cache = open(dir.path(), 1 << 20);
    assert_eq!(cache.recovery().unverified, 0);
    let report = cache.verify().unwrap();
    assert_eq!((report.verified, report.unverifiable), (4, 0));
}

#[test]
fn a_hit_whose_length_differs_from_its_record_is_a_miss_and_the_resource_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    let asset = cache.asset(id(1));
    asset
        .put_atomic(&p("v0/seg/1.ts"), &data(50_000, 1))
        .unwrap();
    asset
        .put_atomic(&p("v0/seg/2.ts"), &data(40_000, 2))
        .unwrap();
    asset
        .put_atomic(&p("v0/seg/3.ts"), &data(30_000, 3))
        .unwrap();

    // Cut behind the cache's back: read() refuses it and drops it.
    let cut = file_of(dir.path(), 1, "v0/seg/1.ts");
    cut_to(&cut, 20_000);
    assert_eq!(asset.read(&p("v0/seg/1.ts")).unwrap(), None);
    assert!(!cut.exists(), "the torn resource is removed");
    // Grown: open() refuses it too.
    let grown = file_of(dir.path(), 1, "v0/seg/2.ts");
    OpenOptions::new()
        .append(true)
        .open(&grown)
        .unwrap()
        .write_all(b"tail")
        .unwrap();
    assert!(asset.open(&p("v0/seg/2.ts")).unwrap().is_none());
    assert!(!grown.exists());

    // The rest of the asset is untouched, and the accounting follows the disk.
    assert_eq!(
        asset.read(&p("v0/seg/3.ts")).unwrap().as_deref(),
        Some(&data(30_000, 3)[..])
    );
    let stats = cache.stats().unwrap();
    assert_eq!(stats.total_bytes, 30_000);
    assert_eq!(stats.file_count, 1);
    assert_eq!(disk_usage(dir.path()), (30_000, 1));
}

#[test]
fn a_resource_torn_while_closed_is_dropped_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 1 << 20);
        let asset = cache.asset(id(1));
        asset.put_atomic(&p("a"), &data(10_000, 1)).unwrap();
        asset.put_atomic(&p("b"), &data(10_000, 2)).unwrap();
    }
    // What a power cut under a Buffered write can leave on ext4: the name
    // renamed in, the data short.
    let torn = file_of(dir.path(), 1, "b");
    cut_to(&torn, 0);

    // Read-only beside it: reported, refused, left in place.
    let inspect = AssetCache::open_read_only(dir.path()).unwrap();
    assert_eq!(inspect.recovery().torn, vec![torn.clone()]);
    assert_eq!(inspect.asset(id(1)).read(&p("b")).unwrap(), None);
    assert!(torn.exists());
    drop(inspect);

    let cache = open(dir.path(), 1 << 20);
    assert_eq!(cache.recovery().torn, vec![torn.clone()]);
    assert!(!torn.exists());
    assert_eq!(cache.stats().unwrap().total_bytes, 10_000);
    assert_eq!(cache.asset(id(1)).read(&p("b")).unwrap(), None);
    assert_eq!(
        cache.asset(id(1)).read(&p("a")).unwrap().as_deref(),
        Some(&data(10_000, 1)[..])
    );
}

#[test]
fn verify_finds_rot_and_repair_removes_exactly_the_bad_resources() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 1 << 20);
    for n in 1..=2 {
        let asset = cache.asset(id(n));
        for s in 0..4u8 {
            asset
                .put_atomic(
                    &p(&format!("v0/seg/{s}.ts")),
                    &data(20_000, s + 10 * n as u8),
                )
                .unwrap();
        }
    }
    rot(&file_of(dir.path(), 1, "v0/seg/2.ts"), 12_345);
    cut_to(&file_of(dir.path(), 2, "v0/seg/0.ts"), 100);

    let report = cache.verify().unwrap();
    assert_eq!(report.verified, 8);
    let mut bad: Vec<_> = report
        .bad
        .iter()
        .map(|b| (b.id, b.path.to_string(), b.problem.clone(), b.file.clone()))
        .collect();
    bad.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut want = vec![
        (
            id(1),
            "v0/seg/2.ts".to_owned(),
            Problem::Digest,
            file_of(dir.path(), 1, "v0/seg/2.ts"),
        ),
        (
            id(2),
            "v0/seg/0.ts".to_owned(),
            Problem::Length {
                recorded: 20_000,
                found: 100,
            },
            file_of(dir.path(), 2, "v0/seg/0.ts"),
        ),
    ];
    want.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(bad, want);

    let removed = cache.repair(&report).unwrap();
    assert_eq!(removed.len(), 2);
    // Exactly those two files went; one bad segment does not cost the track.
    let mut left: Vec<PathBuf> = common::files(&dir.path().join("assets"));
    left.sort();
    assert_eq!(left.len(), 6);
    assert!(!left.contains(&want[0].3) && !left.contains(&want[1].3));
    assert_eq!(cache.stats().unwrap().total_bytes, 6 * 20_000);
    let again = cache.verify().unwrap();
    assert!(again.is_ok() && again.verified == 6, "{again:?}");
    assert_eq!(
        cache
            .asset(id(1))
            .read(&p("v0/seg/3.ts"))
            .unwrap()
            .as_deref(),
        Some(&data(20_000, 13)[..])
    );
}

#[test]
fn with_verify_reads_a_rotted_resource_is_a_miss_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 1 << 20);
        let asset = cache.asset(id(1));
        for s in 0..3u8 {
            asset
                .put_atomic(&p(&format!("{s}.ts")), &data(30_000, s))
                .unwrap();
        }
    }
    rot(&file_of(dir.path(), 1, "0.ts"), 0);
    rot(&file_of(dir.path(), 1, "1.ts"), 29_999);

    let cache = verifying(dir.path());
    let asset = cache.asset(id(1));
    assert_eq!(asset.read(&p("0.ts")).unwrap(), None);
    assert!(!file_of(dir.path(), 1, "0.ts").exists());
    assert!(asset.open(&p("1.ts")).unwrap().is_none());
    assert!(!file_of(dir.path(), 1, "1.ts").exists());
    // Good bytes pass, through both routes.
    assert_eq!(
        asset.read(&p("2.ts")).unwrap().as_deref(),
        Some(&data(30_000, 2)[..])
    );
    let mut r = asset.open(&p("2.ts")).unwrap().unwrap();
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, data(30_000, 2));
    assert_eq!(cache.stats().unwrap().total_bytes, 30_000);
}

#[test]
fn resources_written_without_a_record_are_served_and_counted_unverifiable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 1 << 20);
        cache
            .asset(id(1))
            .put_atomic(&p("new"), &data(1_000, 1))
            .unwrap();
    }
    // A file as an older version wrote it: same place, no attribute.
    let old = file_of(dir.path(), 1, "v0/old.ts");
    fs::create_dir_all(old.parent().unwrap()).unwrap();
    fs::write(&old, data(5_000, 2)).unwrap();

    let cache = verifying(dir.path());
    assert_eq!(cache.recovery().unverified, 1);
    assert!(cache.recovery().torn.is_empty());
    assert_eq!(
        cache.asset(id(1)).read(&p("v0/old.ts")).unwrap().as_deref(),
        Some(&data(5_000, 2)[..])
    );
    let report = cache.verify().unwrap();
    assert_eq!((report.verified, report.unverifiable), (1, 1));
    assert!(report.is_ok());
    // A new write over it is recorded.
    cache
        .asset(id(1))
        .put_atomic(&p("v0/old.ts"), &data(6_000, 3))
        .unwrap();
    let report = cache.verify().unwrap();
    assert_eq!((report.verified, report.unverifiable), (2, 0));
}

#[test]
fn a_read_racing_a_replacement_is_never_dropped() {
    // A reader may open the old file while a commit renames a new one with
    // another length (and record) over it: that is a race, not damage.
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 16 << 20);
    let asset = cache.asset(id(1));
    let versions: Vec<Vec<u8>> = (0..4).map(|v| data(1_000 + 997 * v, v as u8)).collect();
    asset.put_atomic(&p("r"), &versions[0]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (asset, stop, versions) = (asset.clone(), Arc::clone(&stop), versions.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                asset.put_atomic(&p("r"), &versions[n % 4]).unwrap();
                n += 1;
            }
            n
        })
    };
    let mut reads = 0;
    while reads < 20_000 {
        // Both ways in: a whole read, and a reader.
        let got = if reads % 2 == 0 {
            asset.read(&p("r")).unwrap().expect("never a miss").to_vec()
        } else {
            let mut reader = asset.open(&p("r")).unwrap().expect("never a miss");
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut bytes).unwrap();
            bytes
        };
        assert!(versions.iter().any(|v| v[..] == got[..]), "a whole version");
        reads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let replaced = writer.join().unwrap();
    eprintln!("{reads} reads beside {replaced} replacements");
    assert!(replaced > 0);
    assert!(cache.verify().unwrap().is_ok());
}
