//! The bounds on the numbers a playlist may carry, checked over the raw text
//! before either parser builds anything: durations, target duration, byte
//! ranges and sequence numbers.

use url::Url;

use super::parse::bad;
use crate::error::HlsError;

/// The largest `EXT-X-TARGETDURATION` accepted, in seconds (a day).
const MAX_TARGET_DURATION_SECS: u64 = 24 * 60 * 60;
/// The largest `EXTINF` duration accepted, in seconds (a week). Segments may
/// overshoot the target duration by up to this much (real encoders overshoot).
const MAX_SEGMENT_SECS: u64 = 7 * 24 * 60 * 60;
/// The largest byte offset a byte range may end at (1 PiB).
const MAX_BYTE_OFFSET: u64 = 1 << 50;

/// The value of tag `name` (e.g. `#EXTINF:`) on `line`, if the line is that tag.
fn tag_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.strip_prefix(name).map(str::trim)
}

/// `len@offset` or `len` of a byte range, when both numbers are integers.
pub(crate) fn parse_range(text: &str) -> Option<(u64, Option<u64>)> {
    let (len, offset) = match text.split_once('@') {
        Some((l, o)) => (l, Some(o)),
        None => (text, None),
    };
    let len = len.trim().parse().ok()?;
    let offset = match offset {
        Some(o) => Some(o.trim().parse().ok()?),
        None => None,
    };
    Some((len, offset))
}

/// Reject numbers the parser cannot take before it sees them: durations that
/// are negative, not finite or huge, a target duration beyond a day, byte
/// ranges past [`MAX_BYTE_OFFSET`], and a media sequence whose segments'
/// numbers would overflow. Text the checks cannot read is left to the parser,
/// which reports it.
pub(crate) fn check_numbers(url: &Url, text: &str, uri_lines: usize) -> Result<(), HlsError> {
    // The end of the last byte range: where a range without offset starts.
    let mut range_end = 0u64;
    let range_ok =
        |start: u64, len: u64| start.checked_add(len).filter(|end| *end <= MAX_BYTE_OFFSET);
    for line in text.lines().map(str::trim) {
        if let Some(v) = tag_value(line, "#EXTINF:") {
            let secs = v.split(',').next().unwrap_or("").trim();
            if let Ok(d) = secs.parse::<f64>()
                && !(d.is_finite() && (0.0..=MAX_SEGMENT_SECS as f64).contains(&d))
            {
                return Err(bad(
                    url,
                    format!("segment duration {secs:?} is not between 0 and {MAX_SEGMENT_SECS} s"),
                ));
            }
        } else if let Some(v) = tag_value(line, "#EXT-X-TARGETDURATION:") {
            if let Ok(d) = v.parse::<u64>()
                && d > MAX_TARGET_DURATION_SECS
            {
                return Err(bad(
                    url,
                    format!("target duration {d} s is more than {MAX_TARGET_DURATION_SECS} s"),
                ));
            }
        } else if let Some(v) = tag_value(line, "#EXT-X-BYTERANGE:") {
            if let Some((len, offset)) = parse_range(v) {
                match range_ok(offset.unwrap_or(range_end), len) {
                    Some(end) => range_end = end,
                    None => {
                        return Err(bad(
                            url,
                            format!("byte range {v:?} ends past {MAX_BYTE_OFFSET}"),
                        ));
                    }
                }
            }
        } else if let Some(v) = tag_value(line, "#EXT-X-MAP:") {
            let range = v
                .split_once("BYTERANGE=\"")
                .and_then(|(_, rest)| rest.split('"').next())
                .and_then(parse_range);
            if let Some((len, offset)) = range
                && range_ok(offset.unwrap_or(0), len).is_none()
            {
                return Err(bad(
                    url,
                    format!("EXT-X-MAP byte range ends past {MAX_BYTE_OFFSET}"),
                ));
            }
        } else if let Some(v) = tag_value(line, "#EXT-X-MEDIA-SEQUENCE:")
            .or_else(|| tag_value(line, "#EXT-X-DISCONTINUITY-SEQUENCE:"))
            && let Ok(n) = v.parse::<u64>()
        {
            // Segment numbers are `usize` in the parser: sequence + index must fit.
            let last = n.checked_add(uri_lines as u64);
            if last.is_none_or(|l| usize::try_from(l).is_err()) {
                return Err(bad(
                    url,
                    format!("sequence number {n} overflows with {uri_lines} segments"),
                ));
            }
        }
    }
    Ok(())
}
