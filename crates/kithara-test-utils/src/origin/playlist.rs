//! The URL scheme of the origin and the playlist texts.
//!
//! ```text
//! /master.m3u8            master playlist
//! /v{v}/playlist.m3u8     media playlist of variant v
//! /v{v}/init.mp4          init segment (EXT-X-MAP), when configured
//! /v{v}/seg/{i}.ts        media segment i (0-based playlist index)
//! /v{v}/all.ts            all segments of variant v, byte-range mode only
//! /key.bin                the AES-128 key (one key for every variant)
//! ```

use std::fmt::Write as _;

use url::Url;

use super::config::{IvMode, OriginConfig};
use super::content::{FIXED_IV, VariantContent};

/// Target and per-segment duration in seconds.
const SEGMENT_SECONDS: u32 = 4;

/// Path of the master playlist.
pub(crate) const MASTER_PATH: &str = "/master.m3u8";
/// Path of the key.
pub(crate) const KEY_PATH: &str = "/key.bin";

/// Path of the media playlist of variant `v`.
pub(crate) fn media_path(v: usize) -> String {
    format!("/v{v}/playlist.m3u8")
}

/// Path of the init segment of variant `v`.
pub(crate) fn init_path(v: usize) -> String {
    format!("/v{v}/init.mp4")
}

/// Path of media segment `i` of variant `v` (not served in byte-range mode).
pub(crate) fn segment_path(v: usize, i: usize) -> String {
    format!("/v{v}/seg/{i}.ts")
}

/// Path of the packed resource of variant `v` (byte-range mode only).
pub(crate) fn packed_path(v: usize) -> String {
    format!("/v{v}/all.ts")
}

/// Bandwidth announced for variant `v` (strictly increasing).
pub(crate) fn bandwidth(v: usize) -> u64 {
    64_000 * (v as u64 + 1)
}

/// Renders the master playlist.
pub(crate) fn master(config: &OriginConfig, base: &Url) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in 0..config.variants {
        let uri = if config.relative_uris {
            media_path(v).trim_start_matches('/').to_owned()
        } else {
            absolute(base, &media_path(v))
        };
        let _ = writeln!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"mp4a.40.2\"\n{uri}",
            bandwidth(v)
        );
    }
    out
}

/// Renders the media playlist of variant `v`. `key_url` is the absolute key
/// URL including its query.
pub(crate) fn media(
    config: &OriginConfig,
    v: usize,
    base: &Url,
    key_url: &Url,
    content: &VariantContent,
) -> String {
    let version = if config.init {
        6
    } else if config.byte_ranges {
        4
    } else {
        3
    };
    let uri = |path: &str| -> String {
        if config.relative_uris {
            // The media playlist lives at /v{v}/, so strip that prefix.
            let prefix = format!("/v{v}/");
            path.strip_prefix(&prefix)
                .map_or_else(|| format!("..{path}"), str::to_owned)
        } else {
            absolute(base, path)
        }
    };

    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{version}");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}");
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", config.media_sequence);
    out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    if config.init {
        // Before EXT-X-KEY: the init segment is not encrypted.
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", uri(&init_path(v)));
    }
    if let super::config::Encryption::Aes128 { iv } = config.encryption {
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
    for (i, range) in content.ranges.iter().enumerate() {
        let _ = writeln!(out, "#EXTINF:{SEGMENT_SECONDS}.0,");
        if config.byte_ranges {
            let len = range.end - range.start;
            if i % 2 == 0 {
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{len}@{}", range.start);
            } else {
                // Implicit offset: right after the previous sub-range.
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{len}");
            }
            let _ = writeln!(out, "{}", uri(&packed_path(v)));
        } else {
            let _ = writeln!(out, "{}", uri(&segment_path(v, i)));
        }
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

fn absolute(base: &Url, path: &str) -> String {
    base.join(path)
        .map_or_else(|_| format!("{base}{path}"), |u| u.to_string())
}
