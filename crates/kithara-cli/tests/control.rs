//! Who owns the cache directory, through the real binary: while `kithara
//! serve` owns it, the write commands run through its control socket with
//! the output and exit status of the command run alone (also after a serve
//! was killed and another started); any other owner gives the in-use
//! error naming it, and its pins show in `ls`/`stats` until it is killed.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

use kithara_cache::{AssetCache, AssetId, CacheOptions, CachePath};
use kithara_test_utils::{HlsOrigin, OriginConfig};

const ROOT: &str = "KITHARA_TEST_ROOT";

/// Exit status, stdout and stderr of `kithara --cache-dir dir args...`;
/// in stderr, the rate on each progress line (`fetch v0 3/5 resources
/// 1.2 KiB  40 KiB/s`) is cut off, since it depends on time.
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::kithara(dir).args(args).output().unwrap();
    let stderr: String = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .map(|l| match l.find(" resources  ") {
            Some(at) if l.starts_with("fetch v") => format!("{}\n", &l[..at]),
            _ => format!("{l}\n"),
        })
        .collect();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        stderr,
    )
}

/// Starts `kithara serve` on `dir` and waits for its address line, which
/// it prints once its control socket listens.
fn serve(dir: &Path) -> Child {
    let mut child = common::kithara(dir)
        .args(["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = first_line(child.stdout.take().unwrap(), "http://");
    assert!(line.is_some(), "kithara serve printed no address");
    child
}

/// The first line of `out` that contains `what`, from there on.
fn first_line(out: ChildStdout, what: &str) -> Option<String> {
    BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.find(what).map(|at| l[at..].to_owned()))
}

#[test]
fn write_commands_run_by_serve_as_they_run_alone() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(2)).unwrap();
    let url = origin.master_url().to_string();
    let alone = tempfile::tempdir().unwrap();
    let served = tempfile::tempdir().unwrap();
    let mut server = serve(served.path());

    let socket = served.path().join(".control");
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let steps: &[&[&str]] = &[
        &["fetch", &url],
        &["fetch", &url, "--json", "--keep"],
        &["unkeep", &url, "--json"],
        &["keep", &url],
        &["rm", "0123456789abcdef"],
        &["gc", "--json"],
        &["rm", &url, "--json"],
        &["rm", &url],
        &["fetch", "http://127.0.0.1:1/gone.m3u8"],
    ];
    for args in steps {
        let want = run(alone.path(), args);
        assert_eq!(run(served.path(), args), want, "kithara {args:?}");
    }
    // The serve's cache holds what the commands did, and nothing else.
    let (_, ls, _) = run(served.path(), &["ls", "--json"]);
    assert_eq!(ls.trim(), "[]");
    // A limit for one run cannot apply to the serve's cache: in use, by it.
    let in_use = format!(
        "error: cache directory {} is in use by another process (pid {}: kithara serve)\n",
        served.path().display(),
        server.id()
    );
    assert_eq!(
        run(served.path(), &["--max-bytes", "1MiB", "gc"]),
        (Some(1), String::new(), in_use)
    );

    // A serve killed leaves its socket; the next one replaces it.
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(socket.exists(), "the killed serve's socket is gone");
    let busy = run(served.path(), &["rm", &url]);
    assert_eq!(
        busy,
        run(alone.path(), &["rm", &url]),
        "with a stale socket"
    );
    let mut server = serve(served.path());
    let args = ["fetch", &url, "--json"];
    let want = run(alone.path(), &args);
    assert_eq!(run(served.path(), &args), want, "through a second serve");
    assert_eq!(want.0, Some(0), "{want:?}");
    // Stopped cleanly, it takes its socket away.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(server.wait().unwrap().success());
    assert!(!socket.exists(), "a stopped serve left its socket");
}

/// Child: owns the root through the library, pins one asset, reports,
/// then waits to be killed.
#[test]
#[ignore = "helper process for another_owner_gives_the_in_use_error_and_its_pins_show"]
fn child_library_owner() {
    let Ok(root) = std::env::var(ROOT) else {
        return;
    };
    let cache = AssetCache::open(CacheOptions::new(&root)).unwrap();
    let asset = cache.asset(AssetId::from_key(b"track"));
    asset
        .put_atomic(&CachePath::parse("a").unwrap(), b"bytes")
        .unwrap();
    let _pin = asset.pin();
    cache.flush().unwrap();
    println!("owning");
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn another_owner_gives_the_in_use_error_and_its_pins_show() {
    let dir = tempfile::tempdir().unwrap();
    let mut owner = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_library_owner", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env(ROOT, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = first_line(owner.stdout.take().unwrap(), "owning");
    assert_eq!(ready.as_deref(), Some("owning"));
    let id = AssetId::from_key(b"track").to_hex();
    let pinned = |dir: &Path| {
        let (_, ls, _) = run(dir, &["ls", "--json"]);
        let rows: serde_json::Value = serde_json::from_str(&ls).unwrap();
        assert_eq!(rows[0]["id"], id.as_str(), "{ls}");
        let (_, stats, _) = run(dir, &["stats", "--json"]);
        let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
        (rows[0]["pinned"].as_bool(), stats["pinned_assets"].as_u64())
    };
    assert_eq!(pinned(dir.path()), (Some(true), Some(1)));

    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_str().unwrap().to_owned();
    let in_use = format!(
        "error: cache directory {} is in use by another process (pid {}: {exe})\n",
        dir.path().display(),
        owner.id()
    );
    for args in [&["rm", &id[..16]][..], &["gc"], &["keep", &id]] {
        assert_eq!(
            run(dir.path(), args),
            (Some(1), String::new(), in_use.clone()),
            "kithara {args:?}"
        );
    }

    owner.kill().unwrap();
    owner.wait().unwrap();
    assert_eq!(pinned(dir.path()), (Some(false), Some(0)));
}
