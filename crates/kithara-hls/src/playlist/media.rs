//! The media playlist parser: one pass over the lines, straight into the
//! compact segment table of [`MediaPlaylist`].
//!
//! A general playlist model holds ~0.5 kB per segment, twice over while it
//! is built, for tags kithara never reads; on a long VOD that was the
//! session's peak memory. This parser keeps per segment only what playback
//! needs. A playlist is invalid when a segment lacks `EXTINF` or a URI,
//! `EXT-X-TARGETDURATION` is missing, a master-playlist tag appears, the
//! value of a tag it reads does not parse or is out of bounds (checked
//! where it is read: durations, byte ranges, the media sequence), a byte
//! range without offset does not continue the previous sub-range of the same
//! URI, or `EXT-X-DISCONTINUITY-SEQUENCE` comes after a segment or a
//! discontinuity. Tags it has no use for are ignored (RFC 8216 §6.3.1).

use std::collections::HashMap;
use std::ops::Range;

use url::Url;

use super::parse::bad;
use super::resolve::{resolve, resolve_key};
use super::spans::{Ref, Spans};
use super::tags::{self, ByteRange, KeyAttrs, KeyTag, MAX_BYTE_OFFSET, MapTag};
use super::{InitSegment, KeyRef, MediaPlaylist, Segment, SegmentKey, SegmentTable};
use crate::error::HlsError;

/// Tags of master playlists, which make a media playlist invalid.
/// (`EXT-X-SESSION-KEY` is not one of them: servers put it in media
/// playlists too, and it only announces a key the segments' own
/// `EXT-X-KEY` names again, so it is ignored.)
const MASTER_TAGS: [&str; 4] = [
    "#EXT-X-MEDIA:",
    "#EXT-X-STREAM-INF:",
    "#EXT-X-I-FRAME-STREAM-INF:",
    "#EXT-X-SESSION-DATA:",
];

/// URI-bearing tags of low-latency HLS, whose partial segments kithara does
/// not serve: a proxy drops these lines (players then fall back to whole
/// segments).
const UNSERVED_TAGS: [&str; 3] = [
    "#EXT-X-PART:",
    "#EXT-X-PRELOAD-HINT:",
    "#EXT-X-RENDITION-REPORT:",
];

/// Parse the media playlist `text` (it starts with `#EXTM3U`) served at
/// `url`, recording URI positions into `spans` when given.
pub(super) fn parse_media_text(
    url: &Url,
    text: &str,
    max_entries: usize,
    spans: Option<&mut Spans>,
) -> Result<MediaPlaylist, HlsError> {
    // Segment-count bound before anything is built: count URI lines.
    let uri_lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    if uri_lines > max_entries {
        return Err(bad(url, format!("more than {max_entries} segments")));
    }
    let body = text.strip_prefix("#EXTM3U").unwrap_or(text);
    let mut parser = Parser::new(url, text, uri_lines, spans);
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        parser.line(line)?;
    }
    parser.finish()
}

/// The keys in force, by `KEYFORMAT` as far as playback cares: the identity
/// key (the only usable one) and whether a key of another format applies.
#[derive(Clone, Copy, Debug, Default)]
struct Keys<'a> {
    identity: Option<KeyAttrs<'a>>,
    /// One of the keys of other formats in force (named in errors).
    other: Option<KeyAttrs<'a>>,
}

impl<'a> Keys<'a> {
    fn apply(&mut self, tag: KeyTag<'a>) {
        match tag {
            KeyTag::None => *self = Self::default(),
            KeyTag::Key(k) if k.is_identity() => self.identity = Some(k),
            KeyTag::Key(k) => self.other = Some(k),
        }
    }

    /// The identity key, if it can be played; errors name `url`, the
    /// resource the keys apply to.
    fn usable(&self, url: &Url) -> Result<Option<KeyAttrs<'a>>, HlsError> {
        let unsupported = |method: String| HlsError::UnsupportedEncryption {
            url: url.to_string(),
            method,
        };
        match (self.identity, self.other) {
            (Some(k), _) if k.method == "AES-128" => Ok(Some(k)),
            (Some(k), _) => Err(unsupported(k.method.to_owned())),
            (None, Some(o)) => Err(unsupported(format!(
                "{} with KEYFORMAT {:?}",
                o.method,
                o.format.unwrap_or_default()
            ))),
            (None, None) => Ok(None),
        }
    }
}

/// Tags seen since the last URI line: they belong to the next segment.
#[derive(Default)]
struct Pending<'a> {
    /// Whether any segment tag was seen (a playlist may not end on one).
    open: bool,
    has_duration: bool,
    /// The `EXTINF` duration in milliseconds.
    duration_ms: u32,
    /// `EXT-X-GAP`: the segment is missing.
    gap: bool,
    range: Option<ByteRange>,
    /// The `EXT-X-MAP`, with the keys in force where it appeared.
    map: Option<(MapTag<'a>, Keys<'a>)>,
    /// The spans of every `EXT-X-MAP` since the last segment (a later one supersedes an
    /// earlier one, and all point at the init segment that applies).
    map_spans: Vec<usize>,
}

struct Parser<'a, 's> {
    url: &'a Url,
    /// The whole text, which every line is a slice of (for spans).
    text: &'a str,
    spans: Option<&'s mut Spans>,
    out: MediaPlaylist,
    pending: Pending<'a>,
    keys: Keys<'a>,
    /// Index in `out.keys` of the identity key in force, once a segment used it.
    key_index: Option<u32>,
    /// The init segment in force (carries over to the following segments).
    init: Option<u32>,
    init_index: HashMap<InitSegment, u32>,
    /// End and URI of the previous segment's byte range, if it had one.
    last_range: Option<(u64, &'a str)>,
    has_target_duration: bool,
    has_discontinuity: bool,
}

impl<'a, 's> Parser<'a, 's> {
    /// A parser for a playlist `text` at `url` with `segments` URI lines.
    fn new(url: &'a Url, text: &'a str, segments: usize, spans: Option<&'s mut Spans>) -> Self {
        Self {
            url,
            text,
            spans,
            out: MediaPlaylist {
                // Exact: the table is most of what a session keeps per segment.
                segments: SegmentTable::new(url, segments),
                ..MediaPlaylist::default()
            },
            pending: Pending::default(),
            keys: Keys::default(),
            key_index: None,
            init: None,
            init_index: HashMap::new(),
            last_range: None,
            has_target_duration: false,
            has_discontinuity: false,
        }
    }

    fn bad(&self, reason: impl Into<String>) -> HlsError {
        bad(self.url, reason)
    }

    /// One trimmed, non-empty line after `#EXTM3U`.
    fn line(&mut self, line: &'a str) -> Result<(), HlsError> {
        if !line.starts_with('#') {
            return self.segment(line);
        }
        if !line.starts_with("#EXT") {
            return Ok(()); // a comment
        }
        let tag = |name: &str| line.strip_prefix(name).map(str::trim);
        let url = self.url;
        let err = |e: String| bad(url, e);
        if let Some(v) = tag("#EXTINF:") {
            self.pending.duration_ms = tags::extinf(v).map_err(err)?;
            self.pending.open = true;
            self.pending.has_duration = true;
        } else if let Some(v) = tag("#EXT-X-BYTERANGE:") {
            self.pending.range = Some(tags::byte_range(v).map_err(err)?);
            self.record(line, Ref::DropLine)?;
            self.pending.open = true;
        } else if let Some(v) = tag("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            v.parse::<u64>()
                .map_err(|_| self.bad(format!("discontinuity sequence {v:?} is not a number")))?;
            if !self.out.segments.is_empty() || self.has_discontinuity {
                return Err(self.bad(
                    "EXT-X-DISCONTINUITY-SEQUENCE after a segment or an EXT-X-DISCONTINUITY",
                ));
            }
        } else if let Some(v) = tag("#EXT-X-DISCONTINUITY") {
            if !v.is_empty() {
                return Err(self.bad(format!("unexpected {line:?}")));
            }
            self.has_discontinuity = true;
            self.pending.open = true;
        } else if let Some(v) = tag("#EXT-X-KEY:") {
            let key = tags::key_tag(v).map_err(err)?;
            if let KeyTag::Key(k) = key
                && k.is_identity()
                && let Some(spans) = self.spans.as_deref_mut()
            {
                // A key URI a session could not fetch stays as it is (a
                // segment that needs it fails the parse below).
                if let Ok(key_url) = resolve(url, k.uri) {
                    spans.key(self.text, k.uri, key_url)?;
                }
            }
            self.keys.apply(key);
            self.key_index = None;
            self.pending.open = true;
        } else if let Some(v) = tag("#EXT-X-MAP:") {
            let map = tags::map_tag(v).map_err(err)?;
            // The whole attribute list, rewritten without its byte ranges;
            // numbered by the segment that follows (`Parser::init`).
            if let Some(i) = self.record(v, Ref::Map(usize::MAX))? {
                self.pending.map_spans.push(i);
            }
            self.pending.map = Some((map, self.keys));
            self.pending.open = true;
        } else if tag("#EXT-X-PROGRAM-DATE-TIME:").is_some() {
            self.pending.open = true;
        } else if line == "#EXT-X-GAP" {
            self.pending.gap = true;
            self.pending.open = true;
        } else if line.starts_with("#EXT-X-DEFINE:") {
            // Substituted before parsing (`define.rs`); a proxy serves the
            // substituted text without them.
            self.record(line, Ref::DropLine)?;
        } else if let Some(v) = tag("#EXT-X-TARGETDURATION:") {
            self.out.target_duration = tags::target_duration(v).map_err(err)?;
            self.has_target_duration = true;
        } else if let Some(v) = tag("#EXT-X-DATERANGE:") {
            tags::date_range(v).map_err(err)?;
            self.pending.open = true;
        } else if let Some(v) = tag("#EXT-X-MEDIA-SEQUENCE:") {
            self.out.first_sequence = v
                .parse()
                .map_err(|_| self.bad(format!("media sequence {v:?} is not a number")))?;
        } else if tag("#EXT-X-ENDLIST").is_some() {
            self.out.ended = true;
        } else if let Some(v) = tag("#EXT-X-VERSION:") {
            v.parse::<u32>()
                .map_err(|_| self.bad(format!("version {v:?} is not a number")))?;
        } else if let Some(v) = tag("#EXT-X-PLAYLIST-TYPE:") {
            if !matches!(v, "VOD" | "EVENT") {
                return Err(self.bad(format!("unknown playlist type {v:?}")));
            }
        } else if UNSERVED_TAGS.iter().any(|t| line.starts_with(t)) {
            self.record(line, Ref::DropLine)?;
        } else if MASTER_TAGS.iter().any(|t| line.starts_with(t)) {
            return Err(self.bad(format!("master playlist tag in a media playlist: {line:?}")));
        }
        // Any other tag: RFC 8216 6.3.1, ignore unrecognised tags.
        Ok(())
    }

    /// A URI line: the segment the pending tags describe.
    fn segment(&mut self, uri: &'a str) -> Result<(), HlsError> {
        let pending = std::mem::take(&mut self.pending);
        if !pending.has_duration {
            return Err(self.bad(format!("segment {uri:?} has no EXTINF")));
        }
        let seg_url = resolve(self.url, uri)?;
        let range = self.segment_range(&seg_url, uri, pending.range)?;
        let key = match self.keys.usable(&seg_url)? {
            None => None,
            Some(_) if self.key_index.is_some() => self.key_index,
            Some(k) => {
                let index = self.index(self.out.keys.len())?;
                self.out.keys.push(SegmentKey {
                    url: resolve_key(self.url, k.uri)?,
                    iv: k.iv,
                });
                self.key_index = Some(index);
                Some(index)
            }
        };
        if let Some((map, keys)) = pending.map {
            let k = self.init(map, keys)?;
            self.init = Some(k);
            if let Some(spans) = self.spans.as_deref_mut() {
                for &i in &pending.map_spans {
                    spans.set(i, Ref::Map(k as usize));
                }
            }
        }
        self.record(uri, Ref::Segment(self.out.segments.len()))?;
        let segment = Segment {
            range,
            key,
            init: self.init,
            gap: pending.gap,
        };
        self.out
            .segments
            .push(&seg_url, pending.duration_ms, segment)
            .map_err(|_| self.bad("the segment URLs take more than 4 GiB"))
    }

    /// The byte range of the segment at `url` (written `uri`).
    fn segment_range(
        &mut self,
        url: &Url,
        uri: &'a str,
        range: Option<ByteRange>,
    ) -> Result<Option<Range<u64>>, HlsError> {
        let Some(r) = range else {
            self.last_range = None;
            return Ok(None);
        };
        let start = match (r.offset, self.last_range) {
            (Some(offset), _) => offset,
            (None, Some((end, last_uri))) if last_uri == uri => end,
            (None, _) => {
                return Err(self.bad(format!(
                    "the byte range of {uri:?} has no offset and does not follow one of the same URI"
                )));
            }
        };
        let range = span(url, start, r.len)?;
        self.last_range = Some((range.end, uri));
        Ok(Some(range))
    }

    /// The index in `out.inits` of the init segment of `map`, added if new.
    fn init(&mut self, map: MapTag<'a>, keys: Keys<'a>) -> Result<u32, HlsError> {
        let url = resolve(self.url, map.uri)?;
        let range = map
            .range
            .map(|r| span(&url, r.offset.unwrap_or(0), r.len))
            .transpose()?;
        let key = match keys.usable(&url)? {
            None => None,
            Some(k) => Some(KeyRef {
                url: resolve_key(self.url, k.uri)?,
                iv: k.iv.ok_or_else(|| {
                    bad(
                        &url,
                        "an encrypted EXT-X-MAP needs an explicit IV (RFC 8216 4.3.2.4)",
                    )
                })?,
            }),
        };
        let init = InitSegment { url, range, key };
        if let Some(&i) = self.init_index.get(&init) {
            return Ok(i);
        }
        let i = self.index(self.out.inits.len())?;
        self.out.inits.push(init.clone());
        self.init_index.insert(init, i);
        Ok(i)
    }

    /// Record that `sub` of the text references `what`, if spans are
    /// recorded; returns the span's index.
    fn record(&mut self, sub: &str, what: Ref) -> Result<Option<usize>, HlsError> {
        match self.spans.as_deref_mut() {
            Some(spans) => spans.push(self.text, sub, what).map(Some),
            None => Ok(None),
        }
    }

    /// `n` as a table index.
    fn index(&self, n: usize) -> Result<u32, HlsError> {
        u32::try_from(n).map_err(|_| self.bad("too many keys or init segments"))
    }

    fn finish(mut self) -> Result<MediaPlaylist, HlsError> {
        if self.pending.open {
            return Err(self.bad("the last segment has no URI"));
        }
        if !self.has_target_duration {
            return Err(self.bad("no EXT-X-TARGETDURATION"));
        }
        if self.out.segments.is_empty() {
            return Err(self.bad("media playlist has no segment"));
        }
        // `MediaPlaylist::sequence` relies on it.
        let count = self.out.segments.len() as u64;
        if self.out.first_sequence.checked_add(count).is_none() {
            return Err(self.bad(format!(
                "media sequence {} overflows with {count} segments",
                self.out.first_sequence
            )));
        }
        self.out.segments.shrink_to_fit();
        self.out.inits.shrink_to_fit();
        self.out.keys.shrink_to_fit();
        Ok(self.out)
    }
}

/// `len` bytes from `start` of the resource at `url`, which must not be empty
/// nor end past [`MAX_BYTE_OFFSET`] (the tag's own check cannot see every
/// end: a range without offset continues the previous segment's).
fn span(url: &Url, start: u64, len: u64) -> Result<Range<u64>, HlsError> {
    match start.checked_add(len) {
        Some(end) if end > MAX_BYTE_OFFSET => Err(bad(
            url,
            format!("byte range {start}..{end} ends past {MAX_BYTE_OFFSET}"),
        )),
        Some(end) if end > start => Ok(start..end),
        Some(_) => Err(bad(url, "empty byte range")),
        None => Err(bad(url, "byte range overflows")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sequence_iv;

    fn url() -> Url {
        Url::parse("https://cdn.example.com/track/v0/index.m3u8").unwrap()
    }

    fn media(text: &str) -> Result<MediaPlaylist, HlsError> {
        parse_media_text(&url(), text, 1000, None)
    }

    const HEAD: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n";

    fn with_head(body: &str) -> String {
        format!("{HEAD}{body}")
    }

    fn is_playlist_error(r: &Result<MediaPlaylist, HlsError>) -> bool {
        matches!(r, Err(HlsError::Playlist { .. }))
    }

    #[test]
    fn a_segment_needs_extinf_and_a_uri() {
        assert!(is_playlist_error(&media(&with_head("a.ts\n"))));
        assert!(is_playlist_error(&media(&with_head(
            "#EXT-X-BYTERANGE:10@0\na.ts\n"
        ))));
        for tail in [
            "#EXTINF:4,\n",
            "#EXT-X-BYTERANGE:10@0\n",
            "#EXT-X-DISCONTINUITY\n",
            "#EXT-X-KEY:METHOD=NONE\n",
            "#EXT-X-MAP:URI=\"i.mp4\"\n",
            "#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z\n",
            "#EXT-X-DATERANGE:ID=\"x\",START-DATE=\"2020-01-01T00:00:00Z\"\n",
        ] {
            let text = with_head(&format!("#EXTINF:4,\na.ts\n{tail}#EXT-X-ENDLIST\n"));
            assert!(is_playlist_error(&media(&text)), "{tail:?}");
        }
        // Tags that describe the playlist may follow the last segment.
        let ok = with_head("#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n#EXT-X-SOMETHING-NEW:1\n# c\n");
        assert!(media(&ok).unwrap().ended);
    }

    #[test]
    fn the_target_duration_is_required_and_whole() {
        assert!(is_playlist_error(&media("#EXTM3U\n#EXTINF:4,\na.ts\n")));
        for bad in ["4.5", "-1", "x", ""] {
            let text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:{bad}\n#EXTINF:4,\na.ts\n");
            assert!(is_playlist_error(&media(&text)), "{bad:?}");
        }
        // Anywhere in the playlist, as long as it is there.
        assert!(media("#EXTM3U\n#EXTINF:4,\na.ts\n#EXT-X-TARGETDURATION:4\n").is_ok());
    }

    #[test]
    fn master_playlist_tags_are_refused() {
        for tag in [
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"",
            "#EXT-X-SESSION-DATA:DATA-ID=\"x\",VALUE=\"y\"",
        ] {
            let text = with_head(&format!("{tag}\n#EXTINF:4,\na.ts\n"));
            assert!(is_playlist_error(&media(&text)), "{tag}");
        }
    }

    /// RFC 8216 §6.3.1: what the client does not understand is ignored: an
    /// `EXT-X-SESSION-KEY` in a media playlist, unknown tags, unknown
    /// attributes, low-latency and date tags.
    #[test]
    fn what_the_client_does_not_use_is_ignored() {
        let text = with_head(
            "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"k\"\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0\n\
             #EXT-X-PART-INF:PART-TARGET=0.33\n#EXT-X-NEW-THING:A=1\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"k\",FUTURE-ATTR=\"x\",KEYFORMAT=\"identity\"\n\
             #EXT-X-PART:DURATION=0.33,URI=\"a.part0.ts\"\n\
             #EXTINF:4,\na.ts\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"b.part0.ts\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../v1/i.m3u8\",LAST-MSN=1\n",
        );
        let m = media(&text).unwrap();
        assert_eq!(m.segments.len(), 1);
        assert_eq!(m.segment_url(0).unwrap().path(), "/track/v0/a.ts");
        assert!(m.segment_key(0).is_some());
    }

    #[test]
    fn a_gap_marks_its_segment_only() {
        let m = media(&with_head(
            "#EXTINF:4,\na.ts\n#EXT-X-GAP\n#EXTINF:4,\nb.ts\n#EXTINF:4,\nc.ts\n",
        ))
        .unwrap();
        let gaps: Vec<_> = m.segments.iter().map(|s| s.gap).collect();
        assert_eq!(gaps, [false, true, false]);
        // A gap tag must be followed by its segment.
        assert!(is_playlist_error(&media(&with_head(
            "#EXTINF:4,\na.ts\n#EXT-X-GAP\n"
        ))));
    }

    #[test]
    fn the_discontinuity_sequence_comes_first() {
        let seg = "#EXTINF:4,\na.ts\n";
        assert!(
            media(&with_head(&format!(
                "#EXT-X-DISCONTINUITY-SEQUENCE:3\n{seg}"
            )))
            .is_ok()
        );
        for bad in [
            format!("{seg}#EXT-X-DISCONTINUITY-SEQUENCE:3\n{seg}"),
            format!("#EXT-X-DISCONTINUITY\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n{seg}"),
            format!("#EXT-X-DISCONTINUITY-SEQUENCE:x\n{seg}"),
            format!("#EXT-X-DISCONTINUITY:x\n{seg}"),
        ] {
            assert!(is_playlist_error(&media(&with_head(&bad))), "{bad:?}");
        }
    }

    #[test]
    fn a_range_without_offset_continues_the_same_uri() {
        let m = media(&with_head(
            "#EXT-X-BYTERANGE:10@5\n#EXTINF:4,\na.mp4\n\
             #EXT-X-BYTERANGE:20\n#EXTINF:4,\na.mp4\n\
             #EXT-X-BYTERANGE:30\n#EXTINF:4,\na.mp4\n",
        ))
        .unwrap();
        let ranges: Vec<_> = m.segments.iter().map(|s| s.range.clone()).collect();
        assert_eq!(ranges, [Some(5..15), Some(15..35), Some(35..65)]);
        for bad in [
            // Nothing to continue.
            "#EXT-X-BYTERANGE:10\n#EXTINF:4,\na.mp4\n",
            // Another URI.
            "#EXT-X-BYTERANGE:10@0\n#EXTINF:4,\na.mp4\n#EXT-X-BYTERANGE:10\n#EXTINF:4,\nb.mp4\n",
            // The previous segment is a whole resource.
            "#EXT-X-BYTERANGE:10@0\n#EXTINF:4,\na.mp4\n#EXTINF:4,\na.mp4\n\
             #EXT-X-BYTERANGE:10\n#EXTINF:4,\na.mp4\n",
            "#EXT-X-BYTERANGE:ten@0\n#EXTINF:4,\na.mp4\n",
        ] {
            assert!(is_playlist_error(&media(&with_head(bad))), "{bad:?}");
        }
        // An empty range names the segment.
        match media(&with_head("#EXT-X-BYTERANGE:0@0\n#EXTINF:4,\na.mp4\n")) {
            Err(HlsError::Playlist { url, .. }) => assert!(url.ends_with("/a.mp4"), "{url}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Bounds that depend on more than one tag (found with the `playlist`
    /// fuzz target's invariants).
    #[test]
    fn ranges_and_sequence_numbers_are_bounded_by_the_parser() {
        let limit = MAX_BYTE_OFFSET;
        for bad in [
            // Two ranges before one segment: the second continues the
            // previous segment's, not the first tag's.
            format!(
                "{HEAD}#EXT-X-BYTERANGE:1@{}\n#EXTINF:4,\na.mp4\n\
                 #EXT-X-BYTERANGE:1@0\n#EXT-X-BYTERANGE:{}\n#EXTINF:4,\na.mp4\n",
                limit - 1,
                limit - 1
            ),
            // The last BYTERANGE attribute counts.
            format!(
                "{HEAD}#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"1@0\",BYTERANGE=\"2@{}\"\n\
                 #EXTINF:4,\na.m4s\n",
                limit - 1
            ),
            // The rest of the `#EXTM3U` line is a line of its own.
            format!(
                "#EXTM3U#EXT-X-BYTERANGE:2@{}\n{}#EXTINF:4,\na.ts\n",
                limit - 1,
                &HEAD[8..]
            ),
            format!(
                "#EXTM3U#EXT-X-MEDIA-SEQUENCE:{}\n{}#EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n",
                u64::MAX,
                &HEAD[8..]
            ),
        ] {
            assert!(is_playlist_error(&media(&bad)), "{bad:?}");
        }
        let m = media(&format!(
            "{HEAD}#EXT-X-BYTERANGE:1@{}\n#EXTINF:4,\na.mp4\n",
            limit - 1
        ))
        .unwrap();
        assert_eq!(m.segments.get(0).unwrap().range, Some(limit - 1..limit));
    }

    #[test]
    fn a_late_media_sequence_still_numbers_every_segment() {
        let m = media(&with_head(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:4,\na.ts\n\
             #EXT-X-MEDIA-SEQUENCE:10\n#EXTINF:4,\nb.ts\n",
        ))
        .unwrap();
        assert_eq!(m.sequence(0), 10);
        assert_eq!(m.segment_key(0).unwrap().iv, sequence_iv(10));
        assert_eq!(m.segment_key(1).unwrap().iv, sequence_iv(11));
        assert_eq!(m.keys.len(), 1, "one key, shared");
    }

    #[test]
    fn only_identity_keys_are_used() {
        let fairplay = "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k\",\
                        KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n";
        let identity = "#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n";
        let seg = "#EXTINF:4,\na.ts\n";
        match media(&with_head(&format!("{fairplay}{seg}"))) {
            Err(HlsError::UnsupportedEncryption { url, method }) => {
                assert!(url.ends_with("/a.ts"), "{url}");
                assert!(
                    method.contains("com.apple.streamingkeydelivery"),
                    "{method}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let m = media(&with_head(&format!("{fairplay}{identity}{seg}"))).unwrap();
        assert_eq!(
            m.segment_key(0).unwrap().url.as_str(),
            "https://cdn.example.com/track/v0/k1"
        );
        // NONE ends every key; the identity format may be named or not.
        let m = media(&with_head(&format!(
            "{fairplay}{identity}{seg}#EXT-X-KEY:METHOD=NONE\n{seg}\
             {identity}#EXT-X-KEY:METHOD=AES-128,URI=\"k2\",KEYFORMAT=\"identity\"\n{seg}"
        )))
        .unwrap();
        assert!(m.segment_key(1).is_none());
        assert!(m.segment_key(2).unwrap().url.as_str().ends_with("/k2"));
        for bad in [
            "#EXT-X-KEY:URI=\"k\"\n",
            "#EXT-X-KEY:METHOD=AES-128\n",
            "#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x12\n",
        ] {
            let text = with_head(&format!("{bad}{seg}"));
            assert!(is_playlist_error(&media(&text)), "{bad:?}");
        }
        let unknown = with_head(&format!("#EXT-X-KEY:METHOD=AES-256,URI=\"k\"\n{seg}"));
        assert!(matches!(
            media(&unknown),
            Err(HlsError::UnsupportedEncryption { .. })
        ));
    }

    #[test]
    fn a_map_that_comes_back_is_the_same_init() {
        let m = media(&with_head(
            "#EXT-X-MAP:URI=\"a.mp4\"\n#EXTINF:4,\n1.m4s\n\
             #EXT-X-MAP:URI=\"b.mp4\"\n#EXTINF:4,\n2.m4s\n\
             #EXT-X-MAP:URI=\"a.mp4\"\n#EXTINF:4,\n3.m4s\n#EXTINF:4,\n4.m4s\n",
        ))
        .unwrap();
        assert_eq!(m.inits.len(), 2);
        let inits: Vec<_> = m.segments.iter().map(|s| s.init).collect();
        assert_eq!(inits, [Some(0), Some(1), Some(0), Some(0)]);
        // The last EXT-X-MAP before a segment applies; one never used is not kept.
        let m = media(&with_head(
            "#EXT-X-MAP:URI=\"x.mp4\"\n#EXT-X-MAP:URI=\"a.mp4\"\n#EXTINF:4,\n1.m4s\n",
        ))
        .unwrap();
        assert_eq!(m.inits.len(), 1);
        assert!(m.inits[0].url.as_str().ends_with("/a.mp4"));
        assert!(is_playlist_error(&media(&with_head(
            "#EXT-X-MAP:BYTERANGE=\"1@0\"\n#EXTINF:4,\n1.m4s\n"
        ))));
    }

    #[test]
    fn layout_comments_and_unknown_tags_do_not_matter() {
        let text = "#EXTM3U\r\n\r\n  #EXT-X-VERSION:9 \r\n#EXT-X-TARGETDURATION:4\r\n\
                    # a comment\r\n#EXT-X-UNKNOWN-TAG:A=1\r\n#EXT-X-INDEPENDENT-SEGMENTS\r\n\
                    #EXT-X-PLAYLIST-TYPE:VOD\r\n#EXTINF:4.0,title, with a comma\r\n  seg 1.ts  \r\n\
                    #EXTINF:4\r\n#EXT-X-BITRATE:100\r\nseg2.ts\r\n#EXT-X-ENDLIST\r\n";
        let m = media(text).unwrap();
        assert_eq!(m.segments.len(), 2);
        assert_eq!(
            m.segment_url(0).unwrap().as_str(),
            "https://cdn.example.com/track/v0/seg%201.ts"
        );
        assert!(m.ended);
        for bad in ["#EXT-X-VERSION:x", "#EXT-X-PLAYLIST-TYPE:LIVE"] {
            let text = with_head(&format!("{bad}\n#EXTINF:4,\na.ts\n"));
            assert!(is_playlist_error(&media(&text)), "{bad}");
        }
    }

    #[test]
    fn the_segment_table_is_compact() {
        let body: String = (0..100)
            .map(|i| format!("#EXTINF:4,\nhttps://cdn.example.com/track/v0/seg/{i:05}.ts\n"))
            .collect();
        let m = media(&with_head(&body)).unwrap();
        // Each written URL is 45 bytes; the table keeps a few per segment.
        let per_segment = m.segments.heap_bytes() / 100;
        assert!(per_segment <= 12, "{per_segment} bytes per segment");
        assert_eq!(
            m.segment_url(42).unwrap().as_str(),
            "https://cdn.example.com/track/v0/seg/00042.ts"
        );
    }

    /// What the parser accepts and refuses, each refusal with its reason
    /// (the rules listed at the top of this file).
    #[test]
    fn accepts_and_refuses_with_a_reason() {
        let seg = "#EXTINF:4,\na.ts\n";
        for text in [
            with_head(seg),
            with_head(&format!("{seg}{seg}#EXT-X-ENDLIST\n")),
            with_head(&format!(
                "#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY\n{seg}"
            )),
            with_head(&format!("#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n{seg}")),
            with_head(&format!(
                "#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"10@0\"\n{seg}"
            )),
            with_head(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z\n{seg}"
            )),
            with_head(&format!(
                "#EXT-X-I-FRAMES-ONLY\n#EXT-X-START:TIME-OFFSET=1\n{seg}"
            )),
            // A sequence number the parser does not use: only a number.
            with_head(&format!(
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}\n{seg}{seg}",
                u64::MAX
            )),
        ] {
            assert!(media(&text).is_ok(), "{text:?}: {:?}", media(&text));
        }
        for (text, reason) in [
            (with_head(&format!("{seg}#EXTINF:4,\n")), "has no URI"),
            (
                with_head(&format!("{seg}#EXT-X-KEY:METHOD=NONE\n")),
                "the last segment has no URI",
            ),
            (with_head("a.ts\n"), "has no EXTINF"),
            (
                with_head(&format!("#EXT-X-BYTERANGE:10\n{seg}")),
                "has no offset",
            ),
            (
                with_head(&format!("#EXT-X-BYTERANGE:x\n{seg}")),
                "not <length>[@<offset>]",
            ),
            (
                with_head(&format!("#EXTINF:x,\na.ts\n{seg}")),
                "is not a number",
            ),
            (
                with_head(&format!("#EXTINF:-1,\na.ts\n{seg}")),
                "not between 0 and",
            ),
            (
                with_head(&format!("#EXT-X-MEDIA-SEQUENCE:x\n{seg}")),
                "is not a number",
            ),
            (
                with_head(&format!("{seg}#EXT-X-DISCONTINUITY-SEQUENCE:1\n{seg}")),
                "after a segment",
            ),
            (
                with_head(&format!("#EXT-X-KEY:METHOD=AES-128\n{seg}")),
                "no URI",
            ),
            (
                with_head(&format!("#EXT-X-MAP:BYTERANGE=\"1@0\"\n{seg}")),
                "no URI",
            ),
            (
                with_head(&format!("#EXT-X-MAP:URI=\"\n{seg}")),
                "unterminated quoted string",
            ),
            (
                with_head(&format!(
                    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"\n{seg}"
                )),
                "master playlist tag",
            ),
            (
                with_head(&format!("#EXT-X-PLAYLIST-TYPE:LIVE\n{seg}")),
                "unknown playlist type",
            ),
            (with_head(&format!("#EXT-X-VERSION:x\n{seg}")), "version"),
            (
                with_head(&format!("#EXT-X-DATERANGE:ID=\"x\",DURATION=-1\n{seg}")),
                "EXT-X-DATERANGE DURATION",
            ),
            (format!("#EXTM3U\n{seg}"), "no EXT-X-TARGETDURATION"),
            (
                format!("#EXTM3U\n#EXT-X-TARGETDURATION:86401\n{seg}"),
                "more than 86400 s",
            ),
        ] {
            match media(&text) {
                Err(HlsError::Playlist { url, reason: r }) => {
                    assert_eq!(url, super::tests::url().to_string(), "{text:?}");
                    assert!(r.contains(reason), "{text:?}: {r}");
                }
                other => panic!("{text:?}: unexpected {other:?}"),
            }
        }
    }
}
