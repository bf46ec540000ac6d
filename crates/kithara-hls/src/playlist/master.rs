//! The master playlist parser: one pass over the lines, sharing the
//! attribute lists, URL policy and tag readers of the media parser.
//!
//! It keeps the variant streams (`EXT-X-STREAM-INF` and the URI line after
//! it), the renditions (`EXT-X-MEDIA` with a `URI`), the I-frame playlists
//! and the session keys, and records where each URI stands in the text so
//! that a proxy can point it elsewhere ([`super::map::PlaylistMap`]). Tags
//! it does not read are ignored (RFC 8216 §6.3.1), `EXT-X-DATERANGE`
//! included; media-segment tags make the playlist invalid.

use url::Url;

use super::attributes::{attribute, text_attribute};
use super::parse::bad;
use super::resolve::resolve;
use super::spans::{Ref, Spans};
use super::tags::{self, KeyTag};
use super::{MasterPlaylist, RenditionInfo, VariantInfo};
use crate::error::HlsError;

/// Tags of media playlists, which make a master playlist invalid.
const MEDIA_TAGS: [&str; 6] = [
    "#EXTINF:",
    "#EXT-X-TARGETDURATION:",
    "#EXT-X-MEDIA-SEQUENCE:",
    "#EXT-X-BYTERANGE:",
    "#EXT-X-ENDLIST",
    "#EXT-X-MAP:",
];

/// URI-bearing master tags kithara does not serve (their URIs would lead a
/// player past a proxy): a proxy drops these lines.
/// `EXT-X-DEFINE` lines go too: a proxy serves the text substituted
/// (`define.rs`).
const UNSERVED_TAGS: [&str; 3] = [
    "#EXT-X-SESSION-DATA:",
    "#EXT-X-CONTENT-STEERING:",
    "#EXT-X-DEFINE:",
];

/// Parse the master playlist `text` (it starts with `#EXTM3U`) served at
/// `url`, recording URI positions into `spans` when given.
pub(super) fn parse_master_text(
    url: &Url,
    text: &str,
    max_entries: usize,
    mut spans: Option<&mut Spans>,
) -> Result<MasterPlaylist, HlsError> {
    let mut out = MasterPlaylist::default();
    // The attributes of the `EXT-X-STREAM-INF` whose URI line comes next.
    let mut pending: Option<&str> = None;
    let body = text.strip_prefix("#EXTM3U").unwrap_or(text);
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            let attrs = pending
                .take()
                .ok_or_else(|| bad(url, format!("URI line {line:?} without EXT-X-STREAM-INF")))?;
            if out.variants.len() >= max_entries {
                return Err(bad(url, format!("more than {max_entries} variants")));
            }
            let index = out.variants.len();
            out.variants.push(variant(url, index, attrs, line)?);
            record(&mut spans, text, line, Ref::Variant(index))?;
            continue;
        }
        if pending.is_some() {
            return Err(bad(url, "EXT-X-STREAM-INF is not followed by a URI line"));
        }
        let tag = |name: &str| line.strip_prefix(name).map(str::trim);
        if let Some(v) = tag("#EXT-X-STREAM-INF:") {
            pending = Some(v);
        } else if let Some(v) = tag("#EXT-X-MEDIA:") {
            let Some(uri) = text_attribute(v, "URI").map_err(|e| bad(url, e))? else {
                continue; // closed captions, or a rendition inside the variant
            };
            if out.renditions.len() >= max_entries {
                return Err(bad(url, format!("more than {max_entries} renditions")));
            }
            let index = out.renditions.len();
            out.renditions.push(rendition(url, index, v, uri)?);
            record(&mut spans, text, uri, Ref::Rendition(index))?;
        } else if let Some(v) = tag("#EXT-X-I-FRAME-STREAM-INF:") {
            let uri = text_attribute(v, "URI")
                .map_err(|e| bad(url, e))?
                .ok_or_else(|| bad(url, "EXT-X-I-FRAME-STREAM-INF has no URI"))?;
            if out.iframes.len() >= max_entries {
                return Err(bad(
                    url,
                    format!("more than {max_entries} I-frame playlists"),
                ));
            }
            out.iframes.push(resolve(url, uri)?);
            record(&mut spans, text, uri, Ref::IFrame(out.iframes.len() - 1))?;
        } else if let Some(v) = tag("#EXT-X-SESSION-KEY:") {
            if let KeyTag::Key(k) = tags::key_tag(v).map_err(|e| bad(url, e))?
                && k.is_identity()
                && let Some(spans) = spans.as_deref_mut()
                && let Ok(key_url) = resolve(url, k.uri)
            {
                spans.key(text, k.uri, key_url)?;
            }
        } else if UNSERVED_TAGS.iter().any(|t| line.starts_with(t)) {
            record(&mut spans, text, line, Ref::DropLine)?;
        } else if MEDIA_TAGS.iter().any(|t| line.starts_with(t)) {
            return Err(bad(
                url,
                format!("media playlist tag in a master playlist: {line:?}"),
            ));
        }
        // Any other tag: RFC 8216 6.3.1, ignore unrecognised tags.
    }
    if pending.is_some() {
        return Err(bad(url, "EXT-X-STREAM-INF is not followed by a URI line"));
    }
    if out.variants.is_empty() {
        return Err(bad(url, "master playlist has no variant stream"));
    }
    Ok(out)
}

fn record(
    spans: &mut Option<&mut Spans>,
    text: &str,
    uri: &str,
    what: Ref,
) -> Result<(), HlsError> {
    if let Some(spans) = spans {
        spans.push(text, uri, what)?;
    }
    Ok(())
}

/// One `EXT-X-STREAM-INF` and its URI line.
fn variant(url: &Url, index: usize, attrs: &str, uri: &str) -> Result<VariantInfo, HlsError> {
    let bandwidth = attribute(attrs, "BANDWIDTH")
        .ok_or_else(|| bad(url, "EXT-X-STREAM-INF has no BANDWIDTH"))?;
    let bandwidth = bandwidth.parse().map_err(|_| {
        bad(
            url,
            format!("BANDWIDTH {bandwidth:?} is not a whole number"),
        )
    })?;
    let text = |name| text_of(url, attrs, name);
    Ok(VariantInfo {
        index,
        url: resolve(url, uri)?,
        bandwidth,
        codecs: text("CODECS")?,
        audio: text("AUDIO")?,
        subtitles: text("SUBTITLES")?,
        resolution: text("RESOLUTION")?,
    })
}

/// One `EXT-X-MEDIA` with a `URI`.
fn rendition(url: &Url, index: usize, attrs: &str, uri: &str) -> Result<RenditionInfo, HlsError> {
    let text = |name| text_of(url, attrs, name);
    let kind = text("TYPE")?.ok_or_else(|| bad(url, "EXT-X-MEDIA has no TYPE"))?;
    let group = text("GROUP-ID")?.ok_or_else(|| bad(url, "EXT-X-MEDIA has no GROUP-ID"))?;
    let name = text("NAME")?.ok_or_else(|| bad(url, "EXT-X-MEDIA has no NAME"))?;
    Ok(RenditionInfo {
        index,
        url: resolve(url, uri)?,
        kind,
        group,
        name,
        language: text("LANGUAGE")?,
        default: text("DEFAULT")?.is_some_and(|d| d == "YES"),
    })
}

/// The text of attribute `name` of `attrs`, unquoted (see
/// [`text_attribute`]); errors name the playlist at `url`.
fn text_of(url: &Url, attrs: &str, name: &str) -> Result<Option<String>, HlsError> {
    text_attribute(attrs, name)
        .map(|v| v.map(str::to_owned))
        .map_err(|e| bad(url, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://cdn.example.com/track/master.m3u8").unwrap()
    }

    fn parse(text: &str) -> Result<MasterPlaylist, HlsError> {
        parse_master_text(&url(), text, 100, None)
    }

    #[test]
    fn variants_renditions_and_iframes() {
        let m = parse(
            "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,URI=\"audio/en.m3u8\"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc1\",INSTREAM-ID=\"CC1\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"sub\",NAME=\"Deutsch\",URI=\"../subs/de.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2,avc1.4d401e\",AUDIO=\"aud\",RESOLUTION=640x360
low/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI=\"low/iframes.m3u8\"
#EXT-X-FUTURE-TAG:X=1
#EXT-X-STREAM-INF:BANDWIDTH=256000
https://other.example.com/high/index.m3u8
",
        )
        .unwrap();
        assert_eq!(m.variants.len(), 2);
        assert_eq!(
            m.variants[0].codecs.as_deref(),
            Some("mp4a.40.2,avc1.4d401e")
        );
        assert_eq!(m.variants[0].audio.as_deref(), Some("aud"));
        assert_eq!(m.variants[0].resolution.as_deref(), Some("640x360"));
        assert_eq!(m.variants[1].index, 1);
        assert_eq!(
            m.variants[1].url.as_str(),
            "https://other.example.com/high/index.m3u8"
        );
        assert_eq!(m.renditions.len(), 2);
        assert_eq!(m.renditions[0].kind, "AUDIO");
        assert_eq!(m.renditions[0].language.as_deref(), Some("en"));
        assert!(m.renditions[0].default);
        assert_eq!(
            m.renditions[1].url.as_str(),
            "https://cdn.example.com/subs/de.m3u8"
        );
        assert!(!m.renditions[1].default);
        assert_eq!(
            m.iframes[0].as_str(),
            "https://cdn.example.com/track/low/iframes.m3u8"
        );
    }

    #[test]
    fn malformed_masters_are_refused() {
        for text in [
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-FOO\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"x\"\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=x\nlow.m3u8\n",
            "#EXTM3U\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"a.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n#EXTINF:4,\n",
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\",URI=\"file:///etc/passwd\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
