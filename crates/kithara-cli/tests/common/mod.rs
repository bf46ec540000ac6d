//! Helpers shared by the CLI tests.

use std::path::Path;
use std::process::{Command, Stdio};

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
