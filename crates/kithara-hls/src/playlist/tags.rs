//! The values of the media-playlist tags kithara reads or must validate,
//! parsed from the text after `#TAG:` into small borrowed values. Errors are
//! the reason only; the caller names the playlist.

use std::time::Duration;

use super::attributes::{attribute, attributes, unquote};
use super::numbers::parse_range;

/// An `EXT-X-BYTERANGE` (or `EXT-X-MAP` `BYTERANGE`): `len[@offset]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub len: u64,
    /// Where the range starts; `None` continues the previous sub-range.
    pub offset: Option<u64>,
}

/// One `EXT-X-KEY` tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyTag<'a> {
    /// `METHOD=NONE`: every key so far stops applying.
    None,
    /// A key for the segments (and `EXT-X-MAP`s) that follow.
    Key(KeyAttrs<'a>),
}

/// The attributes of an `EXT-X-KEY` other than `METHOD=NONE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyAttrs<'a> {
    /// `METHOD` as written (only `AES-128` can be played).
    pub method: &'a str,
    /// `URI`, unquoted, not resolved.
    pub uri: &'a str,
    /// `IV`, when given.
    pub iv: Option<[u8; 16]>,
    /// `KEYFORMAT`, unquoted, when given.
    pub format: Option<&'a str>,
}

impl KeyAttrs<'_> {
    /// Whether the key is in the `identity` format (the default), the only one
    /// a client without a DRM system can use.
    pub(crate) fn is_identity(&self) -> bool {
        matches!(self.format, None | Some("identity"))
    }
}

/// One `EXT-X-MAP` tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapTag<'a> {
    /// `URI`, unquoted, not resolved.
    pub uri: &'a str,
    pub range: Option<ByteRange>,
}

/// `EXT-X-BYTERANGE:<len>[@<offset>]`.
pub(crate) fn byte_range(value: &str) -> Result<ByteRange, String> {
    parse_range(value)
        .map(|(len, offset)| ByteRange { len, offset })
        .ok_or_else(|| format!("byte range {value:?} is not <length>[@<offset>]"))
}

/// `EXTINF:<duration>,[<title>]`: the duration in whole milliseconds (the
/// number's bounds, at most a week, are checked with the other numbers;
/// what is outside them is clamped here).
pub(crate) fn extinf(value: &str) -> Result<u32, String> {
    let secs = value.split(',').next().unwrap_or("").trim();
    secs.parse::<f64>()
        // `as` saturates: NaN is 0, a huge value u32::MAX.
        .map(|s| (s * 1000.0).round() as u32)
        .map_err(|_| format!("segment duration {secs:?} is not a number"))
}

/// `EXT-X-KEY:<attribute-list>`.
pub(crate) fn key_tag(value: &str) -> Result<KeyTag<'_>, String> {
    let method = attribute(value, "METHOD").ok_or("EXT-X-KEY has no METHOD")?;
    if method == "NONE" {
        return Ok(KeyTag::None);
    }
    let uri = attribute(value, "URI")
        .map(unquote)
        .filter(|u| !u.trim().is_empty())
        .ok_or("EXT-X-KEY has no URI")?;
    let iv = attribute(value, "IV").map(iv).transpose()?;
    let format = attribute(value, "KEYFORMAT").map(unquote);
    Ok(KeyTag::Key(KeyAttrs {
        method,
        uri,
        iv,
        format,
    }))
}

/// `IV=0x<32 hex digits>`.
fn iv(value: &str) -> Result<[u8; 16], String> {
    let bad = || format!("IV {value:?} is not 0x and 32 hex digits");
    let digits = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .ok_or_else(bad)?;
    let mut out = [0u8; 16];
    hex::decode_to_slice(digits, &mut out).map_err(|_| bad())?;
    Ok(out)
}

/// `EXT-X-MAP:URI="...",BYTERANGE="<len>[@<offset>]"`.
pub(crate) fn map_tag(value: &str) -> Result<MapTag<'_>, String> {
    let uri = attribute(value, "URI")
        .map(unquote)
        .ok_or("EXT-X-MAP has no URI")?;
    let range = attribute(value, "BYTERANGE")
        .map(|r| byte_range(unquote(r)))
        .transpose()?;
    Ok(MapTag { uri, range })
}

/// `EXT-X-DATERANGE:<attribute-list>`: nothing of it is kept, but a duration
/// that is not a non-negative number of seconds a `Duration` can hold (below
/// 2^64) makes the playlist invalid. `hls_m3u8` panics on those
/// (`Duration::from_secs_f64`), so the master path checks this too.
pub(crate) fn date_range(value: &str) -> Result<(), String> {
    for (name, v) in attributes(value) {
        if matches!(name, "DURATION" | "PLANNED-DURATION")
            && !v
                .parse::<f64>()
                .is_ok_and(|d| Duration::try_from_secs_f64(d).is_ok())
        {
            return Err(format!(
                "EXT-X-DATERANGE {name} {v:?} is not a non-negative number of seconds below 2^64"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(key_tag("METHOD=NONE"), Ok(KeyTag::None));
        let KeyTag::Key(k) = key_tag(
            "METHOD=AES-128,URI=\"k,1.bin\",IV=0X000102030405060708090a0b0c0d0e0f,KEYFORMAT=\"identity\"",
        )
        .unwrap() else {
            panic!("expected a key");
        };
        assert_eq!(k.method, "AES-128");
        assert_eq!(k.uri, "k,1.bin");
        assert_eq!(k.iv, Some(core::array::from_fn(|i| i as u8)));
        assert!(k.is_identity());
        let KeyTag::Key(fp) = key_tag(
            "METHOD=SAMPLE-AES,URI=\"skd://x\",KEYFORMAT=\"com.apple.streamingkeydelivery\"",
        )
        .unwrap() else {
            panic!("expected a key");
        };
        assert!(!fp.is_identity());
        assert_eq!(fp.iv, None);
        for bad in [
            "URI=\"k\"",
            "METHOD=AES-128",
            "METHOD=AES-128,URI=\"\"",
            "METHOD=AES-128,URI=\"k\",IV=0x0001",
            "METHOD=AES-128,URI=\"k\",IV=000102030405060708090a0b0c0d0e0f",
            "METHOD=AES-128,URI=\"k\",IV=0x000102030405060708090a0b0c0d0eXX",
        ] {
            assert!(key_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn maps_and_ranges() {
        assert_eq!(
            map_tag("URI=\"init.mp4\",BYTERANGE=\"100@20\""),
            Ok(MapTag {
                uri: "init.mp4",
                range: Some(ByteRange {
                    len: 100,
                    offset: Some(20)
                }),
            })
        );
        assert_eq!(map_tag("URI=\"i.mp4\"").unwrap().range, None);
        assert!(map_tag("BYTERANGE=\"1@0\"").is_err());
        assert!(map_tag("URI=\"i.mp4\",BYTERANGE=\"x\"").is_err());
        assert_eq!(
            byte_range("300"),
            Ok(ByteRange {
                len: 300,
                offset: None
            })
        );
        for bad in ["", "-1", "1@", "a@1", "1@-2", "1.5"] {
            assert!(byte_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert!(extinf("4").is_ok());
        assert!(extinf("4.5,title, with comma").is_ok());
        assert!(extinf("x,").is_err());
        assert!(extinf(",").is_err());
        assert!(date_range("ID=\"a\",START-DATE=\"2020-01-01T00:00:00Z\",DURATION=3.5").is_ok());
        for bad in [
            "DURATION=-1",
            "PLANNED-DURATION=NaN",
            "DURATION=inf",
            "DURATION=1e20",
            "PLANNED-DURATION=-0.5",
            "DURATION=x",
        ] {
            assert!(date_range(bad).is_err(), "{bad}");
        }
    }
}
