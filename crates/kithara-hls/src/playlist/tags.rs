//! The values of the media-playlist tags kithara reads or must validate,
//! parsed from the text after `#TAG:` into small borrowed values, each
//! number checked against its bound where it is read. Errors are the reason
//! only; the caller names the playlist.

use std::time::Duration;

use super::attributes::{attribute, attributes, text_attribute};

/// The largest `EXT-X-TARGETDURATION` accepted, in seconds (a day).
const MAX_TARGET_DURATION_SECS: u64 = 24 * 60 * 60;
/// The largest `EXTINF` duration accepted, in seconds (a week). Segments may
/// overshoot the target duration by up to this much (real encoders
/// overshoot); in milliseconds it fits the `u32` a segment keeps.
const MAX_SEGMENT_SECS: u64 = 7 * 24 * 60 * 60;
/// The largest byte offset a byte range may end at (1 PiB).
pub(crate) const MAX_BYTE_OFFSET: u64 = 1 << 50;

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

/// `EXT-X-BYTERANGE:<len>[@<offset>]` (or an `EXT-X-MAP` `BYTERANGE`).
/// A range with an offset must end at or before [`MAX_BYTE_OFFSET`]; one
/// without continues the previous segment's, and the parser checks its end
/// once it knows where it starts.
pub(crate) fn byte_range(value: &str) -> Result<ByteRange, String> {
    let (len, offset) = match value.split_once('@') {
        Some((l, o)) => (l, Some(o)),
        None => (value, None),
    };
    let number = |n: &str| n.trim().parse::<u64>().ok();
    let offset = match offset {
        Some(o) => number(o).map(Some),
        None => Some(None),
    };
    let (Some(len), Some(offset)) = (number(len), offset) else {
        return Err(format!("byte range {value:?} is not <length>[@<offset>]"));
    };
    let end = offset.unwrap_or(0).checked_add(len);
    if end.is_none_or(|end| end > MAX_BYTE_OFFSET) {
        return Err(format!("byte range {value:?} ends past {MAX_BYTE_OFFSET}"));
    }
    Ok(ByteRange { len, offset })
}

/// `EXTINF:<duration>,[<title>]`: the duration in whole milliseconds, a
/// finite number of seconds from 0 to a week.
pub(crate) fn extinf(value: &str) -> Result<u32, String> {
    let secs = value.split(',').next().unwrap_or("").trim();
    let s = secs
        .parse::<f64>()
        .map_err(|_| format!("segment duration {secs:?} is not a number"))?;
    if !(s.is_finite() && (0.0..=MAX_SEGMENT_SECS as f64).contains(&s)) {
        return Err(format!(
            "segment duration {secs:?} is not between 0 and {MAX_SEGMENT_SECS} s"
        ));
    }
    // At most 604,800,000: no rounding can leave the `u32`.
    Ok((s * 1000.0).round() as u32)
}

/// `EXT-X-TARGETDURATION:<s>`: a whole number of seconds, at most a day.
pub(crate) fn target_duration(value: &str) -> Result<u64, String> {
    let secs = value
        .parse::<u64>()
        .map_err(|_| format!("target duration {value:?} is not a whole number"))?;
    if secs > MAX_TARGET_DURATION_SECS {
        return Err(format!(
            "target duration {secs} s is more than {MAX_TARGET_DURATION_SECS} s"
        ));
    }
    Ok(secs)
}

/// `EXT-X-KEY:<attribute-list>`.
pub(crate) fn key_tag(value: &str) -> Result<KeyTag<'_>, String> {
    let method = attribute(value, "METHOD").ok_or("EXT-X-KEY has no METHOD")?;
    if method == "NONE" {
        return Ok(KeyTag::None);
    }
    let uri = text_attribute(value, "URI")?
        .filter(|u| !u.trim().is_empty())
        .ok_or("EXT-X-KEY has no URI")?;
    let iv = attribute(value, "IV").map(iv).transpose()?;
    let format = text_attribute(value, "KEYFORMAT")?;
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
    let uri = text_attribute(value, "URI")?.ok_or("EXT-X-MAP has no URI")?;
    let range = text_attribute(value, "BYTERANGE")?
        .map(byte_range)
        .transpose()?;
    Ok(MapTag { uri, range })
}

/// `EXT-X-DATERANGE:<attribute-list>` (media playlists): nothing of it is
/// kept, but a duration that is not a non-negative number of seconds a
/// `Duration` can hold (below 2^64) makes the playlist invalid.
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
            "METHOD=AES-128,URI=\"",
            "METHOD=AES-128,URI=\"k\",KEYFORMAT=\"identity",
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
        assert!(map_tag("URI=\"i.mp4\",BYTERANGE=\"10@0").is_err());
    }

    /// Each number is bounded where it is read: a range with an offset
    /// ends at or before `MAX_BYTE_OFFSET` (without an offset, the parser
    /// checks it once it knows the start).
    #[test]
    fn byte_ranges_end_within_the_bound() {
        let last = MAX_BYTE_OFFSET - 1;
        assert!(byte_range(&format!("1@{last}")).is_ok());
        assert!(byte_range(&MAX_BYTE_OFFSET.to_string()).is_ok());
        for bad in [
            format!("2@{last}"),
            format!("{}", MAX_BYTE_OFFSET + 1),
            format!("{}@5", u64::MAX),
            format!("5@{}", u64::MAX),
        ] {
            let err = byte_range(&bad).unwrap_err();
            assert!(err.contains("ends past"), "{bad}: {err}");
        }
        let err = map_tag(&format!("URI=\"i\",BYTERANGE=\"{}@5\"", u64::MAX)).unwrap_err();
        assert!(err.contains("ends past"), "{err}");
    }

    #[test]
    fn segment_and_target_durations_are_bounded() {
        assert_eq!(extinf("0"), Ok(0));
        assert_eq!(extinf("604800"), Ok(604_800_000));
        assert_eq!(extinf("4.5,x"), Ok(4500));
        for bad in ["-1", "-0.5", "NaN", "inf", "604800.5", "1e300"] {
            let err = extinf(bad).unwrap_err();
            assert!(err.contains("not between 0 and 604800 s"), "{bad}: {err}");
        }
        assert_eq!(target_duration("86400"), Ok(86400));
        for bad in ["86401", "18446744073709551615"] {
            let err = target_duration(bad).unwrap_err();
            assert!(err.contains("more than 86400 s"), "{bad}: {err}");
        }
        for bad in ["x", "4.5", "-1", "", "18446744073709551616"] {
            assert!(target_duration(bad).is_err(), "{bad}");
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
