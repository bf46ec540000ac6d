//! Helpers shared by the CLI tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

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
    let mut child = kithara(dir)
        .args(global)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim_end().to_owned())
}
