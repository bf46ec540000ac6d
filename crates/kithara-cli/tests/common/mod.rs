//! Helpers shared by the CLI tests.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The real `kithara` binary on the cache at `dir`, with no inherited cache
/// directory, no logging and no stdin.
pub fn kithara(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kithara"));
    cmd.arg("--cache-dir")
        .arg(dir)
        .env_remove("KITHARA_CACHE_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Starts `kithara [global options] serve` on the cache at `dir`; returns
/// it and the base URL of its one stdout line.
#[allow(dead_code, reason = "not every test binary starts a server")]
pub fn serve(dir: &Path, global: &[&str]) -> (Child, String) {
    serve_with_stderr(dir, global, Stdio::null())
}

/// As [`serve`], with its stderr (the log) going to `stderr`.
#[allow(dead_code, reason = "not every test binary starts a server")]
pub fn serve_with_stderr(dir: &Path, global: &[&str], stderr: Stdio) -> (Child, String) {
    let mut child = kithara(dir)
        .args(global)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim_end().to_owned())
}

/// Runs `kithara` on the cache at `dir`; a panic in it fails the test.
#[allow(dead_code)] // not every test binary runs it this way
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let out = kithara(dir).args(args).output().expect("run kithara");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{args:?}: {out:?}"
    );
    out
}

/// Inverts the byte at `at` of `file` (a rotted resource, same length).
#[allow(dead_code)] // used by the tests that corrupt the cache
pub fn flip(file: &Path, at: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[!b[0]]).unwrap();
}
