//! The real `kithara` binary against the loopback origin.

mod common;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use kithara_cache::{AssetCache, AssetId, CacheOptions};
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig, files_recursive};
use serde_json::Value;

fn kithara(dir: &Path) -> Command {
    let mut cmd = Command::from_std(common::kithara(dir));
    // A hang fails the test instead of blocking CI.
    cmd.timeout(Duration::from_secs(60));
    cmd
}

fn origin(segments: usize) -> HlsOrigin {
    let cfg = OriginConfig::default()
        .variants(2)
        .segments(segments)
        .segment_size(8 * 1024)
        .init(true)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        });
    HlsOrigin::start(cfg).unwrap()
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(stdout_bytes(cmd)).unwrap()
}

/// The stdout of a command that must succeed (media bytes, say).
fn stdout_bytes(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn stderr_of_failure(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn ls_json(dir: &Path) -> Vec<Value> {
    let text = stdout(kithara(dir).args(["ls", "--json"]));
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn fetch_then_offline_read_equals_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(6);
    let url = o.master_url().to_string();
    let id = stdout(kithara(dir.path()).args(["fetch", &url]));
    assert_eq!(
        id.trim(),
        AssetId::from_url(&o.master_url()).unwrap().to_hex()
    );
    let expected = o.expected_stream(1);
    o.stop();
    let out = dir.path().join("track.ts");
    kithara(dir.path())
        .args(["read", &url, "--offline", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    let piped = kithara(dir.path())
        .args(["read", &url, "--offline"])
        .output()
        .unwrap();
    assert_eq!(piped.stdout, expected);
}

#[test]
fn an_online_read_leaves_the_whole_track_cached_for_an_offline_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(8);
    let url = o.master_url().to_string();
    let online = kithara(dir.path()).args(["read", &url]).output().unwrap();
    assert!(online.status.success());
    let expected = o.expected_stream(1);
    assert_eq!(online.stdout, expected);
    o.stop();
    let offline = kithara(dir.path())
        .args(["read", &url, "--offline"])
        .output()
        .unwrap();
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(offline.stdout, expected);
}

#[test]
fn fetch_all_variants_and_a_media_playlist_ignores_variant() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(3);
    let url = o.master_url().to_string();
    kithara(dir.path())
        .args(["fetch", &url, "--variant", "all"])
        .assert()
        .success();
    let media = o.media_url(0).to_string();
    kithara(dir.path())
        .args(["fetch", &media, "--variant", "5"])
        .assert()
        .success();
    let (e0, e1) = (o.expected_stream(0), o.expected_stream(1));
    o.stop();
    for (v, expected) in [("0", e0), ("1", e1)] {
        let out = kithara(dir.path())
            .args(["read", &url, "--offline", "--variant", v])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, expected, "variant {v}");
    }
}

#[test]
fn an_interrupted_fetch_resumes_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(12);
    let url = o.master_url().to_string();
    o.set_fail_after(Some(5));
    let err = stderr_of_failure(kithara(dir.path()).args(["fetch", &url]));
    let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        err.trim_end().ends_with(errors[0]),
        "the error is the last line: {err}"
    );
    assert!(errors[0].contains("500"), "{err}");
    o.set_fail_after(None);
    let before = o.total_requests();
    kithara(dir.path()).args(["fetch", &url]).assert().success();
    let refetched = o.total_requests() - before;
    assert!(
        refetched < 12 + 4,
        "cached resources were fetched again: {refetched} requests"
    );
    let expected = o.expected_stream(1);
    o.stop();
    let out = kithara(dir.path())
        .args(["read", &url, "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, expected);
}

#[test]
fn offline_read_of_a_cold_cache_names_the_miss() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(2);
    let err =
        stderr_of_failure(kithara(dir.path()).args(["read", o.master_url().as_str(), "--offline"]));
    assert!(
        err.starts_with("error: offline miss: http://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(o.total_requests(), 0, "offline touched the network");
}

#[test]
fn gc_removes_the_oldest_assets_first() {
    let dir = tempfile::tempdir().unwrap();
    let origins: Vec<_> = (0..3).map(|_| origin(4)).collect();
    for o in &origins {
        kithara(dir.path())
            .args(["fetch", o.master_url().as_str()])
            .assert()
            .success();
    }
    let assets = ls_json(dir.path());
    assert_eq!(assets.len(), 3);
    let size = assets[0]["bytes"].as_u64().unwrap();
    let limit = (size * 2 + size / 2).to_string();
    let out = stdout(kithara(dir.path()).args(["gc", "--max-bytes", &limit]));
    let oldest = AssetId::from_url(&origins[0].master_url())
        .unwrap()
        .to_hex();
    assert!(out.contains(&format!("removed {oldest}")), "{out}");
    let stats: Value =
        serde_json::from_str(&stdout(kithara(dir.path()).args(["stats", "--json"]))).unwrap();
    assert_eq!(stats["asset_count"], 2);
    assert!(stats["total_bytes"].as_u64().unwrap() <= size * 2 + size / 2);
    assert_eq!(
        stats["max_bytes"].as_u64().unwrap(),
        1 << 30,
        "--max-bytes was for that run only: the stored (default) limit is back"
    );
    assert_eq!(stats["pinned_assets"], 0);
    assert_eq!(stats["cache_dir"], dir.path().to_str().unwrap());
}

#[test]
fn verify_finds_and_repair_fixes_damage() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(3);
    kithara(dir.path())
        .args(["fetch", o.master_url().as_str()])
        .assert()
        .success();
    assert_eq!(stdout(kithara(dir.path()).arg("verify")).trim(), "ok");

    let cached = kithara_test_utils::count_files_recursive(dir.path());
    assert!(cached > 3);
    let asset = AssetId::from_url(&o.master_url()).unwrap().to_hex();
    let adir = dir.path().join("assets").join(&asset[..2]).join(&asset);
    let victim = std::fs::read_dir(adir.join("v1/seg"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&victim).unwrap();
    std::fs::write(dir.path().join("state.json"), b"\x00garbage").unwrap();
    std::fs::write(adir.join(".dead-writer.kithara-tmp"), b"partial").unwrap();

    let out = kithara(dir.path()).arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "3: problems found");
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("damaged"), "{report}");
    assert!(report.contains("temp file"), "{report}");

    kithara(dir.path())
        .args(["verify", "--repair"])
        .assert()
        .success();
    assert!(!adir.join(".dead-writer.kithara-tmp").exists());
    assert_eq!(stdout(kithara(dir.path()).arg("verify")).trim(), "ok");
    let stats: Value =
        serde_json::from_str(&stdout(kithara(dir.path()).args(["stats", "--json"]))).unwrap();
    let on_disk: u64 = files_recursive(dir.path().join("assets"))
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(stats["total_bytes"].as_u64().unwrap(), on_disk);
    // The deleted segment comes back on the next fetch.
    kithara(dir.path())
        .args(["fetch", o.master_url().as_str()])
        .assert()
        .success();
    assert!(victim.exists());
}

#[test]
fn rm_by_url_and_by_id_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (origin(2), origin(2));
    for o in [&a, &b] {
        kithara(dir.path())
            .args(["fetch", o.master_url().as_str()])
            .assert()
            .success();
    }
    kithara(dir.path())
        .args(["rm", a.master_url().as_str()])
        .assert()
        .success();
    let prefix = &AssetId::from_url(&b.master_url()).unwrap().to_hex()[..8];
    kithara(dir.path()).args(["rm", prefix]).assert().success();
    assert!(ls_json(dir.path()).is_empty());
    let err = stderr_of_failure(kithara(dir.path()).args(["rm", "abc"]));
    assert!(err.starts_with("error: "), "{err}");
    let err = stderr_of_failure(kithara(dir.path()).args(["rm", "deadbeefdeadbeef"]));
    assert!(err.contains("no cached asset"), "{err}");
}

#[test]
fn a_second_owner_gets_a_clear_error_and_inspection_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin(2);
    kithara(dir.path())
        .args(["fetch", o.master_url().as_str()])
        .assert()
        .success();
    let _owner = AssetCache::open(CacheOptions::new(dir.path()).owner("a player")).unwrap();
    let err = stderr_of_failure(kithara(dir.path()).args(["fetch", o.master_url().as_str()]));
    assert_eq!(
        err.trim_end(),
        format!(
            "error: cache directory {} is in use by another process (pid {}: a player)",
            dir.path().display(),
            std::process::id()
        )
    );
    assert_eq!(ls_json(dir.path()).len(), 1);
    kithara(dir.path())
        .args(["stats", "--json"])
        .assert()
        .success();
    kithara(dir.path()).arg("verify").assert().success();
}

#[test]
fn demo_passes() {
    let out = Command::cargo_bin("kithara")
        .unwrap()
        .arg("demo")
        .env_remove("KITHARA_CACHE_DIR")
        .env_remove("RUST_LOG")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("demo passed"), "{text}");
}

#[test]
fn bad_arguments_fail_with_exit_2_and_runtime_errors_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 4] = [
        &["read", "not a url", "-o", "-"],
        &["fetch", "http://127.0.0.1:9/x.m3u8", "--variant", "best"],
        &["stats", "--max-bytes", "12XB"],
        &["--bogus"],
    ];
    for args in cases {
        let out = kithara(dir.path()).args(args).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    // A runtime error (nothing listens on port 9): one line, exit 1.
    let out = kithara(dir.path())
        .args(["fetch", "http://127.0.0.1:9/x.m3u8"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    // Warnings (here the retries) may come first; the error is one line, the last.
    let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(err.lines().last(), Some(errors[0]), "{err}");
    let err = stderr_of_failure(kithara(dir.path()).args([
        "fetch",
        "http://127.0.0.1:9/x.m3u8",
        "--variant",
        "best",
    ]));
    assert!(
        err.contains("--variant") && err.contains("expected an index, all, highest or lowest"),
        "{err}"
    );
    let err = stderr_of_failure(kithara(dir.path()).args(["stats", "--max-bytes", "12XB"]));
    assert!(err.contains("invalid size"), "{err}");
}

#[test]
fn read_to_a_file_leaves_nothing_partial_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let o = origin(4);
    let target = out_dir.path().join("track.ts");
    std::fs::write(&target, b"previous contents").unwrap();
    let err = stderr_of_failure(
        kithara(dir.path())
            .args(["read", o.master_url().as_str(), "--offline", "-o"])
            .arg(&target),
    );
    assert!(err.contains("offline miss"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"previous contents");
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    kithara(dir.path())
        .args(["read", o.master_url().as_str(), "-o"])
        .arg(&target)
        .assert()
        .success();
    assert_eq!(std::fs::read(&target).unwrap(), o.expected_stream(1));
    kithara(dir.path())
        .args([
            "read",
            o.master_url().as_str(),
            "--offline",
            "-o",
            "/dev/null",
        ])
        .assert()
        .success();
}

/// `--live-for` records instead of refusing: for no time at all, what the
/// live playlist lists now, which then plays offline.
#[test]
fn fetch_live_for_records_a_live_stream_that_plays_offline() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(4).live(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = origin.master_url().to_string();
    kithara(dir.path())
        .args(["fetch", "--live-for", "0s", &url])
        .assert()
        .success();
    let offline = kithara(dir.path())
        .args(["read", &url, "--offline"])
        .output()
        .unwrap();
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(offline.stdout, origin.expected_stream(1)[..2 * 4096]);
    let all = kithara(dir.path())
        .args(["fetch", "--live-for", "1m", "--variant", "all", &url])
        .output()
        .unwrap();
    assert!(!all.status.success());
    assert_eq!(
        String::from_utf8_lossy(&all.stderr).trim(),
        "error: --live-for records one variant: choose it with --variant"
    );
}

#[test]
fn fetch_refuses_a_live_playlist_and_caches_nothing() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(4).live(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = kithara(dir.path())
        .args(["fetch", origin.master_url().as_str()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "error: live playlist (no EXT-X-ENDLIST): {}",
            origin.media_url(1)
        )
    );
    assert!(ls_json(dir.path()).is_empty());
    let assets: Vec<_> = files_recursive(dir.path())
        .into_iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "assets"))
        .collect();
    assert!(assets.is_empty(), "{assets:?}");
}

/// `kithara info` lists variants and renditions (text and JSON) from the
/// network caching nothing, offline from the cache only; `read --rendition`
/// reads an alternate audio rendition.
#[test]
fn info_lists_variants_and_renditions_and_read_plays_a_rendition() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(3).alternate_audio(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = origin.master_url().to_string();
    let text = kithara(dir.path()).args(["info", &url]).output().unwrap();
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        "variant 0  bandwidth=64000  codecs=mp4a.40.2  resolution=-  audio=aud\n\
         variant 1  bandwidth=128000  codecs=mp4a.40.2  resolution=-  audio=aud\n\
         rendition 0  type=AUDIO  group=aud  name=a0  language=l0  default=yes\n\
         rendition 1  type=AUDIO  group=aud  name=a1  language=l1  default=no\n"
    );
    let offline = kithara(dir.path())
        .args(["info", &url, "--offline"])
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(1), "nothing cached by info");
    let read = kithara(dir.path())
        .args(["read", &url, "--rendition", "a1", "-o", "-"])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(read.stdout, origin.rendition_expected_stream(1));
    let json = kithara(dir.path())
        .args(["info", &url, "--offline", "--json"])
        .output()
        .unwrap();
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["master"], true);
    assert_eq!(v["variants"][1]["bandwidth"], 128_000);
    assert_eq!(v["renditions"][1]["name"], "a1");
    assert_eq!(v["renditions"][0]["default"], true);
    let none = kithara(dir.path())
        .args(["read", &url, "--rendition", "zz", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&none.stderr).trim(),
        format!("error: no rendition named \"zz\" in {url}")
    );
}

/// `--exclude-codec` (repeatable) reaches the library on `info` (the
/// variant is left out), `read` (highest skips it) and `fetch --variant
/// all` (never requested).
#[test]
fn exclude_codec_skips_variants_on_info_read_and_fetch() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(3).segments(2).codecs([
        "mp4a.40.2",
        "mp4a.40.2",
        "avc1.64001f,mp4a.40.2",
    ]))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = origin.master_url().to_string();
    let exclude = ["--exclude-codec", "hvc1", "--exclude-codec", "avc1"];
    let info = stdout(kithara(dir.path()).args(["info", &url]).args(exclude));
    assert_eq!(
        info,
        "variant 0  bandwidth=64000  codecs=mp4a.40.2  resolution=-  audio=-\n\
         variant 1  bandwidth=128000  codecs=mp4a.40.2  resolution=-  audio=-\n"
    );
    let read = stdout_bytes(
        kithara(dir.path())
            .args(["read", &url, "-o", "-"])
            .args(exclude),
    );
    assert!(read == origin.expected_stream(1), "highest not excluded");
    stdout(
        kithara(dir.path())
            .args(["fetch", &url, "--variant", "all"])
            .args(exclude),
    );
    assert_eq!(origin.requests("/v2/playlist.m3u8"), 0, "excluded variant");
    assert_eq!(origin.requests(&origin.segment_path(0, 1)), 1);
}

/// `read --start 0:08` writes the track from the segment holding 8 s (of
/// 4 s segments: the third), downloading none before it (`HEAD`s only);
/// a start past the end is one error line and exit 1.
#[test]
fn read_start_begins_at_the_segment_of_that_time() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(4)
            .target_duration(4),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = origin.master_url().to_string();
    let out = stdout_bytes(kithara(dir.path()).args(["read", &url, "--start", "0:08", "-o", "-"]));
    let skipped: usize = (0..2).map(|i| origin.segment_plaintext(0, i).len()).sum();
    assert!(
        out == origin.expected_stream(0)[skipped..],
        "bytes from segment 2"
    );
    for i in 0..2 {
        assert_eq!(origin.request_methods(&origin.segment_path(0, i)), ["HEAD"]);
    }
    let err =
        stderr_of_failure(kithara(dir.path()).args(["read", &url, "--start", "1:00", "-o", "-"]));
    assert_eq!(err.trim(), "error: cannot seek to 60s: the track lasts 16s");
}
