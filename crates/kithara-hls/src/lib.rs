//! An HLS VOD client whose every resource goes through [`kithara_cache`].
//!
//! Open a master (or media) playlist with [`HlsSession::open`], then read the
//! variant's media bytes (init segment, then segments in order, decrypted) with
//! [`HlsSession::read`], or wrap the session in a [`BlockingReader`]
//! (`std::io::Read + Seek`).
//!
//! * Modes ([`CacheMode`]): persistent (everything in an on-disk
//!   [`AssetCache`]), memory (segments in bounded
//!   memory, only playlists and keys may land on disk), and offline
//!   ([`HlsOptions::offline`]): no network, a missing resource is
//!   [`HlsError::OfflineMiss`].
//! * One track is one asset, identified by the playlist URL; the session pins
//!   it while alive and records its source URL.
//! * Keys are cached after the [`KeyProcessor`] ran, never raw; key bytes are
//!   never logged nor part of an error.
//! * Remote playlists may only reference `http`/`https` URIs.
//! * Segments are fetched ahead of the reader with a bounded count and byte
//!   window (see [`HlsOptions::lookahead_segments`]).
//! * [`HlsSession::prefetch_all`] and [`prefetch_all_variants`] fill the cache
//!   without decoding, resuming where an earlier fetch stopped.
//!
//! Cache layout inside the asset: `master.m3u8` (or `media.m3u8`),
//! `v{n}/playlist.m3u8`, `v{n}/init.{ext}`, `v{n}/seg/{index:06}.{ext}`,
//! `keys/{sha256(key url)}.key`; a playlist that was redirected also has
//! `{path}.url` holding its final URL (the base of its relative URIs).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blocking;
mod crypto;
mod error;
mod fetch;
#[doc(hidden)]
pub mod fuzzing;
mod key;
mod lookahead;
mod mode;
mod open;
mod options;
mod playlist;
mod prefetch;
mod resource;
mod session;
mod source;
mod track;
mod write_behind;

pub use blocking::BlockingReader;
pub use error::HlsError;
pub use options::{
    CacheMode, HlsOptions, KeyContext, KeyProcessor, KeyProcessorError, VariantSelect,
};
pub use playlist::VariantInfo;
pub use prefetch::{PrefetchProgress, PrefetchSummary, prefetch_all_variants};
pub use resource::ResourceKind;
pub use session::{HlsSession, ResourceInfo};
pub use source::{SessionStats, Source};

pub use kithara_cache::{AssetCache, AssetId, CacheError};
