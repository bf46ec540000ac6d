//! The baseline: the same operations done directly on the file system, with
//! the same directory layout and no index, locks or bookkeeping.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process;

use kithara_cache::AssetId;

/// `<root>/assets/<id[0..2]>/<id>`, the layout kithara uses.
pub fn asset_dir(root: &Path, id: &AssetId) -> PathBuf {
    let hex = id.to_hex();
    root.join("assets").join(&hex[..2]).join(hex)
}

/// Writes `bytes` to a uniquely named temp file in `dest`'s directory,
/// optionally `sync_data`s it, and renames it over `dest`.
pub struct RawWriter {
    /// Asked once: `getpid` is a syscall, which kithara does not pay per put either.
    pid: u32,
    counter: u64,
}

impl Default for RawWriter {
    fn default() -> Self {
        Self {
            pid: process::id(),
            counter: 0,
        }
    }
}

impl RawWriter {
    pub fn put(&mut self, dest: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        self.counter += 1;
        let dir = dest.parent().expect("dest has a parent");
        let temp = dir.join(format!(".{}-{}.tmp", self.pid, self.counter));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_data()?;
        }
        drop(f);
        fs::rename(&temp, dest)
    }
}

/// `File::open` + `read_to_end`.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Syncs a directory (what makes a rename durable).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads every directory and stats every file below `dir`: the least any
/// reconciliation with the file system has to do. Returns (files, bytes).
pub fn walk(dir: &Path) -> io::Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let (f, b) = walk(&entry.path())?;
            files += f;
            bytes += b;
        } else if kind.is_file() {
            files += 1;
            bytes += entry.metadata()?.len();
        }
    }
    Ok((files, bytes))
}
