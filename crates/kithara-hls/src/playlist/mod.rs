//! The playlist model the client works with: master and media playlists
//! parsed by the crate's own line parsers (media playlists straight into a
//! compact segment table), URLs resolved, checked against the URL policy
//! and the bounds; and [`PlaylistMap`], a parsed playlist with the cache
//! path of everything it references, for serving it again.

mod attributes;
mod define;
mod map;
mod master;
mod media;
mod parse;
mod resolve;
mod segments;
mod spans;
mod tags;
mod url_table;

use std::ops::Range;

use url::Url;

use crate::crypto::sequence_iv;
use crate::error::HlsError;
pub(crate) use define::Vars;
pub use map::{PlaylistMap, Target};
pub(crate) use parse::{parse_media, parse_playlist};
pub(crate) use resolve::{extension_of, parse_session_url};
pub(crate) use segments::{Segment, SegmentTable};
pub(crate) use tags::MAX_BYTE_OFFSET;

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
    /// Its `AUDIO` rendition group, when given.
    pub audio: Option<String>,
    /// Its `SUBTITLES` rendition group, when given.
    pub subtitles: Option<String>,
    /// Its `RESOLUTION`, when given.
    pub resolution: Option<String>,
}

/// One `EXT-X-MEDIA` rendition with its own media playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenditionInfo {
    /// 0-based position among the renditions with a `URI`.
    pub index: usize,
    /// Its media playlist (absolute).
    pub url: Url,
    /// `TYPE`: `AUDIO`, `SUBTITLES`, `VIDEO`.
    pub kind: String,
    /// `GROUP-ID`.
    pub group: String,
    /// `NAME`.
    pub name: String,
    /// `LANGUAGE`, when given.
    pub language: Option<String>,
    /// Whether `DEFAULT=YES`.
    pub default: bool,
}

/// A resolved master playlist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MasterPlaylist {
    pub variants: Vec<VariantInfo>,
    pub renditions: Vec<RenditionInfo>,
    /// `EXT-X-I-FRAME-STREAM-INF` playlists.
    pub iframes: Vec<Url>,
    /// Its `EXT-X-DEFINE` variables, which its media playlists may `IMPORT`.
    pub defines: Vars,
}

/// A parsed playlist: either kind.
#[derive(Debug)]
pub(crate) enum Playlist {
    /// A master playlist with its variants.
    Master(MasterPlaylist),
    /// A media playlist.
    Media(MediaPlaylist),
}

/// How a resource is encrypted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef {
    /// The key URL (absolute, policy-checked).
    pub url: Url,
    /// The IV to decrypt with.
    pub iv: [u8; 16],
}

/// An `EXT-X-MAP` init segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct InitSegment {
    pub url: Url,
    pub range: Option<Range<u64>>,
    pub key: Option<KeyRef>,
}

/// An `EXT-X-KEY` (identity format, AES-128) that applies to segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentKey {
    /// The key URL (absolute, policy-checked).
    pub url: Url,
    /// The explicit IV; without one, each segment's sequence number is its IV.
    pub iv: Option<[u8; 16]>,
}

/// A resolved media playlist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MediaPlaylist {
    pub segments: SegmentTable,
    /// Distinct init segments, in order of first use.
    pub inits: Vec<InitSegment>,
    /// The keys of the segments: one per `EXT-X-KEY` that a segment used, in
    /// order (a URL may come back; [`crate::track::Track::keys`] dedups).
    pub keys: Vec<SegmentKey>,
    /// `EXT-X-MEDIA-SEQUENCE`: the sequence number of the first segment.
    pub first_sequence: u64,
    /// Whether `EXT-X-ENDLIST` was present (VOD).
    pub ended: bool,
    /// `EXT-X-TARGETDURATION` in seconds.
    pub target_duration: u64,
}

impl MediaPlaylist {
    /// The URL of segment `i`.
    pub(crate) fn segment_url(&self, i: usize) -> Result<Url, HlsError> {
        self.segments
            .url(i)
            .ok_or(HlsError::Internal("segment URL missing from its table"))
    }

    /// The media sequence number of segment `i`.
    pub(crate) fn sequence(&self, i: usize) -> u64 {
        // Cannot saturate: the sequence number of the last segment was
        // checked to fit when the playlist was parsed.
        self.first_sequence.saturating_add(i as u64)
    }

    /// The key that decrypts segment `i`, with the IV for this segment.
    pub(crate) fn segment_key(&self, i: usize) -> Option<KeyRef> {
        let key = self.keys.get(self.segments.get(i)?.key? as usize)?;
        Some(KeyRef {
            url: key.url.clone(),
            iv: key.iv.unwrap_or_else(|| sequence_iv(self.sequence(i))),
        })
    }
}
