//! `kithara fetch` as a network client (issue 16 item 6): `--header` and
//! `--user-agent` reach every request, an invalid header is a usage error;
//! and a resumed fetch checks content (item 8): a cached segment that is
//! rotted, cut short or empty is fetched again, and only those.

mod common;

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use common::{flip, run};
use kithara_cache::AssetId;
use kithara_test_utils::{HlsOrigin, OriginConfig};

fn origin() -> HlsOrigin {
    HlsOrigin::start(OriginConfig::default().variants(1).segments(6)).unwrap()
}

#[test]
fn header_and_user_agent_go_with_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    let out = run(
        dir.path(),
        &[
            "fetch",
            o.master_url().as_str(),
            "--header",
            "X-Cdn-Token: t1",
            "--header",
            "X-Other:  two words ",
            "--user-agent",
            "my-player/2.0",
            "--connect-timeout",
            "5s",
            "--read-timeout",
            "20s",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let mut paths = o.request_log();
    paths.sort();
    paths.dedup();
    // The master, the media playlist and 6 segments.
    assert_eq!(paths.len(), 8, "{paths:?}");
    for path in &paths {
        for (name, want) in [
            ("x-cdn-token", "t1"),
            ("x-other", "two words"),
            ("user-agent", "my-player/2.0"),
        ] {
            let seen = o.request_headers(path, name);
            assert!(
                !seen.is_empty() && seen.iter().all(|v| v.as_deref() == Some(want)),
                "{path} {name}: {seen:?}"
            );
        }
    }
}

#[test]
fn an_invalid_header_is_a_usage_error_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    for bad in ["no colon", "Bad Name: x", "X-Ok: line\u{7f}break"] {
        let out = run(
            dir.path(),
            &["fetch", o.master_url().as_str(), "--header", bad],
        );
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--header"), "{bad:?}: {err}");
    }
    let out = run(
        dir.path(),
        &[
            "fetch",
            o.master_url().as_str(),
            "--user-agent",
            "bad\nagent",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(o.total_requests(), 0);
}

/// The cached segment files of variant 0, in segment order.
fn segment_files(dir: &Path, o: &HlsOrigin) -> Vec<PathBuf> {
    let hex = AssetId::from_url(&o.master_url()).unwrap().to_hex();
    let seg = dir.join("assets").join(&hex[..2]).join(&hex).join("v0/seg");
    let mut files: Vec<PathBuf> = fs::read_dir(&seg)
        .unwrap_or_else(|e| panic!("{seg:?}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_resumed_fetch_refetches_exactly_the_bad_segments() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    let url = o.master_url();
    let first = run(dir.path(), &["fetch", url.as_str()]);
    assert!(first.status.success(), "{first:?}");
    let files = segment_files(dir.path(), &o);
    assert_eq!(files.len(), 6, "{files:?}");

    // Rotted (same length, a flipped byte), cut short, emptied.
    flip(&files[1], 100);
    OpenOptions::new()
        .write(true)
        .open(&files[3])
        .unwrap()
        .set_len(10)
        .unwrap();
    OpenOptions::new()
        .write(true)
        .open(&files[4])
        .unwrap()
        .set_len(0)
        .unwrap();
    o.reset_requests();

    let again = run(dir.path(), &["fetch", url.as_str(), "--json"]);
    assert!(again.status.success(), "{again:?}");
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(v["downloaded"], 3, "{v}");
    for i in 0..6 {
        let want = usize::from([1, 3, 4].contains(&i));
        assert_eq!(o.requests(&o.segment_path(0, i)), want, "segment {i}");
    }
    // Every segment on disk is the origin's again.
    let files = segment_files(dir.path(), &o);
    assert_eq!(files.len(), 6, "{files:?}");
    for (i, file) in files.iter().enumerate() {
        assert_eq!(
            fs::read(file).unwrap(),
            o.segment_served_bytes(0, i),
            "segment {i}"
        );
    }
    let verify = run(dir.path(), &["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
}
