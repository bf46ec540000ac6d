//! `kithara serve` through the real binary: the one stdout line, playback
//! through it, the owner lock, a clean stop on SIGTERM, and a cache that
//! verifies after a kill -9 mid-stream.

mod common;

use std::io::Read as _;
use std::process::{Child, Command, Stdio};

use kithara_test_utils::{HlsOrigin, OriginConfig};

/// GET `url`: status and body, or `None` if the connection failed.
fn get(url: &str) -> Option<(u16, Vec<u8>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let resp = client.get(url).send().await.ok()?;
        let status = resp.status().as_u16();
        Some((
            status,
            resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
        ))
    })
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn play_url(base: &str, origin: &HlsOrigin) -> String {
    let enc: String =
        url::form_urlencoded::byte_serialize(origin.master_url().as_str().as_bytes()).collect();
    format!("{base}play?url={enc}")
}

#[test]
fn serve_prints_its_base_url_plays_and_stops_cleanly() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = common::serve(dir.path(), &[]);
    // http://127.0.0.1:PORT/<32 hex>/
    let rest = base.strip_prefix("http://127.0.0.1:").expect(&base);
    let (port, token) = rest.split_once('/').unwrap();
    assert!(port.parse::<u16>().unwrap() > 0);
    let token = token.strip_suffix('/').unwrap();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

    let (status, master) = get(&play_url(&base, &origin)).expect("answered");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(master)
            .unwrap()
            .contains(&format!("/{token}/a/"))
    );

    // The owner lock holds: a second owner gets the in-use error.
    let second = common::kithara(dir.path())
        .args(["serve"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another process"), "{err}");

    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The index was flushed: another command sees the asset.
    let ls = common::kithara(dir.path())
        .args(["ls", "--json"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ls.stdout).contains(origin.master_url().as_str()));
}

#[test]
fn a_kill_9_mid_stream_leaves_a_cache_that_verifies() {
    let origin =
        HlsOrigin::start(OriginConfig::default().segments(3).segment_size(400_000)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = common::serve(dir.path(), &[]);
    let (_, master) = get(&play_url(&base, &origin)).expect("answered");
    let master = String::from_utf8(master).unwrap();
    let media_path = master.lines().find(|l| l.starts_with('/')).unwrap();
    let root = base.split('/').take(3).collect::<Vec<_>>().join("/");
    let (_, media) = get(&format!("{root}{media_path}")).expect("answered");
    let seg = String::from_utf8(media)
        .unwrap()
        .lines()
        .find(|l| l.starts_with('/'))
        .unwrap()
        .to_owned();
    let seg_path = origin.segment_path(0, 0);
    let hold = origin.hold(&seg_path, 100_000);
    let url = format!("{root}{seg}");
    let reader = std::thread::spawn(move || get(&url));
    while origin.requests(&seg_path) == 0 {
        std::thread::yield_now();
    }
    signal(&child, "-KILL");
    child.wait().unwrap();
    drop(hold);
    let _ = reader.join();
    // Nothing partial was committed: the held segment is not in the cache.
    let files = kithara_test_utils::files_recursive(dir.path());
    assert!(
        !files.iter().any(|f| f.ends_with("v0/seg/000000.ts")),
        "{files:?}"
    );
    // Repair by use, as after any crash: the next owner's open rebuilds the
    // index and drops the dead writer's temp file; then verify says ok.
    let (mut again, _) = common::serve(dir.path(), &[]);
    signal(&again, "-TERM");
    assert!(again.wait().unwrap().success());
    let verify = common::kithara(dir.path())
        .args(["verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&verify.stdout).trim(), "ok");
}

/// Every request is one stderr line with its method, path (without the
/// token), status and time, in the layout `kithara serve` documents:
/// `<UTC time, µs>  INFO kithara_proxy::request: request method=GET
/// path="…" status=200 ms=…`.
#[test]
fn each_request_is_one_log_line_with_method_path_status_and_time() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = common::serve_with_stderr(dir.path(), &[], Stdio::piped());
    let base = base.as_str();
    let (status, _) = get(&play_url(base, &origin)).expect("answered");
    assert_eq!(status, 200);
    let rest = base.strip_prefix("http://").unwrap();
    let host = rest.split_once('/').unwrap().0;
    let (status, _) = get(&format!("http://{host}/{}/a/b", "f".repeat(32))).expect("answered");
    assert_eq!(status, 404);
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();

    let requests: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("kithara_proxy::request"))
        .collect();
    assert_eq!(requests.len(), 2, "{err}");
    for (line, path, status) in [(requests[0], "play", 200), (requests[1], "a/b", 404)] {
        // 2026-11-29T01:26:44.123456Z
        let (time, rest) = line.split_at(27);
        let b = time.as_bytes();
        for (i, c) in b.iter().enumerate() {
            let want = match i {
                4 | 7 => b'-',
                10 => b'T',
                13 | 16 => b':',
                19 => b'.',
                26 => b'Z',
                _ => {
                    assert!(c.is_ascii_digit(), "{line}");
                    continue;
                }
            };
            assert_eq!(*c, want, "{line}");
        }
        let want = format!(
            "  INFO kithara_proxy::request: request method=GET path=\"{path}\" status={status} ms="
        );
        let ms = rest.strip_prefix(&want).unwrap_or_else(|| panic!("{line}"));
        assert!(ms.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{line}");
        // To the µs, no float noise.
        assert!(ms.split('.').nth(1).is_none_or(|f| f.len() <= 3), "{line}");
    }
}
