//! Issue 6, item 6: the fuzz corpus as ordinary tests.
//!
//! `tests/corpus/cache_path/*` and `tests/corpus/state_json/*` hold
//! hand-made hostile inputs (huge numbers, negative sizes, deep nesting, NUL,
//! unicode look-alikes, `..` variants, Windows device names, ...) plus the
//! inputs the cargo-fuzz targets in `fuzz/` found interesting. Every file is
//! fed to the same entry points the fuzz targets use
//! (`kithara_cache::fuzzing::{parse_path, parse_index}`), which must never
//! panic (and `parse_path` asserts that an accepted path stays inside its
//! asset). Every `state_json` input is also installed as the `state.json` of
//! a real cache, which must open (read-only and as owner), report the true
//! sizes, serve its files and write a valid index again.

mod common;

use std::path::{Path, PathBuf};

use common::{asset_dir, disk_usage, id, p, temp_files};
use kithara_cache::fuzzing::{parse_index, parse_path};
use kithara_cache::{AssetCache, CachePath};

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    kithara_test_utils::corpus(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
}

#[test]
fn every_cache_path_input_is_refused_or_stays_inside() {
    let inputs = corpus("cache_path");
    let mut accepted = Vec::new();
    for (name, bytes) in &inputs {
        // The fuzz target feeds valid UTF-8 only; lossy text covers the rest.
        let text = String::from_utf8_lossy(bytes);
        if parse_path(&text) {
            accepted.push(name.as_str());
            let path = CachePath::parse(&text).unwrap();
            assert_eq!(path.to_string(), text, "{name}: accepted paths round-trip");
        }
    }
    for must in ["ordinary", "key", "hidden", "com10"] {
        assert!(accepted.contains(&must), "{must} was refused");
    }
    for bad in [
        "empty",
        "slash",
        "dot",
        "dotdot",
        "dotdot_x",
        "x_dotdot",
        "deep_escape",
        "deep_dotdot",
        "backslash_up",
        "mixed_up",
        "absolute",
        "unc",
        "verbatim",
        "drive",
        "drive_rel",
        "drive_only",
        "nul_mid",
        "nul_only",
        "nul_dotdot",
        "newline",
        "cr",
        "tab",
        "con",
        "con_ext",
        "aux",
        "nul_name",
        "prn",
        "com1",
        "lpt9",
        "state_json",
        "lock",
        "tmp_suffix",
        "nested_tmp",
        "double_slash",
        "trailing_slash",
        "leading_dot_dir",
        "trailing_dot",
    ] {
        assert!(
            inputs.iter().any(|(n, _)| n == bad),
            "corpus file {bad} is missing"
        );
        assert!(!accepted.contains(&bad), "{bad} was accepted");
    }
    eprintln!(
        "cache_path corpus: {} inputs, {} accepted (all inside their asset): {accepted:?}",
        inputs.len(),
        accepted.len()
    );
}

/// A cache with two real assets: `(id(1), "a" = 3 bytes)` and
/// `(id(2), "v0/seg/000001.ts" + "keys/k.key")`.
fn make_cache(root: &Path) -> Vec<(u32, &'static str, Vec<u8>)> {
    let files = vec![
        (1, "a", b"abc".to_vec()),
        (2, "v0/seg/000001.ts", vec![0x47; 5000]),
        (2, "keys/k.key", vec![9; 16]),
    ];
    let cache = common::open(root, 1 << 20);
    for (n, path, bytes) in &files {
        cache.asset(id(*n)).put_atomic(&p(path), bytes).unwrap();
    }
    cache.flush().unwrap();
    files
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest: PathBuf = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else if e.file_name() != ".lock" {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn every_state_json_input_parses_without_panic_and_a_real_cache_opens_with_it() {
    let inputs = corpus("state_json");
    let template = tempfile::tempdir().unwrap();
    let files = make_cache(template.path());
    let (true_bytes, _) = disk_usage(template.path());
    let real_index = std::fs::read(template.path().join("state.json")).unwrap();
    assert!(parse_index(&real_index), "a real index is accepted");
    let ids = [id(1).to_hex(), id(2).to_hex()];
    assert!(
        inputs
            .iter()
            .any(|(n, b)| n == "valid" && String::from_utf8_lossy(b).contains(&ids[0])),
        "the corpus's `valid` index names the real asset id(1)"
    );

    let mut accepted = Vec::new();
    let mut failed = Vec::new();
    for (name, bytes) in &inputs {
        if parse_index(bytes) {
            accepted.push(name.as_str());
        }
        // Each input on its own, so one failure does not hide the others.
        let run = std::panic::catch_unwind(|| {
            install_and_open(name, bytes, template.path(), &files, true_bytes)
        });
        if let Err(panic) = run {
            failed.push(format!(
                "{name}: {}",
                kithara_test_utils::panic_message(&*panic)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that broke a real cache: {failed:#?}"
    );
    for must in [
        "valid",
        "empty_assets",
        "lying_sizes",
        "ghosts",
        "huge_numbers",
    ] {
        assert!(accepted.contains(&must), "{must} was refused");
    }
    for bad in [
        "empty",
        "garbage",
        "schema_0",
        "schema_2",
        "negative_size",
        "nan",
        "truncated",
        "deep_nesting_unclosed",
        "array_root",
    ] {
        assert!(!accepted.contains(&bad), "{bad} was accepted");
    }
    eprintln!(
        "state_json corpus: {} inputs, {} accepted as an index: {accepted:?}; every one opened a real cache with true sizes",
        inputs.len(),
        accepted.len()
    );
}

/// Install `bytes` as the index of a copy of `template`; the cache must open
/// (read-only and as owner) with the true sizes, serve every file, take a
/// write, and write a valid index again.
fn install_and_open(
    name: &str,
    bytes: &[u8],
    template: &Path,
    files: &[(u32, &'static str, Vec<u8>)],
    true_bytes: u64,
) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(template, dir.path());
    std::fs::write(dir.path().join("state.json"), bytes).unwrap();

    // Inspection beside (no) owner.
    let ro = AssetCache::open_read_only(dir.path())
        .unwrap_or_else(|e| panic!("{name}: read-only open failed: {e}"));
    let stats = ro.stats().unwrap();
    assert_eq!(stats.total_bytes, true_bytes, "{name}: read-only sizes");
    drop(ro);

    let cache = common::open(dir.path(), 1 << 20);
    let stats = cache.stats().unwrap();
    assert_eq!(stats.total_bytes, true_bytes, "{name}: total_bytes");
    assert_eq!(stats.asset_count, 2, "{name}: asset_count");
    for (n, path, want) in files {
        let got = cache.asset(id(*n)).read(&p(path)).unwrap();
        assert_eq!(got.as_deref(), Some(&want[..]), "{name}: {path}");
        assert!(asset_dir(dir.path(), &id(*n)).join(path).is_file());
    }
    for (n, info) in [(1, 3u64), (2, 5016)] {
        let got = cache.asset(id(n)).info().expect("asset listed");
        assert_eq!(got.bytes, info, "{name}: bytes of asset {n}");
    }
    // Usable: a write, a flush, and the index written is valid again.
    cache.asset(id(3)).put_atomic(&p("new.bin"), b"xy").unwrap();
    cache.flush().unwrap();
    assert!(
        parse_index(&std::fs::read(dir.path().join("state.json")).unwrap()),
        "{name}: the rewritten index is not accepted"
    );
    assert!(temp_files(dir.path()).is_empty(), "{name}: temp files");
    drop(cache);
    let cache = common::open(dir.path(), 1 << 20);
    assert_eq!(cache.stats().unwrap().total_bytes, true_bytes + 2, "{name}");
}
