//! Helpers shared by the integration tests: what is really on disk.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use kithara_cache::{AssetCache, AssetHandle, AssetId, CacheOptions, CachePath, Durability};

pub const TEMP_SUFFIX: &str = ".kithara-tmp";

pub fn id(n: u32) -> AssetId {
    let url = url::Url::parse(&format!("https://origin.test/track{n}/master.m3u8")).unwrap();
    AssetId::from_url(&url).unwrap()
}

pub fn p(s: &str) -> CachePath {
    CachePath::parse(s).unwrap()
}

pub fn open(root: &Path, max: u64) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(root)
            .max_bytes(max)
            .durability(Durability::Buffered),
    )
    .unwrap()
}

/// A 1 MiB cache at `root` whose asset 1 holds `data` at `path`.
pub fn holding(root: &Path, path: &str, data: &[u8]) -> (AssetCache, AssetHandle) {
    let cache = open(root, 1 << 20);
    let asset = cache.asset(id(1));
    asset.put_atomic(&p(path), data).unwrap();
    (cache, asset)
}

/// Every regular file below `dir`, recursively (symlinks not followed), sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    kithara_test_utils::files_recursive(dir)
}

/// Bytes and count of cached resources under `<root>/assets`, temp files excluded.
pub fn disk_usage(root: &Path) -> (u64, usize) {
    let cached: Vec<_> = files(&root.join("assets"))
        .into_iter()
        .filter(|f| !is_temp(f))
        .collect();
    let bytes = cached.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
    (bytes, cached.len())
}

pub fn is_temp(f: &Path) -> bool {
    f.to_string_lossy().ends_with(TEMP_SUFFIX)
}

pub fn temp_files(root: &Path) -> Vec<PathBuf> {
    files(root).into_iter().filter(|f| is_temp(f)).collect()
}

/// `<root>/assets/<id[0..2]>/<id>`.
pub fn asset_dir(root: &Path, id: &AssetId) -> PathBuf {
    let hex = id.to_hex();
    root.join("assets").join(&hex[..2]).join(hex)
}

/// A listing of every file with its bytes, to compare a cache before and after.
pub fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files(&root.join("assets"))
        .into_iter()
        .map(|f| {
            let bytes = fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect()
}

/// Re-runs this test binary as a child process executing only the ignored
/// test `name`, with `env` set; the child's stdout is piped.
pub fn spawn_child(name: &str, env: &[(&str, &str)]) -> std::process::Child {
    spawn_child_in(name, env, None)
}

/// Like [`spawn_child`], with the working directory (and `TMPDIR`) set to `dir`.
pub fn spawn_child_in(name: &str, env: &[(&str, &str)], dir: Option<&Path>) -> std::process::Child {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = dir {
        cmd.current_dir(dir).env("TMPDIR", dir);
    }
    cmd.spawn().unwrap()
}

/// Reads the child's stdout until a line contains `prefix`; returns the
/// line from `prefix` on.
pub fn wait_for_line(child: &mut std::process::Child, prefix: &str) -> Option<String> {
    use std::io::BufRead;
    let out = child.stdout.as_mut()?;
    let mut reader = std::io::BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        // libtest may print "test name ... " on the same line before the child's output.
        if let Some(at) = line.find(prefix) {
            return Some(line[at..].trim_end().to_owned());
        }
    }
}

/// Self-describing content: `[len u64][seed u64]` then bytes derived from
/// the seed, so any file can be checked for tearing without knowing who wrote it.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&seed.to_le_bytes());
    out.extend(cycle(seed).iter().copied().cycle().take(len - 16));
    out
}

/// True when `bytes` is exactly one whole [`payload`].
pub fn payload_is_whole(bytes: &[u8]) -> bool {
    if bytes.len() < 16 {
        return false;
    }
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let seed = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    let cycle = cycle(seed);
    len == bytes.len() as u64
        && bytes[16..]
            .chunks(cycle.len())
            .all(|c| c == &cycle[..c.len()])
}

/// The filler repeats with a period of 251 bytes (a prime, so it never lines
/// up with block sizes).
fn cycle(seed: u64) -> Vec<u8> {
    (0..251u64)
        .map(|i| (seed.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8)
        .collect()
}
