//! # kithara-cache
//!
//! A persistent, crash-safe, size-bounded disk cache for HLS audio assets.
//! An *asset* is one track: an HLS VOD with its playlists, init segments,
//! media segments and processed keys, stored as a directory of files.
//!
//! ```no_run
//! use kithara_cache::{AssetCache, AssetId, CacheOptions, CachePath};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = AssetCache::open(CacheOptions::new("/tmp/kithara").max_bytes(512 << 20))?;
//! let url = url::Url::parse("https://cdn.example.com/track/master.m3u8")?;
//! let asset = cache.asset(AssetId::from_url(&url)?);
//! let _playing = asset.pin(); // never evicted while this guard lives
//! asset.put_atomic(&CachePath::parse("v0/seg/000001.ts")?, b"...")?;
//! let bytes = asset.read(&CachePath::parse("v0/seg/000001.ts")?)?;
//! assert_eq!(bytes.as_deref(), Some(&b"..."[..]));
//! # Ok(()) }
//! ```
//!
//! ## Layers
//!
//! [`AssetCache`] composes, from the bottom up:
//! - a base store: `FsStore` (files under `<root>/assets/<id[0..2]>/<id>/`)
//!   or `MemStore` (memory only, writes no files);
//! - `IndexStore`: per-asset bytes, files, recency on a logical clock, source
//!   URL; persisted as `state.json`;
//! - `LeaseStore`: reference-counted pins; a leased asset cannot be removed;
//! - `EvictingStore`: keeps the total under `max_bytes` by evicting whole
//!   assets in the order of an [`EvictionPolicy`] ([`LruPolicy`] by default).
//!
//! ## Invariants
//!
//! 1. A write goes to a uniquely named temp file in the destination's
//!    directory, is flushed (and with [`Durability::Sync`] synced), then
//!    renamed over the final name: a reader sees the old file, the new file,
//!    or nothing, even across kill -9 or power loss.
//! 2. `max_bytes` bounds the streamed assets; a put that would exceed it
//!    evicts least-recently-used assets, several if needed.
//!    [`AssetHandle::keep`] makes an asset *kept* (a download): never
//!    evicted, bounded by [`CacheOptions::max_kept_bytes`] instead (a write
//!    past it fails with [`CacheError::KeptFull`], changing nothing). The
//!    mark is a file in the asset's folder, so a lost index keeps it.
//! 3. Pinned assets, and the asset being written, are never evicted; if room
//!    cannot be made the write fails with [`CacheError::CacheFull`] and
//!    nothing changes.
//! 4. The file system is the source of truth. `state.json` stores what the
//!    disk cannot tell (the logical clock, each asset's last access, creation
//!    time and source URL, the size limit) plus sizes as a cross-check. At
//!    open the tree is scanned once and the index is reconciled with it, so a
//!    deleted, truncated or garbage index costs only recency, never data or
//!    correct sizes. The index is written atomically and debounced, never on
//!    every put.
//! 5. Every committed resource carries its length and XXH3-64 digest (an
//!    attribute of the file). A hit whose length differs is a miss and the
//!    resource is dropped; [`AssetCache::verify`] checks every digest and
//!    [`AssetCache::repair`] removes exactly the bad resources;
//!    [`CacheOptions::verify_reads`] checks digests on hits too.
//! 6. One process owns a root (advisory lock on `<root>/.lock`, released by
//!    the kernel on any exit); [`AssetCache::open_read_only`] inspects beside
//!    it and sees its pins (a flock on `<root>/pins/<id>` held while pinned,
//!    also released by any exit). A second opener's [`CacheError::InUse`]
//!    names the owner. Temp files of dead writers are removed on open.
//!
//! ## Not a goal
//!
//! Sharing a root between writers in several processes; caching partial
//! resources (a resource is whole or absent); encryption at rest.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Records a file-system operation for the power-cut simulation
/// (`fuzzing/power.rs`): compiled only with the `fuzzing` feature on Linux,
/// a no-op unless a test armed the recorder on its thread.
macro_rules! note {
    ($($arg:tt)*) => {
        #[cfg(all(feature = "fuzzing", target_os = "linux"))]
        {
            crate::fuzzing::power::note($($arg)*);
        }
    };
}

mod cache;
mod error;
mod evict;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod handle;
mod id;
mod index;
mod layout;
mod lease;
mod open;
mod options;
mod path;
mod persist;
mod pins;
mod read;
mod stats;
mod store;
mod verify;
mod write;

pub use cache::AssetCache;
pub use error::{CacheError, Owner, Result};
pub use evict::{EvictionPolicy, LruPolicy};
pub use guard::LeaseGuard;
pub use handle::{AssetHandle, PutResult};
pub use id::AssetId;
pub use open::recover::RecoveryReport;
pub use options::{CacheOptions, DEFAULT_MAX_BYTES, DEFAULT_WRITE_LEASE, Durability};
pub use path::CachePath;
pub use read::AssetReader;
pub use stats::{AssetInfo, CacheStats};
pub use verify::{BadResource, Problem, VerifyReport};
pub use write::{AssetWriter, WriterView};
