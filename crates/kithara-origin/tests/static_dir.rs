//! The static directory origin over HTTP: files, content types, ranges,
//! counters, faults, containment and stop.

mod common;

use std::path::Path;

use common::{get, get_with, open, open_target};
use kithara_origin::{DirOrigin, HlsOrigin};

/// A temporary tree: `outside.txt` next to the served `root/`.
fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("root");
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("index.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n");
    write(
        "v0/seg0.ts",
        &(0..=255u8).cycle().take(5000).collect::<Vec<_>>(),
    );
    write("v0/init.mp4", b"init");
    write("v0/part 1.m4s", b"part");
    write("enc.key", &[7; 16]);
    write("notes.txt", b"text");
    std::fs::write(top.path().join("outside.txt"), b"secret").unwrap();
    (top, root)
}

fn start(root: &Path) -> DirOrigin {
    DirOrigin::start(root).expect("dir origin starts")
}

#[test]
fn serves_files_with_their_content_types() {
    let (_top, root) = tree();
    let origin = HlsOrigin::serve_dir(&root).expect("serve_dir");
    assert_eq!(origin.root(), std::fs::canonicalize(&root).unwrap());
    for (path, content_type) in [
        ("/index.m3u8", "application/vnd.apple.mpegurl"),
        ("/v0/seg0.ts", "video/mp2t"),
        ("/v0/init.mp4", "video/mp4"),
        ("/v0/part%201.m4s", "video/mp4"),
        ("/enc.key", "application/octet-stream"),
        ("/notes.txt", "application/octet-stream"),
    ] {
        let response = get(&origin.url(path));
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("content-type"),
            Some(content_type),
            "{path}"
        );
        let file = root.join(path.trim_start_matches('/').replace("%20", " "));
        assert_eq!(response.body, std::fs::read(file).unwrap(), "{path}");
    }
    // Query ignored; read per request, so changes show.
    assert_eq!(get(&origin.url("/notes.txt?x=1")).body, b"text");
    std::fs::write(root.join("notes.txt"), b"new").unwrap();
    assert_eq!(get(&origin.url("/notes.txt")).body, b"new");
    // Directories and missing files.
    for path in ["/", "/v0", "/v0/", "/missing.ts", "/v0/seg1.ts"] {
        assert_eq!(get(&origin.url(path)).status, 404, "{path}");
    }
}

#[test]
fn honours_a_single_range_and_counts_requests() {
    let (_top, root) = tree();
    let origin = start(&root);
    let url = origin.url("v0/seg0.ts");
    let file = std::fs::read(root.join("v0/seg0.ts")).unwrap();
    let part = get_with(&url, &[("Range", "bytes=100-199")]).unwrap();
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/5000"));
    assert_eq!(part.body, file[100..200]);
    let tail = get_with(&url, &[("Range", "bytes=-10")]).unwrap();
    assert_eq!(tail.body, file[4990..]);
    let beyond = get_with(&url, &[("Range", "bytes=5000-")]).unwrap();
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */5000"));

    get(&origin.url("/nope"));
    assert_eq!(origin.requests("/v0/seg0.ts"), 3);
    assert_eq!(origin.requests(url.as_str()), 3);
    assert_eq!(origin.requests("/nope"), 1);
    assert_eq!(origin.total_requests(), 4);
    assert_eq!(
        origin.request_log(),
        ["/v0/seg0.ts", "/v0/seg0.ts", "/v0/seg0.ts", "/nope"]
    );
    origin.reset_requests();
    assert_eq!(origin.total_requests(), 0);
}

#[test]
fn refuses_paths_that_escape_the_directory() {
    let (top, root) = tree();
    let origin = start(&root);
    let addr = origin.addr();
    for target in [
        "/../outside.txt",
        "/v0/../../outside.txt",
        "/%2e%2e/outside.txt",
        "/..%2Foutside.txt",
        "/v0/%2E%2E%2F%2E%2E%2Foutside.txt",
        "/./index.m3u8",
        "/index.m3u8%00",
        "/%zz",
    ] {
        let response = open_target(addr, target, &[]).unwrap();
        assert_eq!(response.status, 404, "{target}");
    }
    // Double slashes stay inside.
    assert_eq!(open_target(addr, "//index.m3u8", &[]).unwrap().status, 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(top.path().join("outside.txt"), root.join("out.txt")).unwrap();
        symlink(top.path(), root.join("up")).unwrap();
        symlink(root.join("notes.txt"), root.join("in.txt")).unwrap();
        assert_eq!(get(&origin.url("/out.txt")).status, 404);
        assert_eq!(get(&origin.url("/up/outside.txt")).status, 404);
        // What counts is where the file really is.
        assert_eq!(get(&origin.url("/up/root/notes.txt")).body, b"text");
        assert_eq!(get(&origin.url("/in.txt")).body, b"text");
    }
}

#[test]
fn set_status_hold_and_cut_work_per_path() {
    let (_top, root) = tree();
    let origin = start(&root);
    let file = std::fs::read(root.join("v0/seg0.ts")).unwrap();

    origin.set_status("/index.m3u8", Some(503));
    origin.set_status("/missing", Some(200));
    assert_eq!(get(&origin.url("index.m3u8")).status, 503);
    assert_eq!(get(&origin.url("missing")).status, 200, "before the lookup");
    origin.set_status("/index.m3u8", None);
    assert_eq!(get(&origin.url("index.m3u8")).status, 200);

    let hold = origin.hold("/v0/seg0.ts", 1000);
    let mut held = open(&origin.url("v0/seg0.ts"), &[]).unwrap();
    assert_eq!(held.content_length(), Some(5000));
    let first = held.read_body(1000).unwrap();
    assert!(!held.readable_now());
    hold.release();
    let (rest, error) = held.read_rest();
    assert!(error.is_none(), "{error:?}");
    assert_eq!([first, rest].concat(), file);

    origin.cut("/v0/seg0.ts", Some(10));
    let cut = open(&origin.url("v0/seg0.ts"), &[]).unwrap();
    assert_eq!(cut.content_length(), Some(5000));
    let (body, _) = cut.read_rest();
    assert!(body.len() <= 10);
    assert_eq!(body, file[..body.len()]);
    origin.cut("/v0/seg0.ts", None);
    assert_eq!(get(&origin.url("v0/seg0.ts")).body, file);
}

#[test]
fn stop_refuses_connections_and_bad_roots_fail_to_start() {
    let (_top, root) = tree();
    let origin = start(&root);
    let url = origin.url("index.m3u8");
    assert_eq!(get(&url).status, 200);
    origin.stop();
    let err = get_with(&url, &[]).expect_err("refused after stop");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    let url = {
        let dropped = start(&root);
        dropped.url("index.m3u8")
    };
    assert!(get_with(&url, &[]).is_err(), "drop stops it too");

    assert!(DirOrigin::start(root.join("missing")).is_err());
    assert!(DirOrigin::start(root.join("notes.txt")).is_err());
}
