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
//! * [`HlsSession::seek_time`] seeks by time (`EXTINF`); it and
//!   `SeekFrom::End` learn the sizes of the segments before the target
//!   without downloading them (byte ranges, the cache, `HEAD`, the last 32
//!   bytes of an encrypted one).
//! * [`HlsSession::prefetch_all`] and [`prefetch_all_variants`] fill the cache
//!   without decoding, resuming where an earlier fetch stopped.
//!
//! Cache layout inside the asset: see [`layout`]; [`PlaylistMap`] names
//! every resource a playlist references by that layout (what a proxy
//! serving the cache needs).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blocking;
mod crypto;
mod error;
mod fetch;
#[doc(hidden)]
pub mod fuzzing;
mod key;
pub use key::{Key, process_key};
pub mod layout;
mod live;
mod loader;
mod lookahead;
mod mode;
mod open;
mod options;
mod playlist;
mod prefetch;
mod probe;
mod record;
mod refresh;
mod resource;
mod session;
mod sizes;
mod source;
mod track;
mod write_behind;

pub use blocking::BlockingReader;
pub use error::HlsError;
pub use fetch::header_map;
pub use open::{PlaylistInfo, playlist_info};
pub use options::{
    CacheMode, HlsOptions, KeyContext, KeyProcessor, KeyProcessorError, VariantSelect,
};
pub use playlist::{PlaylistMap, RenditionInfo, Target, VariantInfo};
pub use prefetch::{PrefetchProgress, PrefetchSummary, prefetch_all_variants};
pub use resource::ResourceKind;
pub use session::{HlsSession, ResourceInfo};
pub use source::{SessionStats, Source};

pub use kithara_cache::{AssetCache, AssetId, CacheError};

/// Parse a URL a caller gives (a top playlist) and apply the URL policy:
/// only `http` and `https` with a host are ever fetched.
pub fn parse_url(url: &str) -> Result<url::Url, HlsError> {
    playlist::parse_session_url(url)
}
