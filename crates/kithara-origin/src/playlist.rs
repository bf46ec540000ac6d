//! The URL scheme of the origin and the playlist texts.
//!
//! ```text
//! /master.m3u8            master playlist
//! /v{v}/playlist.m3u8     media playlist of variant v
//! /v{v}/init.mp4          init segment (EXT-X-MAP), when configured
//! /v{v}/seg/{i}.ts        media segment i (0-based playlist index)
//! /v{v}/all.ts            all segments of variant v, byte-range mode only
//! /a{k}/...               the same for audio rendition k (alternate_audio)
//! /v0/iframes.m3u8        I-frame playlist (alternate_audio > 0)
//! /key.bin                the AES-128 key (one key for every variant)
//! /redir/master.m3u8      302 to /m/master.m3u8 (redirect_master)
//! /m/...                  the whole tree again (redirect_master)
//! ```

use std::fmt::Write as _;

use url::Url;

use crate::config::{Encryption, IvMode, OriginConfig};
use crate::content::{FIXED_IV, TrackContent};

/// Path of the master playlist.
pub(crate) const MASTER_PATH: &str = "/master.m3u8";
/// Path of the key.
pub(crate) const KEY_PATH: &str = "/key.bin";
/// Path of the I-frame playlist (of variant 0).
pub(crate) const IFRAMES_PATH: &str = "/v0/iframes.m3u8";
/// Group id of the alternate audio renditions.
const AUDIO_GROUP: &str = "aud";

/// A media playlist with its segments: a variant or an audio rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    /// Variant `v` of the master playlist, under `/v{v}/`.
    Variant(usize),
    /// Alternate audio rendition `k`, under `/a{k}/`.
    Audio(usize),
}

impl Track {
    /// The directory of the track, with both slashes: `/v{v}/` or `/a{k}/`.
    pub(crate) fn dir(self) -> String {
        match self {
            Self::Variant(v) => format!("/v{v}/"),
            Self::Audio(k) => format!("/a{k}/"),
        }
    }
}

/// Path of the media playlist of `track`.
pub(crate) fn media_path(track: Track) -> String {
    format!("{}playlist.m3u8", track.dir())
}

/// Path of the init segment of `track`.
pub(crate) fn init_path(track: Track) -> String {
    format!("{}init.mp4", track.dir())
}

/// Path of media segment `i` of `track` (not served in byte-range mode).
pub(crate) fn segment_path(track: Track, i: usize) -> String {
    format!("{}seg/{i}.ts", track.dir())
}

/// Path of the packed resource of `track` (byte-range mode only).
pub(crate) fn packed_path(track: Track) -> String {
    format!("{}all.ts", track.dir())
}

/// Path of the resource holding segment `i` of `track`: the segment, or the
/// packed resource in byte-range mode.
pub(crate) fn holder_path(config: &OriginConfig, track: Track, i: usize) -> String {
    if config.byte_ranges {
        packed_path(track)
    } else {
        segment_path(track, i)
    }
}

/// The absolute key URL under `base`, with the configured query.
pub(crate) fn key_url(config: &OriginConfig, base: &Url) -> Url {
    let mut url = base
        .join(KEY_PATH.trim_start_matches('/'))
        .unwrap_or_else(|_| base.clone());
    if !config.key_queries.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &config.key_queries {
            pairs.append_pair(name, value);
        }
    }
    url
}

/// Appends `?token={token}` to `url` when signing is on.
pub(crate) fn signed(mut url: String, token: Option<u64>) -> String {
    if let Some(token) = token {
        let _ = write!(url, "?token={token}");
    }
    url
}

/// Bandwidth announced for variant `v` (strictly increasing).
pub(crate) fn bandwidth(v: usize) -> u64 {
    64_000 * (v as u64 + 1)
}

/// Renders the master playlist; `base` is the root the tree is served under
/// (`http://127.0.0.1:PORT/`, or `.../m/`), used for absolute URIs.
pub(crate) fn master(config: &OriginConfig, base: &Url) -> String {
    let uri = |path: &str| -> String {
        if config.relative_uris {
            path.trim_start_matches('/').to_owned()
        } else {
            absolute(base, path)
        }
    };
    let audio = config.alternate_audio > 0;
    let mut out = String::from("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for k in 0..config.alternate_audio {
        let default = if k == 0 { "YES" } else { "NO" };
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"a{k}\",\
             LANGUAGE=\"l{k}\",DEFAULT={default},AUTOSELECT=YES,URI=\"{}\"",
            uri(&media_path(Track::Audio(k)))
        );
    }
    for v in 0..config.variants {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\"",
            bandwidth(v),
            config.codecs.get(v).map_or("mp4a.40.2", String::as_str)
        );
        if audio {
            let _ = write!(out, ",AUDIO=\"{AUDIO_GROUP}\"");
        }
        let _ = writeln!(out, "\n{}", uri(&media_path(Track::Variant(v))));
    }
    if audio {
        let _ = writeln!(
            out,
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI=\"{}\"",
            uri(IFRAMES_PATH)
        );
    }
    out
}

/// Which segments a media playlist lists, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaView {
    /// Index of the first listed segment.
    pub(crate) first: usize,
    /// One past the last listed segment (the live head).
    pub(crate) end: usize,
    /// Live: no `#EXT-X-PLAYLIST-TYPE:VOD`.
    pub(crate) live: bool,
    /// Whether `#EXT-X-ENDLIST` closes the playlist.
    pub(crate) ended: bool,
    /// The `token` query of segment and init URIs, when signed.
    pub(crate) token: Option<u64>,
}

/// Renders the media playlist of `track`; `base` as for [`master`].
pub(crate) fn media(
    config: &OriginConfig,
    track: Track,
    base: &Url,
    content: &TrackContent,
    view: MediaView,
) -> String {
    let version = if config.init {
        6
    } else if config.byte_ranges {
        4
    } else {
        3
    };
    let mut out = header(config, version, config.media_sequence + view.first as u64);
    if !view.live {
        out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    segment_tags(&mut out, config, track, base, view.token);
    let seconds = config.target_duration;
    let end = view.end.min(content.ranges.len());
    for (i, range) in content.ranges.iter().enumerate().take(end).skip(view.first) {
        let _ = writeln!(out, "#EXTINF:{seconds}.0,");
        if config.byte_ranges {
            let len = range.end - range.start;
            // The first listed entry always has an explicit offset: the
            // implicit one refers to the previous entry of the playlist.
            if i % 2 == 0 || i == view.first {
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{len}@{}", range.start);
            } else {
                // Implicit offset: right after the previous sub-range.
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{len}");
            }
        }
        let uri = uri(config, track, base, &holder_path(config, track, i));
        let _ = writeln!(out, "{}", signed(uri, view.token));
    }
    if view.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// Renders the I-frame playlist of variant 0: two byte ranges, the halves
/// of segment 0 (one entry when the segment has less than 2 bytes, none
/// without segments).
pub(crate) fn iframes(
    config: &OriginConfig,
    base: &Url,
    content: &TrackContent,
    token: Option<u64>,
) -> String {
    let track = Track::Variant(0);
    let version = if config.init { 6 } else { 4 };
    let mut out = header(config, version, config.media_sequence);
    out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n");
    segment_tags(&mut out, config, track, base, token);
    if let Some(range) = content.ranges.first() {
        let target = uri(config, track, base, &holder_path(config, track, 0));
        let target = signed(target, token);
        let seconds = config.target_duration as f64 / 2.0;
        let len = range.end - range.start;
        let half = len / 2;
        if half > 0 {
            let _ = writeln!(
                out,
                "#EXTINF:{seconds:.1},\n#EXT-X-BYTERANGE:{half}@{}\n{target}",
                range.start
            );
            let _ = writeln!(
                out,
                "#EXTINF:{seconds:.1},\n#EXT-X-BYTERANGE:{}\n{target}",
                len - half
            );
        } else {
            let _ = writeln!(
                out,
                "#EXTINF:{seconds:.1},\n#EXT-X-BYTERANGE:{len}@{}\n{target}",
                range.start
            );
        }
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// The tags every media playlist starts with.
fn header(config: &OriginConfig, version: u32, media_sequence: u64) -> String {
    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{version}");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", config.target_duration);
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{media_sequence}");
    out
}

/// `#EXT-X-MAP` and `#EXT-X-KEY`, as configured.
fn segment_tags(
    out: &mut String,
    config: &OriginConfig,
    track: Track,
    base: &Url,
    token: Option<u64>,
) {
    if config.init {
        // Before EXT-X-KEY: the init segment is not encrypted.
        let map = signed(uri(config, track, base, &init_path(track)), token);
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{map}\"");
    }
    if let Encryption::Aes128 { iv } = config.encryption {
        let key_url = key_url(config, base);
        let key_uri = if config.relative_uris {
            match key_url.query() {
                Some(query) => format!("..{KEY_PATH}?{query}"),
                None => format!("..{KEY_PATH}"),
            }
        } else {
            key_url.to_string()
        };
        let _ = write!(out, "#EXT-X-KEY:METHOD=AES-128,URI=\"{key_uri}\"");
        if iv == IvMode::Fixed {
            out.push_str(",IV=0x");
            for byte in FIXED_IV {
                let _ = write!(out, "{byte:02X}");
            }
        }
        out.push('\n');
    }
}

/// The URI of `path` in a media playlist of `track`.
fn uri(config: &OriginConfig, track: Track, base: &Url, path: &str) -> String {
    if config.relative_uris {
        // The media playlist lives in the track's directory: strip it.
        path.strip_prefix(&track.dir())
            .map_or_else(|| format!("..{path}"), str::to_owned)
    } else {
        absolute(base, path)
    }
}

/// `path` (absolute from the served root) as a URL under `base`.
fn absolute(base: &Url, path: &str) -> String {
    base.join(path.trim_start_matches('/'))
        .map_or_else(|_| format!("{base}{path}"), |u| u.to_string())
}
