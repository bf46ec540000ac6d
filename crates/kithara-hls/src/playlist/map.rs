//! [`PlaylistMap`]: a playlist parsed by the client's own parsers, with the
//! cache path of everything it references and where each URI stands in the
//! text: what a proxy needs to serve the playlist with every URI pointing
//! back at itself, and to know, from a path alone, what to fetch.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use kithara_cache::CachePath;
use url::Url;

use super::attributes::attributes;
use super::define::substitute;
use super::parse::{parse_text, text};
use super::spans::{Ref, Spans};
use super::{MasterPlaylist, MediaPlaylist, Playlist, RenditionInfo, VariantInfo};
use crate::error::HlsError;
use crate::layout;
use crate::resource::ResourceKind;

/// A parsed playlist and the cache path of every resource it references
/// (see [`layout`](crate::layout)).
#[derive(Debug)]
pub struct PlaylistMap {
    url: Url,
    /// Where the media of a media playlist live (`v0`, `r1`, ...).
    dir: String,
    text: String,
    spans: Spans,
    body: Playlist,
    /// Cache path of each key in `spans.keys` → its index.
    key_paths: HashMap<CachePath, usize>,
}

/// What a cache path of an asset stands for, according to a playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// What the resource is.
    pub kind: ResourceKind,
    /// Where it comes from (absolute; `http` or `https`).
    pub url: Url,
    /// The byte range of `url` it is, if not all of it.
    pub range: Option<Range<u64>>,
    /// A segment's media sequence number.
    pub sequence: Option<u64>,
}

impl PlaylistMap {
    /// Parse `body`, served at `url` (its final URL, after redirects), as
    /// the playlist whose media live in `dir` (`v0` for a top media
    /// playlist; ignored for a master). At most `max_entries` segments or
    /// variants.
    pub fn parse(url: &Url, dir: &str, body: &[u8], max_entries: usize) -> Result<Self, HlsError> {
        // Served substituted: the `EXT-X-DEFINE` lines go (a player could
        // not resolve a `QUERYPARAM` against the proxy's URL).
        let (text, _) = substitute(url, text(url, body)?, &[])?;
        let text = text.into_owned();
        let mut spans = Spans::default();
        let body = parse_text(url, &text, max_entries, Some(&mut spans))?;
        // Recorded line by line, but within a line in the order the tag's
        // attributes were read.
        spans.list.sort_by_key(|s| s.start);
        let key_paths = spans
            .keys
            .iter()
            .enumerate()
            .map(|(i, u)| Ok((layout::key(u)?, i)))
            .collect::<Result<_, HlsError>>()?;
        Ok(Self {
            url: url.clone(),
            dir: dir.to_owned(),
            text,
            spans,
            body,
            key_paths,
        })
    }

    /// The URL the playlist was served at (the base of its URIs).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Whether it is a master playlist.
    pub fn is_master(&self) -> bool {
        matches!(self.body, Playlist::Master(_))
    }

    /// Whether it is a media playlist without `EXT-X-ENDLIST` (live or
    /// EVENT): it must be fetched again to see new segments.
    pub fn is_live(&self) -> bool {
        self.media().is_some_and(|m| !m.ended)
    }

    /// A media playlist's `EXT-X-TARGETDURATION`.
    pub fn target_duration(&self) -> Option<Duration> {
        self.media().map(|m| Duration::from_secs(m.target_duration))
    }

    /// A media playlist's media sequence numbers, first to last + 1.
    pub fn sequences(&self) -> Option<Range<u64>> {
        self.media()
            .map(|m| m.first_sequence..m.sequence(m.segments.len()))
    }

    /// A master playlist's variant streams.
    pub fn variants(&self) -> &[VariantInfo] {
        self.master().map_or(&[], |m| &m.variants)
    }

    /// A master playlist's renditions with a URI.
    pub fn renditions(&self) -> &[RenditionInfo] {
        self.master().map_or(&[], |m| &m.renditions)
    }

    fn master(&self) -> Option<&MasterPlaylist> {
        match &self.body {
            Playlist::Master(m) => Some(m),
            Playlist::Media(_) => None,
        }
    }

    fn media(&self) -> Option<&MediaPlaylist> {
        match &self.body {
            Playlist::Media(m) => Some(m),
            Playlist::Master(_) => None,
        }
    }

    /// The cache path of what `what` references.
    fn path_of(&self, what: Ref) -> Result<CachePath, HlsError> {
        let missing = || HlsError::Internal("a URI span references nothing");
        let media = || self.media().ok_or_else(missing);
        match what {
            Ref::Variant(n) => layout::playlist(&layout::variant_dir(n)),
            Ref::Rendition(n) => layout::playlist(&layout::rendition_dir(n)),
            Ref::IFrame(n) => layout::playlist(&layout::iframe_dir(n)),
            Ref::Key(k) => layout::key(self.spans.keys.get(k).ok_or_else(missing)?),
            Ref::Init(k) | Ref::Map(k) => {
                let init = media()?.inits.get(k).ok_or_else(missing)?;
                layout::init(&self.dir, k, &init.url)
            }
            Ref::Segment(i) => {
                let m = media()?;
                layout::segment(&self.dir, m.sequence(i), &m.segment_url(i)?)
            }
            Ref::DropLine => Err(missing()),
        }
    }

    /// The text with every URI replaced by `to(cache path of what it
    /// references)`. Byte ranges go (each served segment and init segment
    /// is its range, a resource of its own), and so do the lines of
    /// unserved tags (low-latency parts, session data, content steering).
    /// Every other byte is as served.
    pub fn rewrite(&self, mut to: impl FnMut(&CachePath) -> String) -> Result<String, HlsError> {
        let text = self.text.as_str();
        let mut out = String::with_capacity(text.len() + text.len() / 2);
        let mut pos = 0;
        for span in &self.spans.list {
            let (start, end) = (span.start as usize, span.end as usize);
            if start < pos {
                continue; // inside a line already dropped
            }
            out.push_str(&text[pos..start]);
            pos = end;
            match span.what {
                Ref::DropLine => {
                    // The rest of the line goes, and its line break unless
                    // the line had more before the tag (`#EXTM3U` followed
                    // by a tag on its line): the two must stay apart.
                    let rest = &text[end..];
                    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                    let alone = text[line_start..start].trim().is_empty();
                    pos += rest
                        .find('\n')
                        .map_or(rest.len(), |i| if alone { i + 1 } else { i });
                }
                Ref::Map(_) => {
                    let uri = to(&self.path_of(span.what)?);
                    out.push_str(&map_attributes(&text[start..end], &uri));
                }
                what => out.push_str(&to(&self.path_of(what)?)),
            }
        }
        out.push_str(&text[pos..]);
        Ok(out)
    }

    /// What `path` stands for in this playlist: a resource it references,
    /// under the name [`rewrite`](Self::rewrite) gives it. `None` for any
    /// other path.
    pub fn target(&self, path: &CachePath) -> Option<Target> {
        let plain = |kind, url: &Url| Target {
            kind,
            url: url.clone(),
            range: None,
            sequence: None,
        };
        if let Some(&k) = self.key_paths.get(path) {
            return Some(plain(ResourceKind::Key, &self.spans.keys[k]));
        }
        let s = path.to_string();
        match &self.body {
            Playlist::Master(m) => {
                let dir = s.strip_suffix("/playlist.m3u8")?;
                let n: usize = dir.get(1..)?.parse().ok()?;
                let (what, url) = match dir.get(..1)? {
                    "v" => (Ref::Variant(n), &m.variants.get(n)?.url),
                    "r" => (Ref::Rendition(n), &m.renditions.get(n)?.url),
                    "i" => (Ref::IFrame(n), m.iframes.get(n)?),
                    _ => return None,
                };
                // Only the canonical name (`v01` is not `v1`).
                (self.path_of(what).ok()? == *path).then(|| plain(ResourceKind::Playlist, url))
            }
            Playlist::Media(m) => {
                let rest = s.strip_prefix(&self.dir)?.strip_prefix('/')?;
                if let Some(seg) = rest.strip_prefix("seg/") {
                    let sequence: u64 = seg.split_once('.')?.0.parse().ok()?;
                    let i = usize::try_from(sequence.checked_sub(m.first_sequence)?).ok()?;
                    if i >= m.segments.len() || self.path_of(Ref::Segment(i)).ok()? != *path {
                        return None;
                    }
                    return Some(Target {
                        kind: ResourceKind::Segment,
                        url: m.segment_url(i).ok()?,
                        range: m.segments.get(i)?.range,
                        sequence: Some(sequence),
                    });
                }
                let k = (0..m.inits.len())
                    .find(|&k| self.path_of(Ref::Init(k)).is_ok_and(|p| p == *path))?;
                let init = &m.inits[k];
                Some(Target {
                    kind: ResourceKind::Init,
                    url: init.url.clone(),
                    range: init.range.clone(),
                    sequence: None,
                })
            }
        }
    }
}

/// An `EXT-X-MAP` attribute list with its `URI` set to `uri` and its
/// `BYTERANGE`s left out; every other attribute as it was.
fn map_attributes(list: &str, uri: &str) -> String {
    attributes(list)
        .filter(|(name, _)| *name != "BYTERANGE")
        .map(|(name, value)| {
            if name == "URI" {
                format!("URI=\"{uri}\"")
            } else {
                format!("{name}={value}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn map(u: &str, dir: &str, text: &str) -> PlaylistMap {
        PlaylistMap::parse(&url(u), dir, text.as_bytes(), 1000).unwrap()
    }

    fn p(s: &str) -> CachePath {
        CachePath::parse(s).unwrap()
    }

    const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://keys.example/k?id=1\"
#EXT-X-SESSION-DATA:DATA-ID=\"com.example\",URI=\"data.json\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"audio/en.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=128000,AUDIO=\"aud\"
low/index.m3u8?token=abc
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1000,URI=\"../if.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=256000
https://other.example/high.m3u8
";

    /// A proxy serves a playlist with variables substituted and without
    /// its `EXT-X-DEFINE` lines (a `QUERYPARAM` would not resolve against
    /// the proxy's URL); gap segments are still named like any segment.
    #[test]
    fn variables_are_served_substituted() {
        let m = map(
            "https://cdn.example/t/v0.m3u8?tok=abc",
            "v0",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-DEFINE:QUERYPARAM=\"tok\"\n\
             #EXT-X-DEFINE:NAME=\"k\",VALUE=\"key\"\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"{$k}.bin?t={$tok}\"\n\
             #EXTINF:4,\na.ts?t={$tok}\n#EXT-X-GAP\n#EXTINF:4,\nb.ts\n#EXT-X-ENDLIST\n",
        );
        let out = m.rewrite(|p| format!("/x/{p}")).unwrap();
        let key = layout::key(&url("https://cdn.example/t/key.bin?t=abc")).unwrap();
        assert_eq!(
            out,
            format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:4\n\
                 #EXT-X-KEY:METHOD=AES-128,URI=\"/x/{key}\"\n\
                 #EXTINF:4,\n/x/v0/seg/000000.ts\n#EXT-X-GAP\n#EXTINF:4,\n/x/v0/seg/000001.ts\n\
                 #EXT-X-ENDLIST\n"
            )
        );
    }

    /// A dropped tag on the `#EXTM3U` line (read as a line of its own)
    /// takes its text but not the line break: the header must not run into
    /// the next tag (found by the `playlist` fuzz target).
    #[test]
    fn a_tag_dropped_from_the_header_line_keeps_its_line_break() {
        for tag in [
            "#EXT-X-DEFINE:NAME=\"a\",VALUE=\"1\"",
            "#EXT-X-SESSION-DATA:DATA-ID=\"d\"",
        ] {
            let m = map(
                "https://cdn.example/t/master.m3u8",
                "",
                &format!("#EXTM3U{tag}\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n"),
            );
            let out = m.rewrite(|p| format!("/x/{p}")).unwrap();
            assert_eq!(
                out, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n/x/v0/playlist.m3u8\n",
                "{tag}"
            );
        }
    }

    #[test]
    fn a_master_is_rewritten_uri_by_uri() {
        let m = map("https://cdn.example/t/master.m3u8", "", MASTER);
        let out = m.rewrite(|p| format!("/x/{p}")).unwrap();
        let key = layout::key(&url("https://keys.example/k?id=1")).unwrap();
        assert_eq!(
            out,
            format!(
                "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"/x/{key}\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"/x/r0/playlist.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=128000,AUDIO=\"aud\"
/x/v0/playlist.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1000,URI=\"/x/i0/playlist.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=256000
/x/v1/playlist.m3u8
"
            )
        );
        let t = m.target(&p("v0/playlist.m3u8")).unwrap();
        assert_eq!(
            t.url.as_str(),
            "https://cdn.example/t/low/index.m3u8?token=abc"
        );
        assert_eq!(t.kind, ResourceKind::Playlist);
        assert_eq!(
            m.target(&p("r0/playlist.m3u8")).unwrap().url.as_str(),
            "https://cdn.example/t/audio/en.m3u8"
        );
        assert_eq!(
            m.target(&p("i0/playlist.m3u8")).unwrap().url.as_str(),
            "https://cdn.example/if.m3u8"
        );
        assert_eq!(m.target(&key).unwrap().kind, ResourceKind::Key);
        for forged in [
            "v2/playlist.m3u8",
            "v01/playlist.m3u8",
            "x0/playlist.m3u8",
            "v0/seg/000000.ts",
            "master.m3u8",
        ] {
            assert_eq!(m.target(&p(forged)), None, "{forged}");
        }
    }

    const MEDIA: &str = "#EXTM3U\r
#EXT-X-TARGETDURATION:6\r
#EXT-X-MEDIA-SEQUENCE:41\r
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"100@0\"\r
#EXT-X-KEY:METHOD=AES-128,URI=\"../k.bin?sig=1\",IV=0x000102030405060708090a0b0c0d0e0f\r
#EXTINF:6.0,\r
s41.m4s?sig=2\r
#EXT-X-PART:DURATION=1.0,URI=\"p1.m4s\"\r
#EXT-X-BYTERANGE:500@100\r
#EXTINF:6.0,title\r
init.mp4\r
#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\r
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\r
#EXTINF:6.0,\r
https://b.example/s43.m4s\r
";

    #[test]
    fn a_media_playlist_is_rewritten_uri_by_uri() {
        let m = map("https://cdn.example/t/v/index.m3u8", "v3", MEDIA);
        assert!(m.is_live());
        assert_eq!(m.target_duration(), Some(Duration::from_secs(6)));
        assert_eq!(m.sequences(), Some(41..44));
        let out = m.rewrite(|p| format!("/x/{p}")).unwrap();
        let key = layout::key(&url("https://cdn.example/t/k.bin?sig=1")).unwrap();
        assert_eq!(
            out,
            format!(
                "#EXTM3U\r
#EXT-X-TARGETDURATION:6\r
#EXT-X-MEDIA-SEQUENCE:41\r
#EXT-X-MAP:URI=\"/x/v3/init.mp4\"\r
#EXT-X-KEY:METHOD=AES-128,URI=\"/x/{key}\",IV=0x000102030405060708090a0b0c0d0e0f\r
#EXTINF:6.0,\r
/x/v3/seg/000041.m4s\r
#EXTINF:6.0,title\r
/x/v3/seg/000042.mp4\r
#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\r
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\r
#EXTINF:6.0,\r
/x/v3/seg/000043.m4s\r
"
            )
        );
        let seg = m.target(&p("v3/seg/000042.mp4")).unwrap();
        assert_eq!(seg.url.as_str(), "https://cdn.example/t/v/init.mp4");
        assert_eq!(seg.range, Some(100..600));
        assert_eq!(seg.sequence, Some(42));
        let init = m.target(&p("v3/init.mp4")).unwrap();
        assert_eq!((init.kind, init.range), (ResourceKind::Init, Some(0..100)));
        assert_eq!(
            m.target(&key).unwrap().url.as_str(),
            "https://cdn.example/t/k.bin?sig=1"
        );
        for forged in [
            "v3/seg/000040.m4s",
            "v3/seg/000044.m4s",
            "v3/seg/000041.ts",
            "v3/seg/41.m4s",
            "v0/seg/000041.m4s",
            "v3/init-1.mp4",
            "keys/0000.key",
        ] {
            assert_eq!(m.target(&p(forged)), None, "{forged}");
        }
    }

    #[test]
    fn a_map_byte_range_goes_wherever_it_stands() {
        for (attrs, served) in [
            (
                "BYTERANGE=\"100@0\",URI=\"i.mp4\"",
                "URI=\"/x/v0/init.mp4\"",
            ),
            (
                "URI=\"i.mp4\" , BYTERANGE=\"100@0\"",
                "URI=\"/x/v0/init.mp4\"",
            ),
            ("URI=\"i.mp4\"", "URI=\"/x/v0/init.mp4\""),
        ] {
            let text = format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:{attrs}\n#EXTINF:4,\na.mp4\n#EXT-X-ENDLIST\n"
            );
            let m = map("https://h/p.m3u8", "v0", &text);
            assert_eq!(
                m.rewrite(|p| format!("/x/{p}")).unwrap(),
                format!(
                    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:{served}\n#EXTINF:4,\n/x/v0/seg/000000.mp4\n#EXT-X-ENDLIST\n"
                ),
                "{attrs}"
            );
        }
    }

    #[test]
    fn the_rewrite_rejects_what_the_parser_rejects() {
        let bad =
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n";
        assert!(PlaylistMap::parse(&url("https://h/p.m3u8"), "v0", bad.as_bytes(), 10).is_err());
    }
}
