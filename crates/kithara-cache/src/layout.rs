//! Every name the cache gives to something on disk, in one place.
//!
//! ```text
//! <root>/.lock                      advisory lock of the owning process
//! <root>/state.json                 the index (recency, URLs, sizes)
//! <root>/trash/<grave>              assets moved out of place, then buried
//! <root>/pins/<id>                  held (flock, shared) by the owner while pinned
//! <root>/assets/<id[0..2]>/<id>/…   one directory per asset
//!   …/.<unique>.kithara-tmp         a staged write before its rename
//!   <id>/.kithara-kept              present: the asset is kept (a download)
//! ```
//! Each committed resource also carries an extended attribute,
//! `user.kithara.rec`, with its length and digest.

/// Folder under the root holding the asset shards.
pub(crate) const ASSETS_DIR: &str = "assets";
/// Folder under the root where evicted assets wait to be buried.
pub(crate) const TRASH_DIR: &str = "trash";
/// Suffix of in-flight temp files; no cached name may end with it.
pub(crate) const TEMP_SUFFIX: &str = ".kithara-tmp";
/// Folder under the root holding the owner's pin files (`pins.rs`).
pub(crate) const PINS_DIR: &str = "pins";
/// File name of the index at the cache root.
pub(crate) const INDEX_FILE: &str = "state.json";
/// File name of the owner's advisory lock at the cache root.
pub(crate) const LOCK_FILE: &str = ".lock";
/// An empty file at the top of an asset's folder whose presence says the
/// asset is kept (never evicted, under `max_kept_bytes`). No `CachePath`
/// can take this name, so it is never a resource.
pub(crate) const KEPT_MARKER: &str = ".kithara-kept";
/// Extended attribute holding a resource's integrity record.
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
pub(crate) const RECORD_XATTR: &str = "user.kithara.rec";

/// Path of an asset's folder relative to the root: `assets/<id[0..2]>/<id>`.
pub(crate) fn asset_dir(hex: &str) -> String {
    format!("{ASSETS_DIR}/{}/{hex}", &hex[..2])
}
