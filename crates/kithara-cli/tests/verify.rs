//! `kithara verify` reads every resource and checks its digest (issue 15
//! item 13): one line per bad resource with its asset id and path, exit 3
//! when problems are found, 0 when all is well, 1 when it cannot run;
//! `--repair` removes exactly the bad resources; `--json` prints one
//! document.

mod common;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{flip, run};
use kithara_cache::AssetId;
use kithara_test_utils::{HlsOrigin, OriginConfig, files_recursive};
use serde_json::Value;

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A fetched two-variant track; its asset id and directory.
fn fetched(dir: &Path, origin: &HlsOrigin) -> (String, PathBuf) {
    let out = run(
        dir,
        &["fetch", origin.master_url().as_str(), "--variant", "all"],
    );
    assert!(out.status.success(), "{out:?}");
    let hex = AssetId::from_url(&origin.master_url()).unwrap().to_hex();
    let adir = dir.join("assets").join(&hex[..2]).join(&hex);
    (hex, adir)
}

fn origin() -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .variants(2)
            .segments(6)
            .segment_size(16 * 1024),
    )
    .unwrap()
}

#[test]
fn verify_names_each_bad_resource_exits_3_and_repair_removes_exactly_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    let (hex, adir) = fetched(dir.path(), &o);
    let ok = run(dir.path(), &["verify"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(text(&ok).trim(), "ok");

    let rotted = adir.join("v0/seg").join(first_file(&adir.join("v0/seg")));
    let cut = adir.join("v1/seg").join(first_file(&adir.join("v1/seg")));
    flip(&rotted, 1000);
    OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(10)
        .unwrap();
    let before = files_recursive(dir.path().join("assets"));

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let report = text(&out);
    let bad: Vec<&str> = report.lines().filter(|l| l.starts_with("bad: ")).collect();
    assert_eq!(bad.len(), 2, "{report}");
    for (file, what) in [(&rotted, "recorded digest"), (&cut, "length 10")] {
        let rel = file.strip_prefix(&adir).unwrap().to_str().unwrap();
        let line = bad
            .iter()
            .find(|l| l.contains(&format!(" {rel} ")))
            .unwrap_or_else(|| panic!("no line for {rel}: {report}"));
        assert!(line.starts_with(&format!("bad: {hex} {rel} (")), "{line}");
        assert!(line.contains(what), "{line}");
    }

    let json = run(dir.path(), &["verify", "--json"]);
    assert_eq!(json.status.code(), Some(3));
    let v: Value = serde_json::from_str(&text(&json)).expect("one JSON document");
    assert_eq!(v["ok"], false);
    assert_eq!(v["bad"].as_array().unwrap().len(), 2);
    assert_eq!(v["bad"][0]["asset"], hex);
    assert_eq!(v["unverifiable"], 0);
    // 2 x 6 segments, 2 media playlists, the master.
    assert_eq!(v["verified"], 12 + 2 + 1, "{v}");

    // The owner's open drops the cut one (its length is not its record's),
    // the digest check the rotted one.
    let out = run(dir.path(), &["verify", "--repair"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let repaired = text(&out);
    assert_eq!(
        repaired
            .lines()
            .filter(|l| l.starts_with("repaired: removed ")
                || l.starts_with("repaired: torn resource "))
            .count(),
        2,
        "{repaired}"
    );
    // Exactly the two bad files are gone; the rest of the track stays.
    let after = files_recursive(dir.path().join("assets"));
    let mut gone: Vec<&PathBuf> = before.iter().filter(|f| !after.contains(f)).collect();
    gone.sort();
    let mut want = vec![&rotted, &cut];
    want.sort();
    assert_eq!(gone, want);
    assert_eq!(after.len(), before.len() - 2);

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out).trim(), "ok");
    let v: Value = serde_json::from_str(&text(&run(dir.path(), &["verify", "--json"]))).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["bad"].as_array().unwrap().len(), 0);

    // Online again, the two segments come back and the offline read is whole.
    let out = run(
        dir.path(),
        &["fetch", o.master_url().as_str(), "--variant", "all"],
    );
    assert!(out.status.success(), "{out:?}");
    for v in 0..2 {
        let read = run(
            dir.path(),
            &[
                "read",
                o.master_url().as_str(),
                "--offline",
                "--variant",
                &v.to_string(),
            ],
        );
        assert!(read.status.success(), "{read:?}");
        assert_eq!(read.stdout, o.expected_stream(v));
    }
}

#[test]
fn resources_without_a_record_are_counted_not_bad() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    let (_, adir) = fetched(dir.path(), &o);
    // As an older version wrote it: bytes, no record.
    let seg = adir.join("v0/seg").join(first_file(&adir.join("v0/seg")));
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::remove_file(&seg).unwrap();
    std::fs::write(&seg, &bytes).unwrap();

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = text(&out);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "ok", "{report}");
    assert!(
        lines[1].starts_with("unverifiable: 1 resource(s)"),
        "{report}"
    );
    let v: Value = serde_json::from_str(&text(&run(dir.path(), &["verify", "--json"]))).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["unverifiable"].as_u64()),
        (Some(true), Some(1))
    );
}

#[test]
fn verify_that_cannot_run_exits_1_with_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = run(&file, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}

fn first_file(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names.remove(0)
}
