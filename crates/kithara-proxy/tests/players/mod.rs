//! What the real-client tests (`tests/ffmpeg.rs`, `tests/browser.rs`)
//! share: real media made by ffmpeg at test time, programs run with a
//! bound on their time, and a cache for the proxy.
//!
//! The programs are Debian's `ffmpeg` (ffmpeg, ffprobe) and `chromium`,
//! and hls.js from the npm registry; `.ci/run` installs all three when
//! missing. A test that needs one that is not installed fails and says how
//! to install it: it never skips.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kithara_cache::{AssetCache, CacheOptions, Durability};

/// How long one run of ffmpeg or ffprobe may take (a 12 s track plays in
/// well under a second on loopback).
pub const PROGRAM_LIMIT: Duration = Duration::from_secs(60);

/// Panics unless `program -version` runs and exits 0, naming the Debian
/// package that brings `program`.
pub fn require(program: &str, package: &str) {
    let ran = try_run(program, &["-version".to_owned()], Duration::from_secs(30));
    if !matches!(&ran, Ok(out) if out.status.success()) {
        panic!(
            "`{program}` is not installed or does not run ({:?}): this test plays real \
             media with it. Install the Debian package: `apt-get install -y {package}` \
             (.ci/run does this when it is missing)",
            ran.map(|out| out.status)
        );
    }
}

/// `program args…` run to its end with no stdin, its output captured.
/// The program gets its own process group; if it is still running after
/// `limit`, the group is killed and the call panics.
pub fn run(program: &str, args: &[String], limit: Duration) -> Output {
    try_run(program, args, limit).unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
}

/// [`run`], with an error if `program` cannot be started.
pub fn try_run(program: &str, args: &[String], limit: Duration) -> std::io::Result<Output> {
    use std::os::unix::process::CommandExt;

    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => {
            kill_group(pid);
            let out = rx.recv_timeout(Duration::from_secs(10));
            let err = out
                .ok()
                .and_then(Result::ok)
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            panic!("{program} {args:?} still ran after {limit:?}; killed. stderr:\n{err}");
        }
    }
}

/// SIGKILL to every process in the group `pgid` (a child started with
/// `process_group(0)`, so `pgid` is its pid).
pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// [`run`] on a blocking thread, so that a proxy on the test's runtime
/// keeps serving while the program reads from it.
pub async fn run_async(program: &'static str, args: Vec<String>, limit: Duration) -> Output {
    tokio::task::spawn_blocking(move || run(program, &args, limit))
        .await
        .unwrap()
}

pub fn open_cache(dir: &Path) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(dir)
            .max_bytes(256 << 20)
            .durability(Durability::Buffered),
    )
    .unwrap()
}

/// One ffmpeg-made HLS VOD of a sine tone in AAC.
pub struct Encode<'a> {
    /// Length of the tone, seconds.
    pub seconds: u32,
    /// `-hls_time`, seconds.
    pub segment_seconds: u32,
    /// `-b:a`, e.g. `"64k"`.
    pub bitrate: &'a str,
    /// Tone frequency, Hz (variants differ, so their bytes do too).
    pub frequency: u32,
}

impl Encode<'_> {
    /// Writes the media playlist `playlist` (a path relative to `root`) and
    /// its segments `<stem>_<n>.<ext>` beside it, `extra` going before the
    /// output. Returns the playlist's path on disk.
    pub fn write(&self, root: &Path, playlist: &str, segments: &str, extra: &[&str]) -> PathBuf {
        let out = root.join(playlist);
        let dir = out.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let mut args: Vec<String> = [
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            &format!(
                "sine=frequency={}:duration={}",
                self.frequency, self.seconds
            ),
            "-c:a",
            "aac",
            "-b:a",
            self.bitrate,
            "-f",
            "hls",
            "-hls_time",
            &self.segment_seconds.to_string(),
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            dir.join(segments).to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.push(out.to_str().unwrap().to_owned());
        let done = run("ffmpeg", &args, PROGRAM_LIMIT);
        assert!(
            done.status.success(),
            "ffmpeg {args:?}: {}\n{}",
            done.status,
            String::from_utf8_lossy(&done.stderr)
        );
        out
    }
}

/// The URI lines of a media playlist (its segments), as written.
pub fn segment_uris(playlist: &Path) -> Vec<String> {
    std::fs::read_to_string(playlist)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// An AES-128 key and the `-hls_key_info_file` that makes ffmpeg encrypt
/// with it: the key at `root/<key_path>`, written in playlists as
/// `key_uri`; a fixed IV. The info file is outside `root` (not served).
pub fn key_info(root: &Path, scratch: &Path, key_path: &str, key_uri: &str) -> PathBuf {
    let key = root.join(key_path);
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, b"kithara-ffmpeg-k").unwrap();
    let info = scratch.join(format!("{}.keyinfo", key_path.replace('/', "_")));
    std::fs::write(
        &info,
        format!(
            "{key_uri}\n{}\n000102030405060708090a0b0c0d0e0f\n",
            key.display()
        ),
    )
    .unwrap();
    info
}
