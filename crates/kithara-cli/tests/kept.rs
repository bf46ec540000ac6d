//! Kept tracks through the real binary against the loopback origin:
//! `fetch --keep`, `keep`, `unkeep`, the `KEPT` column and `"kept"` of
//! `ls`, the kept fields of `stats --json`, `--max-kept-bytes` (per run,
//! and stored by `config`), `gc` and `gc --include-kept`, a kept fetch
//! killed and resumed, and `serve` streaming beside a kept track.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use kithara_cache::AssetId;
use kithara_test_utils::{HlsOrigin, OriginConfig};
use serde_json::Value;

fn origin() -> HlsOrigin {
    let cfg = OriginConfig::default()
        .variants(1)
        .segments(4)
        .segment_size(8 * 1024);
    HlsOrigin::start(cfg).unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    common::kithara(dir).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

fn hex(o: &HlsOrigin) -> String {
    AssetId::from_url(&o.master_url()).unwrap().to_hex()
}

/// `ls --json` as (id, kept, bytes), by id.
fn listed(dir: &Path) -> Vec<(String, bool, u64)> {
    let mut rows: Vec<_> = json(dir, &["ls", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let id = a["id"].as_str().unwrap().to_owned();
            (
                id,
                a["kept"].as_bool().unwrap(),
                a["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn kept_of(dir: &Path, o: &HlsOrigin) -> Option<bool> {
    let id = hex(o);
    listed(dir).into_iter().find(|r| r.0 == id).map(|r| r.1)
}

#[test]
fn keep_unkeep_ls_stats_config_and_gc_against_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (origin(), origin());
    let (url_a, url_b) = (a.master_url().to_string(), b.master_url().to_string());
    let fetched = json(d, &["fetch", &url_a, "--keep", "--json"]);
    assert_eq!(fetched["kept"], true);
    assert_eq!(json(d, &["fetch", &url_b, "--json"])["kept"], false);
    let rows = listed(d);
    let bytes_a = rows.iter().find(|r| r.0 == hex(&a)).unwrap().2;
    let bytes_b = rows.iter().find(|r| r.0 == hex(&b)).unwrap().2;
    assert_eq!(kept_of(d, &a), Some(true));
    assert_eq!(kept_of(d, &b), Some(false));
    let table = ok(d, &["ls"]);
    let header = table.lines().next().unwrap();
    assert!(header.contains("  KEPT  "), "{header}");
    let row_a = table
        .lines()
        .find(|l| hex(&a).starts_with(&l[..16]))
        .unwrap();
    assert!(row_a.contains(" yes "), "{row_a}");
    let stats = json(d, &["stats", "--json"]);
    assert_eq!(stats["kept_bytes"], bytes_a);
    assert_eq!(stats["kept_assets"], 1);
    assert_eq!(stats["max_kept_bytes"], Value::Null);
    assert_eq!(stats["total_bytes"], bytes_a + bytes_b);

    // gc under a limit of one byte takes the streamed track only.
    let gc = json(d, &["--max-bytes", "1", "gc", "--json"]);
    let removed: Vec<&str> = gc["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed, vec![hex(&b).as_str()]);
    assert_eq!(kept_of(d, &b), None);

    // unkeep by id prefix, keep by URL: rm's way of naming a track.
    let unkept = json(d, &["unkeep", &hex(&a)[..10], "--json"]);
    assert_eq!(
        (unkept["kept"].clone(), unkept["bytes"].clone()),
        (false.into(), bytes_a.into())
    );
    assert_eq!(kept_of(d, &a), Some(false));
    assert_eq!(json(d, &["stats", "--json"])["kept_bytes"], 0);
    assert!(ok(d, &["keep", &url_a]).starts_with(&format!("kept {}", hex(&a))));
    assert_eq!(kept_of(d, &a), Some(true));
    let unknown = run(d, &["keep", &url_b]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).starts_with("error: no cached asset"));

    // A kept budget too small: this run only, then stored by config.
    let refused = run(d, &["--max-kept-bytes", "1000", "fetch", &url_b, "--keep"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(json(d, &["stats", "--json"])["max_kept_bytes"].is_null());
    let config = ok(d, &["--max-kept-bytes", "1000", "config"]);
    assert!(config.contains("max-kept-bytes = 1000"), "{config}");
    assert_eq!(json(d, &["stats", "--json"])["max_kept_bytes"], 1000);
    // gc leaves kept tracks alone unless asked.
    assert_eq!(kept_of(d, &a), Some(true));
    assert!(
        json(d, &["gc", "--json"])["removed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != hex(&a))
    );
    assert_eq!(kept_of(d, &a), Some(true));
    let gc = json(d, &["gc", "--include-kept", "--json"]);
    assert!(
        gc["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == hex(&a))
    );
    assert_eq!(kept_of(d, &a), None);
}

/// `fetch --keep` killed after its first progress lines leaves a kept,
/// partial track; a plain `fetch` completes it kept, and it reads offline.
#[test]
fn a_kept_fetch_killed_then_resumed_stays_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(30)
            .segment_size(8 * 1024)
            .segment_delay(std::time::Duration::from_millis(20)),
    )
    .unwrap();
    let url = o.master_url().to_string();
    let mut child = common::kithara(d)
        .args(["fetch", &url, "--keep"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = 0;
    while seen < 3 {
        let line = lines
            .next()
            .expect("fetch ended before 3 progress lines")
            .unwrap();
        seen += usize::from(line.starts_with("fetch v"));
    }
    child.kill().unwrap();
    assert!(
        !child.wait().unwrap().success(),
        "the fetch was not cut short"
    );
    let partial = listed(d);
    assert_eq!(partial.len(), 1);
    assert!(partial[0].1, "the cut fetch is not kept: {partial:?}");
    ok(d, &["fetch", &url]);
    let whole = listed(d);
    assert!(whole[0].1 && whole[0].2 > partial[0].2, "{whole:?}");
    assert_eq!(json(d, &["stats", "--json"])["kept_bytes"], whole[0].2);
    let expected = o.expected_stream(0);
    o.stop();
    let read = common::kithara(d)
        .args(["read", &url, "--offline"])
        .output()
        .unwrap();
    assert!(read.status.success());
    assert_eq!(read.stdout, expected);
}

/// `serve` streams into the streamed budget: a track streamed through it
/// past `--max-bytes` evicts only streamed bytes, and a kept track it
/// serves stays kept, whole.
#[test]
fn serve_streams_beside_a_kept_track_without_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (kept, streamed) = (origin(), origin());
    ok(d, &["fetch", kept.master_url().as_str(), "--keep"]);
    let before = listed(d);
    let (mut child, base) = common::serve(d, &["--max-bytes", "16KiB"]);
    for o in [&kept, &streamed] {
        play_all(&base, o);
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let after = listed(d);
    let kept_row = after.iter().find(|r| r.0 == hex(&kept)).unwrap();
    assert_eq!(kept_row, before.iter().find(|r| r.0 == hex(&kept)).unwrap());
    let streamed_bytes: u64 = after.iter().filter(|r| !r.1).map(|r| r.2).sum();
    assert!(streamed_bytes <= 16 * 1024, "{after:?}");
}

/// Plays a track through the proxy: the master, its media playlist and
/// every segment, each answered 200.
fn play_all(base: &str, o: &HlsOrigin) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = base.split('/').take(3).collect::<Vec<_>>().join("/");
    let enc: String =
        url::form_urlencoded::byte_serialize(o.master_url().as_str().as_bytes()).collect();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let get = |url: String| {
            let client = client.clone();
            async move {
                let resp = client.get(&url).send().await.unwrap();
                assert_eq!(resp.status().as_u16(), 200, "{url}");
                String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned()
            }
        };
        let master = get(format!("{base}play?url={enc}")).await;
        for media in master.lines().filter(|l| l.starts_with('/')) {
            let playlist = get(format!("{root}{media}")).await;
            for seg in playlist.lines().filter(|l| l.starts_with('/')) {
                get(format!("{root}{seg}")).await;
            }
        }
    });
}

/// A kept fetch that stores nothing (the origin refuses the playlist)
/// leaves no empty kept track behind; one that had stored some stays kept
/// for the next fetch to complete (`a_kept_fetch_killed_then_resumed_stays_kept`).
#[test]
fn a_kept_fetch_that_stores_nothing_leaves_no_track() {
    let o = origin();
    let dir = tempfile::tempdir().unwrap();
    o.set_status("/master.m3u8", Some(404));
    let out = run(dir.path(), &["fetch", "--keep", o.master_url().as_str()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(listed(dir.path()), vec![]);
    o.set_status("/master.m3u8", None);
    ok(dir.path(), &["fetch", "--keep", o.master_url().as_str()]);
    let rows = listed(dir.path());
    assert_eq!(rows.len(), 1);
    assert!(rows[0].1 && rows[0].2 > 0, "{rows:?}");
}
