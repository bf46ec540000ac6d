//! Entry points for fuzz targets and their regression tests; not API.
//!
//! [`parse_playlist`] runs the parse a session runs on a downloaded playlist
//! and asserts what the rest of the crate relies on when it is accepted. What
//! a fuzzer looks for is a panic: an assertion here, or one in either of the
//! crate's parsers (master and media), which nothing guards.

use url::Url;

use crate::playlist::{self, MAX_BYTE_OFFSET, MediaPlaylist, Playlist, PlaylistMap, VariantInfo};

/// The URL the fuzzed bytes are served at (relative URIs resolve against it).
pub const PLAYLIST_URL: &str = "https://origin.test/v0/playlist.m3u8";

/// The bound on segments (and variants): `HlsOptions::max_segments`' default.
pub const MAX_SEGMENTS: usize = 100_000;

/// What a playlist body was parsed into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Refused with an error.
    Refused,
    /// A master playlist with this many variants.
    Master {
        /// Number of variant streams.
        variants: usize,
    },
    /// A media playlist with this many segments.
    Media {
        /// Number of segments.
        segments: usize,
    },
}

/// Parse `bytes` as the playlist served at [`PLAYLIST_URL`], the way a session
/// parses any playlist it downloads, with a bound of [`MAX_SEGMENTS`]. Panics
/// if an accepted playlist breaks an invariant (see `check_media`) or if a
/// second parse of the same bytes gives another result.
pub fn parse_playlist(bytes: &[u8]) -> Parsed {
    let url = Url::parse(PLAYLIST_URL).expect("PLAYLIST_URL is a URL");
    let first = playlist::parse_playlist(&url, bytes, MAX_SEGMENTS, &[]);
    let parsed = match &first {
        Err(_) => Parsed::Refused,
        Ok(Playlist::Master(master)) => {
            check_master(&master.variants);
            Parsed::Master {
                variants: master.variants.len(),
            }
        }
        Ok(Playlist::Media(media)) => {
            check_media(media);
            Parsed::Media {
                segments: media.segments.len(),
            }
        }
    };
    let second = playlist::parse_playlist(&url, bytes, MAX_SEGMENTS, &[]);
    match (&first, &second) {
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "errors differ"),
        (Ok(Playlist::Master(a)), Ok(Playlist::Master(b))) => assert_eq!(a, b),
        (Ok(Playlist::Media(a)), Ok(Playlist::Media(b))) => assert_eq!(a, b),
        _ => panic!("two parses differ: {first:?} then {second:?}"),
    }
    check_map(&url, bytes, parsed);
    parsed
}

/// What a proxy does with the same bytes: a [`PlaylistMap`] accepts exactly
/// what the session's parse accepts; its rewrite (every URI pointed at a
/// proxy) parses again into as many variants or segments, and every
/// rewritten path is one the map resolves back to a fetchable URL.
fn check_map(url: &Url, bytes: &[u8], parsed: Parsed) {
    let map = PlaylistMap::parse(url, "v0", bytes, MAX_SEGMENTS);
    assert_eq!(
        map.is_ok(),
        parsed != Parsed::Refused,
        "the map and the session disagree"
    );
    let Ok(map) = map else { return };
    let mut paths = Vec::new();
    let text = map
        .rewrite(|p| {
            paths.push(p.clone());
            format!("http://127.0.0.1:1/t/{p}")
        })
        .expect("an accepted playlist rewrites");
    for p in &paths {
        let target = map
            .target(p)
            .unwrap_or_else(|| panic!("{p} was written but resolves to nothing"));
        assert_fetchable(&target.url, "target");
    }
    let proxy = Url::parse("http://127.0.0.1:1/t/v0/playlist.m3u8").expect("a URL");
    let again = playlist::parse_playlist(&proxy, text.as_bytes(), MAX_SEGMENTS, &[]);
    let reparsed = match again {
        Ok(Playlist::Master(m)) => Parsed::Master {
            variants: m.variants.len(),
        },
        Ok(Playlist::Media(m)) => Parsed::Media {
            segments: m.segments.len(),
        },
        Err(e) => panic!("the rewritten playlist does not parse: {e}\n{text}"),
    };
    assert_eq!(reparsed, parsed, "the rewrite changed the playlist");
}

/// Only `http`/`https` URLs with a host are ever fetched.
fn assert_fetchable(url: &Url, what: &str) {
    assert!(
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()),
        "{what} {url} breaks the URL policy"
    );
}

/// A key URL is fetchable, or an inline `data:` key (never fetched).
fn assert_key_url(url: &Url, what: &str) {
    if url.scheme() != "data" {
        assert_fetchable(url, what);
    }
}

fn check_master(variants: &[VariantInfo]) {
    assert!(!variants.is_empty(), "a master playlist without variants");
    assert!(
        variants.len() <= MAX_SEGMENTS,
        "{} variants",
        variants.len()
    );
    for (i, v) in variants.iter().enumerate() {
        assert_eq!(v.index, i, "variant indices are positions");
        assert_fetchable(&v.url, "variant");
    }
}

/// Every segment can be used: its URL rebuilt, its key and IV, its sequence
/// number (without saturating), its init segment; every byte range is
/// non-empty and ends at or before `MAX_BYTE_OFFSET`.
fn check_media(m: &MediaPlaylist) {
    let n = m.segments.len();
    assert!(n > 0 && n <= MAX_SEGMENTS, "{n} segments");
    let range_ok = |r: &std::ops::Range<u64>| r.start < r.end && r.end <= MAX_BYTE_OFFSET;
    for (i, seg) in m.segments.iter().enumerate() {
        let url = m
            .segment_url(i)
            .unwrap_or_else(|e| panic!("segment {i}: {e}"));
        assert_fetchable(&url, "segment");
        if let Some(r) = &seg.range {
            assert!(range_ok(r), "segment {i}: byte range {r:?}");
        }
        assert!(
            m.first_sequence.checked_add(i as u64).is_some(),
            "segment {i}: sequence number overflows from {}",
            m.first_sequence
        );
        let _ = m.sequence(i);
        assert!(seg.key.is_none_or(|k| (k as usize) < m.keys.len()));
        if let Some(key) = m.segment_key(i) {
            assert_key_url(&key.url, "key");
        }
        assert!(seg.init.is_none_or(|k| (k as usize) < m.inits.len()));
    }
    for init in &m.inits {
        assert_fetchable(&init.url, "init segment");
        if let Some(r) = &init.range {
            assert!(range_ok(r), "init segment: byte range {r:?}");
        }
        if let Some(key) = &init.key {
            assert_key_url(&key.url, "init key");
        }
    }
}
