//! Entry points for fuzz targets and their regression tests; not API.

use std::path::PathBuf;

#[cfg(target_os = "linux")]
pub mod power;

use crate::cache::AssetCache;
use crate::id::AssetId;
use crate::options::{CacheOptions, Durability};
use crate::path::CachePath;
use crate::persist::load::{Loaded, parse};

/// Parses `state.json` bytes the way an open does; true if they are accepted
/// as an index. Must never panic, whatever the bytes.
pub fn parse_index(bytes: &[u8]) -> bool {
    matches!(parse(bytes), Loaded::Found(_))
}

/// Parses a cache path; if accepted, writes it through the production
/// path into a real cache on disk (one per thread, in a temp directory),
/// and checks that the file landed at the asset's directory plus the path's
/// segments, with the bytes written, and nowhere else the read could find
/// it; then removes it. Panics otherwise (what a fuzzer looks for).
pub fn parse_path(text: &str) -> bool {
    let Ok(path) = CachePath::parse(text) else {
        return false;
    };
    thread_local! {
        static CACHE: Option<(PathBuf, AssetCache)> = scratch_cache();
    }
    CACHE.with(|cache| {
        let Some((root, cache)) = cache else {
            panic!("cannot create a scratch cache for the fuzz target");
        };
        let id = AssetId::from_key(b"fuzz");
        let asset = cache.asset(id);
        let hex = id.to_hex();
        let mut file = root.join(crate::layout::asset_dir(&hex));
        file.extend(path.segments());
        // A put can fail for a path whose prefix was a file in an earlier
        // call (`a`, then `a/b`); whatever it wrote must be where it says.
        if asset.put_atomic(&path, text.as_bytes()).is_ok() {
            let on_disk = std::fs::symlink_metadata(&file)
                .unwrap_or_else(|e| panic!("{text:?}: not at {}: {e}", file.display()));
            assert!(
                on_disk.is_file(),
                "{text:?}: {} is not a file",
                file.display()
            );
            assert_eq!(std::fs::read(&file).ok().as_deref(), Some(text.as_bytes()));
            let back = asset.read(&path).ok().flatten();
            assert_eq!(
                back.as_deref(),
                Some(text.as_bytes()),
                "{text:?}: read back"
            );
            let _ = asset.remove(&path);
            assert!(!file.exists(), "{text:?}: still there after remove");
        }
    });
    true
}

/// A cache in a fresh directory under the system's temp directory, removed
/// with the process (best effort: the fuzzer is killed, not dropped).
fn scratch_cache() -> Option<(PathBuf, AssetCache)> {
    let root = std::env::temp_dir().join(format!(
        "kithara-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    let opts = CacheOptions::new(&root)
        .max_bytes(1 << 30)
        .durability(Durability::Buffered);
    let cache = AssetCache::open(opts).ok()?;
    Some((root, cache))
}

/// One step of the background flusher, run now on this thread: writes the
/// index if sizes or entries changed, or if only recency did and a minute
/// has passed since it was last written. Tests check what a step writes
/// without waiting for the thread.
pub fn flusher_tick(cache: &AssetCache) -> crate::Result<()> {
    cache.inner.save_index(false)
}

/// Fails the move of the `after`-th next eviction victim (0: the next one)
/// of the cache rooted at `root` out of place, once, as a failing disk
/// would: the production commit runs, with one fault injected.
pub fn fail_victim_move(root: &std::path::Path, after: usize) {
    faults::arm(root, after);
}

/// Faults injected into the production store, per cache root (tests run
/// side by side in one process).
pub(crate) mod faults {
    use std::io;
    use std::path::{Path, PathBuf};

    use parking_lot::Mutex;

    static ARMED: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

    pub(crate) fn arm(root: &Path, after: usize) {
        ARMED.lock().push((root.to_path_buf(), after));
    }

    /// Called before each victim move of the store at `root`: fails the
    /// one armed for it.
    pub(crate) fn victim_move(root: &Path) -> io::Result<()> {
        let mut armed = ARMED.lock();
        let Some(at) = armed.iter().position(|(r, _)| r == root) else {
            return Ok(());
        };
        if armed[at].1 > 0 {
            armed[at].1 -= 1;
            return Ok(());
        }
        armed.remove(at);
        Err(io::Error::other("injected fault"))
    }
}
