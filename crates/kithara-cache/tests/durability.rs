//! What a `Sync` write promises, checked by `strace` on a real process
//! (issue 15 items 6 and 15): the file's data is synced before the rename,
//! the directory it is renamed into after it, and every directory above
//! whose entry is not known to be durable — even when a `Buffered` write
//! created those directories without a sync — and those only once. A
//! `Buffered` write syncs nothing.

mod common;

use std::path::Path;
use std::process::Command;

use common::{asset_dir, id, p};
use kithara_cache::{AssetCache, CacheOptions, Durability};

const ROOT: &str = "KITHARA_DURABILITY_ROOT";

/// Child: in a `Buffered` cache a write creates the asset's directories
/// without a sync, then a `Sync` write lands beside it; `mark` lines separate the two in the trace.
#[test]
#[ignore = "helper process for the durability test"]
fn child_buffered_then_sync() {
    let Ok(root) = std::env::var(ROOT) else {
        return;
    };
    let opts = CacheOptions::new(&root)
        .max_bytes(1 << 20)
        .durability(Durability::Buffered)
        .flush_interval(std::time::Duration::from_secs(3600));
    let cache = AssetCache::open(opts).unwrap();
    let asset = cache.asset(id(1));
    mark("buffered");
    asset
        .put_atomic(&p("v0/seg/000001.ts"), b"buffered")
        .unwrap();
    mark("sync");
    asset
        .put_atomic_with(&p("v0/seg/000002.ts"), b"synced", Durability::Sync)
        .unwrap();
    mark("again");
    asset
        .put_atomic_with(&p("v0/seg/000003.ts"), b"synced too", Durability::Sync)
        .unwrap();
    mark("end");
    std::mem::forget(cache); // no index write at exit: only the puts are traced
}

/// A syscall the trace shows by its path, to split it into phases.
fn mark(phase: &str) {
    let _ = std::fs::metadata(format!("/kithara-mark-{phase}"));
}

/// The paths synced (fsync, fdatasync) in each phase, from `strace -y`.
fn synced_by_phase(trace: &str) -> Vec<(String, Vec<String>)> {
    let mut phases: Vec<(String, Vec<String>)> = vec![("open".into(), Vec::new())];
    for line in trace.lines() {
        if let Some(i) = line.find("/kithara-mark-") {
            let phase = line[i + "/kithara-mark-".len()..]
                .split('"')
                .next()
                .unwrap_or("")
                .to_owned();
            phases.push((phase, Vec::new()));
        } else if (line.contains("fsync(") || line.contains("fdatasync("))
            && let (Some(a), Some(b)) = (line.find('<'), line.find(">)"))
        {
            phases.last_mut().unwrap().1.push(line[a + 1..b].to_owned());
        }
    }
    phases
}

#[test]
fn a_sync_write_syncs_its_data_its_directory_and_every_directory_not_yet_durable() {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "strace is needed (apt-get install -y strace; .ci/run installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let trace = dir.path().join("trace");
    let status = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-e",
            "trace=fsync,fdatasync,newfstatat,statx,stat",
            "-o",
        ])
        .arg(&trace)
        .arg(std::env::current_exe().unwrap())
        .args([
            "child_buffered_then_sync",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(ROOT, &root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let root = root.canonicalize().unwrap();
    let phases = synced_by_phase(&std::fs::read_to_string(&trace).unwrap());
    let phase = |name: &str| {
        phases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no {name} phase in the trace: {phases:?}"))
    };
    assert!(
        phase("buffered").is_empty(),
        "a Buffered write synced {:?}",
        phase("buffered")
    );
    let synced = phase("sync");
    let adir = asset_dir(&root, &id(1));
    let shown = |p: &Path| p.to_string_lossy().into_owned();
    // The data, in its temp file, before the rename.
    assert!(
        synced
            .iter()
            .any(|s| s.starts_with(&shown(&adir.join("v0/seg/."))) && s.ends_with(".kithara-tmp")),
        "no data sync: {synced:?}"
    );
    // The directory renamed into, then every level above up to the root.
    for d in [
        adir.join("v0/seg"),
        adir.join("v0"),
        adir.clone(),
        adir.parent().unwrap().to_path_buf(),
        root.join("assets"),
        root.clone(),
    ] {
        assert!(
            synced.contains(&shown(&d)),
            "{} not synced: {synced:?}",
            d.display()
        );
    }
}
