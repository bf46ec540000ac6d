//! The playlist model the client works with: parsed by `hls_m3u8`, resolved
//! to absolute URLs, checked against the URL policy and the bounds.

mod parse;
mod resolve;

use std::ops::Range;

use url::Url;

pub(crate) use parse::{parse_media, parse_playlist};
pub(crate) use resolve::{extension_of, parse_session_url};

/// One variant stream of a master playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantInfo {
    /// 0-based position in the master playlist.
    pub index: usize,
    /// The media playlist of the variant (absolute).
    pub url: Url,
    /// Its `BANDWIDTH` in bits per second.
    pub bandwidth: u64,
    /// Its `CODECS`, when given.
    pub codecs: Option<String>,
}

/// A parsed playlist: either kind.
#[derive(Debug)]
pub(crate) enum Playlist {
    /// A master playlist with its variants.
    Master(Vec<VariantInfo>),
    /// A media playlist.
    Media(MediaPlaylist),
}

/// How a resource is encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyRef {
    /// The key URL (absolute, policy-checked).
    pub url: Url,
    /// The IV to decrypt with.
    pub iv: [u8; 16],
}

/// An `EXT-X-MAP` init segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InitSegment {
    pub url: Url,
    pub range: Option<Range<u64>>,
    pub key: Option<KeyRef>,
}

/// A media segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Media sequence number.
    pub sequence: u64,
    pub url: Url,
    pub range: Option<Range<u64>>,
    pub key: Option<KeyRef>,
    /// Index into [`MediaPlaylist::inits`] of the init segment that applies.
    pub init: Option<usize>,
}

/// A resolved media playlist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MediaPlaylist {
    pub segments: Vec<Segment>,
    /// Distinct init segments, in order of first use.
    pub inits: Vec<InitSegment>,
    /// Whether `EXT-X-ENDLIST` was present (VOD).
    pub ended: bool,
}
