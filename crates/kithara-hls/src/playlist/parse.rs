//! The entry points: tell the two kinds of playlist apart and hand the text
//! to [`super::master`] or [`super::media`].

use url::Url;

use super::define::substitute;
use super::master::parse_master_text;
use super::media::parse_media_text;
use super::spans::Spans;
use super::{MediaPlaylist, Playlist};
use crate::error::HlsError;

/// A [`HlsError::Playlist`] naming the playlist (or resource) at `url`.
pub(super) fn bad(url: &Url, reason: impl Into<String>) -> HlsError {
    HlsError::Playlist {
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// The playlist text of `body`: UTF-8, without a byte-order mark or leading
/// white space, starting with `#EXTM3U`.
pub(super) fn text<'a>(url: &Url, body: &'a [u8]) -> Result<&'a str, HlsError> {
    let text = std::str::from_utf8(body).map_err(|_| bad(url, "not UTF-8 text"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.trim_start().starts_with("#EXTM3U") {
        return Err(bad(url, "does not start with #EXTM3U"));
    }
    Ok(text.trim_start())
}

fn is_master(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("#EXT-X-STREAM-INF") || l.starts_with("#EXT-X-I-FRAME-STREAM-INF")
    })
}

/// Parse either kind of playlist served at `url` (its final URL after
/// redirects), its variables substituted (`imports`: the master playlist's,
/// for a media playlist's `EXT-X-DEFINE:IMPORT`).
pub(crate) fn parse_playlist(
    url: &Url,
    body: &[u8],
    max_entries: usize,
    imports: &[(String, String)],
) -> Result<Playlist, HlsError> {
    let (text, vars) = substitute(url, text(url, body)?, imports)?;
    let mut playlist = parse_text(url, &text, max_entries, None)?;
    if let Playlist::Master(master) = &mut playlist {
        master.defines = vars;
    }
    Ok(playlist)
}

/// Parse the playlist `text` (see [`text`]), recording URI spans if asked.
pub(super) fn parse_text(
    url: &Url,
    text: &str,
    max_entries: usize,
    spans: Option<&mut Spans>,
) -> Result<Playlist, HlsError> {
    if is_master(text) {
        parse_master_text(url, text, max_entries, spans).map(Playlist::Master)
    } else {
        parse_media_text(url, text, max_entries, spans).map(Playlist::Media)
    }
}

/// Parse a playlist that must be a media playlist.
pub(crate) fn parse_media(
    url: &Url,
    body: &[u8],
    max_entries: usize,
    imports: &[(String, String)],
) -> Result<MediaPlaylist, HlsError> {
    match parse_playlist(url, body, max_entries, imports)? {
        Playlist::Media(m) => Ok(m),
        Playlist::Master(_) => Err(bad(
            url,
            "expected a media playlist, found a master playlist",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sequence_iv;

    fn url() -> Url {
        Url::parse("https://cdn.example.com/track/master.m3u8").unwrap()
    }

    fn media(text: &str) -> Result<MediaPlaylist, HlsError> {
        parse_media(&url(), text.as_bytes(), 1000, &[])
    }

    const MASTER: &str = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=256000
https://other.example.com/high/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI=\"iframes.m3u8\"
";

    #[test]
    fn master_variants_are_resolved_in_order() {
        let Playlist::Master(m) = parse_playlist(&url(), MASTER.as_bytes(), 10, &[]).unwrap()
        else {
            panic!("expected master");
        };
        let v = m.variants;
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].index, 0);
        assert_eq!(v[0].bandwidth, 128000);
        assert_eq!(v[0].codecs.as_deref(), Some("mp4a.40.2"));
        assert_eq!(
            v[0].url.as_str(),
            "https://cdn.example.com/track/low/index.m3u8"
        );
        assert_eq!(
            v[1].url.as_str(),
            "https://other.example.com/high/index.m3u8"
        );
        let err = parse_playlist(&url(), MASTER.as_bytes(), 1, &[]).unwrap_err();
        assert!(matches!(err, HlsError::Playlist { .. }), "{err}");
    }

    #[test]
    fn master_with_file_variant_is_rejected() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nfile:///etc/passwd\n";
        assert!(matches!(
            parse_playlist(&url(), text.as_bytes(), 10, &[]),
            Err(HlsError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn plain_media_playlist() {
        let m = media(
            "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:7
#EXTINF:4.0,
seg7.ts
#EXTINF:4.5,
/abs/seg8.aac
#EXT-X-ENDLIST
",
        )
        .unwrap();
        assert!(m.ended);
        assert_eq!(m.segments.len(), 2);
        assert_eq!(m.sequence(0), 7);
        assert_eq!(m.sequence(1), 8);
        assert_eq!(
            m.segment_url(0).unwrap().as_str(),
            "https://cdn.example.com/track/seg7.ts"
        );
        assert_eq!(
            m.segment_url(1).unwrap().as_str(),
            "https://cdn.example.com/abs/seg8.aac"
        );
        assert!(
            m.segments
                .iter()
                .all(|s| s.key.is_none() && s.range.is_none() && s.init.is_none())
        );
    }

    #[test]
    fn keys_carry_forward_with_sequence_or_explicit_iv() {
        let m = media(
            "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:3
#EXTINF:4,
clear.ts
#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.bin\"
#EXTINF:4,
sub/dir/a.ts
#EXTINF:4,
b.ts
#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k2\",IV=0x000102030405060708090a0b0c0d0e0f
#EXTINF:4,
c.ts
#EXT-X-KEY:METHOD=NONE
#EXTINF:4,
d.ts
#EXT-X-ENDLIST
",
        )
        .unwrap();
        let key = |i| m.segment_key(i);
        assert!(key(0).is_none());
        let k1 = key(1).unwrap();
        assert_eq!(k1.url.as_str(), "https://cdn.example.com/track/keys/k1.bin");
        assert_eq!(k1.iv, sequence_iv(4));
        let k1b = key(2).unwrap();
        assert_eq!(k1b.url, k1.url);
        assert_eq!(k1b.iv, sequence_iv(5));
        let k2 = key(3).unwrap();
        assert_eq!(k2.url.as_str(), "https://keys.example/k2");
        assert_eq!(k2.iv, core::array::from_fn::<u8, 16, _>(|i| i as u8));
        assert!(key(4).is_none());
    }

    #[test]
    fn byte_ranges_with_and_without_offsets() {
        let m = media(
            "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI=\"all.mp4\",BYTERANGE=\"100@0\"
#EXT-X-BYTERANGE:500@100
#EXTINF:4,
all.mp4
#EXT-X-BYTERANGE:300
#EXTINF:4,
all.mp4
#EXT-X-BYTERANGE:200@2000
#EXTINF:4,
all.mp4
#EXT-X-ENDLIST
",
        )
        .unwrap();
        assert_eq!(m.inits.len(), 1);
        assert_eq!(m.inits[0].range, Some(0..100));
        let r: Vec<_> = m
            .segments
            .iter()
            .map(|s| s.range.clone().unwrap())
            .collect();
        assert_eq!(r, vec![100..600, 600..900, 2000..2200]);
        assert!(m.segments.iter().all(|s| s.init == Some(0)));
    }

    #[test]
    fn maps_are_shared_until_replaced() {
        let m = media(
            "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI=\"init0.mp4\"
#EXTINF:4,
s0.m4s
#EXTINF:4,
s1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"init1.mp4\"
#EXTINF:4,
s2.m4s
#EXT-X-ENDLIST
",
        )
        .unwrap();
        assert_eq!(m.inits.len(), 2);
        let inits: Vec<_> = m.segments.iter().map(|s| s.init).collect();
        assert_eq!(inits, vec![Some(0), Some(0), Some(1)]);
    }

    #[test]
    fn encrypted_map_needs_an_explicit_iv() {
        let text = "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-KEY:METHOD=AES-128,URI=\"k\"
#EXT-X-MAP:URI=\"init.mp4\"
#EXTINF:4,
s0.m4s
#EXT-X-ENDLIST
";
        assert!(matches!(media(text), Err(HlsError::Playlist { .. })));
        let with_iv = text.replace(
            "URI=\"k\"",
            "URI=\"k\",IV=0x00000000000000000000000000000001",
        );
        let m = media(&with_iv).unwrap();
        assert!(m.inits[0].key.is_some());
    }

    #[test]
    fn segments_longer_than_target_duration_are_accepted() {
        let m = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:9.5,\na.ts\n#EXT-X-ENDLIST\n");
        assert_eq!(m.unwrap().segments.len(), 1);
    }

    #[test]
    fn local_or_foreign_uris_are_rejected() {
        for bad in [
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"file:///tmp/k\"\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"file:///tmp/i.mp4\"\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n",
        ] {
            assert!(
                matches!(media(bad), Err(HlsError::UnsupportedScheme { ref url }) if url.starts_with("file:")),
                "{bad}"
            );
        }
    }

    /// Numbers past their bounds, each with the reason the parser gives.
    const OUT_OF_BOUNDS: [(&str, &str); 5] = [
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:-1,\na.ts\n#EXT-X-ENDLIST\n",
            "segment duration \"-1\" is not between 0 and 604800 s",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:NaN,\na.ts\n#EXT-X-ENDLIST\n",
            "segment duration \"NaN\" is not between 0 and 604800 s",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:18446744073709551615\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n",
            "target duration 18446744073709551615 s is more than 86400 s",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-BYTERANGE:18446744073709551615@5\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n",
            "byte range \"18446744073709551615@5\" ends past 1125899906842624",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n#EXT-X-ENDLIST\n",
            "media sequence 18446744073709551615 overflows with 2 segments",
        ),
    ];

    #[test]
    fn numbers_out_of_bounds_are_playlist_errors_that_say_why() {
        for (text, why) in OUT_OF_BOUNDS {
            match media(text) {
                Err(HlsError::Playlist { url, reason }) => {
                    assert_eq!(url, super::tests::url().to_string());
                    assert_eq!(reason, why, "{text:?}");
                }
                other => panic!("{text:?}: unexpected {other:?}"),
            }
        }
    }

    /// A master parser reads no segment: a media-playlist tag (`EXTINF`,
    /// `EXT-X-TARGETDURATION`, `EXT-X-BYTERANGE`, `EXT-X-MAP`, ...) in a
    /// master playlist is refused as such, whatever its number.
    #[test]
    fn media_playlist_tags_in_a_master_are_refused() {
        let tails = OUT_OF_BOUNDS.map(|(text, _)| text.trim_end_matches("#EXT-X-ENDLIST\n"));
        let maps = [
            "#EXTM3U\n#EXT-X-MAP:URI=\"i\",BYTERANGE=\"1@0\",BYTERANGE=\"18446744073709551615@5\"\n",
            "#EXTM3U\n#EXT-X-MAP:URI=\"i\", BYTERANGE = \"18446744073709551615@5\"\n",
        ];
        for text in tails.iter().chain(&maps) {
            let body = text.replacen(
                "#EXTM3U\n",
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
                1,
            );
            match parse_playlist(&url(), body.as_bytes(), 1000, &[]) {
                Err(HlsError::Playlist { reason, .. }) => assert!(
                    reason.starts_with("media playlist tag in a master playlist"),
                    "{body:?}: {reason}"
                ),
                other => panic!("{body:?}: unexpected {other:?}"),
            }
        }
    }

    /// RFC 8216 §6.3.1: a master parser ignores what it does not read.
    /// `EXT-X-DATERANGE` (whatever its durations or quotes) and an
    /// `EXT-X-MEDIA` without `URI` (nothing to fetch) leave the variants
    /// as they are; even on the `#EXTM3U` line, which is read as a line.
    #[test]
    fn a_master_ignores_the_tags_it_does_not_read() {
        let head = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n";
        let texts = [
            "#EXT-X-DATERANGE:ID=\"x\",DURATION=-1\n",
            "#EXT-X-DATERANGE:ID=\"x\",PLANNED-DURATION=1e300\n",
            "#EXT-X-DATERANGE:ID=\"x\",A\",B=\"\",PLANNED-DURATION=NaN\n",
            "#EXT-X-DATERANGE:ID=\"\n",
            "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"a\",NAME= \"\n",
        ]
        .map(|tail| format!("{head}{tail}"));
        let first_line =
            "#EXTM3U#EXT-X-DATERANGE:DURATION=-1\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n";
        for text in texts.iter().map(String::as_str).chain([first_line]) {
            match parse_playlist(&url(), text.as_bytes(), 10, &[]) {
                Ok(Playlist::Master(m)) => {
                    assert_eq!(m.variants.len(), 1, "{text:?}");
                    assert_eq!(m.variants[0].bandwidth, 1);
                    assert_eq!(
                        m.variants[0].url.as_str(),
                        "https://cdn.example.com/track/low.m3u8"
                    );
                    assert!(m.renditions.is_empty());
                }
                other => panic!("{text:?}: unexpected {other:?}"),
            }
        }
    }

    /// What a master parser reads must be well formed: a quoted string it
    /// reads is terminated.
    #[test]
    fn a_master_refuses_an_unterminated_quoted_string_it_reads() {
        for text in [
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO= \"\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"mp4a\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\",URI=\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
            "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n",
        ] {
            match parse_playlist(&url(), text.as_bytes(), 10, &[]) {
                Err(HlsError::Playlist { reason, .. }) => {
                    assert!(
                        reason.contains("unterminated quoted string"),
                        "{text:?}: {reason}"
                    );
                }
                other => panic!("{text:?}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn a_daterange_duration_out_of_bounds_refuses_a_media_playlist() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n\
            #EXT-X-DATERANGE:ID=\"x\",START-DATE=\"2020-01-01T00:00:00Z\",DURATION=-1\n\
            #EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n";
        match media(text) {
            Err(HlsError::Playlist { reason, .. }) => {
                assert!(
                    reason.starts_with("EXT-X-DATERANGE DURATION \"-1\""),
                    "{reason}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn sane_numbers_still_parse() {
        let m = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:86400\n#EXT-X-MEDIA-SEQUENCE:4294967296\n\
             #EXT-X-BYTERANGE:1000@1099511627776\n#EXTINF:0,\na.ts\n\
             #EXT-X-BYTERANGE:1000\n#EXTINF:86400.5,\na.ts\n#EXT-X-ENDLIST\n",
        )
        .unwrap();
        assert_eq!(m.sequence(1), 4294967297);
        assert_eq!(
            m.segments.get(1).unwrap().range,
            Some(1099511628776..1099511629776)
        );
    }

    #[test]
    fn malformed_and_unsupported_input() {
        for bad in [
            "",
            "hello",
            "<html></html>",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-ENDLIST\n",
            "#EXTM3U\n#EXTINF:4,\na.ts\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:x\n#EXTINF:4,\na.ts\n",
        ] {
            assert!(
                matches!(media(bad), Err(HlsError::Playlist { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_playlist(&url(), &[0xff, 0xfe, 0x00], 10, &[]),
            Err(HlsError::Playlist { .. })
        ));
        let sample_aes = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k\"\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n";
        assert!(matches!(
            media(sample_aes),
            Err(HlsError::UnsupportedEncryption { .. })
        ));
        let many: String = std::iter::once("#EXTM3U\n#EXT-X-TARGETDURATION:4\n".to_owned())
            .chain((0..5).map(|i| format!("#EXTINF:4,\ns{i}.ts\n")))
            .collect();
        assert!(parse_media(&url(), many.as_bytes(), 5, &[]).is_ok());
        assert!(matches!(
            parse_media(&url(), many.as_bytes(), 4, &[]),
            Err(HlsError::Playlist { .. })
        ));
        assert!(matches!(
            parse_media(&url(), MASTER.as_bytes(), 10, &[]),
            Err(HlsError::Playlist { .. })
        ));
    }
}
