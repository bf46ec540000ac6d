//! The bounds on the numbers a playlist may carry, checked over the raw text
//! before either parser builds anything: durations (segment, target,
//! `EXT-X-DATERANGE`), byte ranges and sequence numbers.

use std::time::Duration;

use url::Url;

use super::attributes::value_end;
use super::parse::bad;
use crate::error::HlsError;

/// The largest `EXT-X-TARGETDURATION` accepted, in seconds (a day).
const MAX_TARGET_DURATION_SECS: u64 = 24 * 60 * 60;
/// The largest `EXTINF` duration accepted, in seconds (a week). Segments may
/// overshoot the target duration by up to this much (real encoders overshoot).
const MAX_SEGMENT_SECS: u64 = 7 * 24 * 60 * 60;
/// The largest byte offset a byte range may end at (1 PiB).
pub(crate) const MAX_BYTE_OFFSET: u64 = 1 << 50;

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

/// The value of every attribute `name` of the attribute list `list`, as any
/// way of splitting the list can see it: from `name` (at the start, after a
/// comma or a space) and `=` (spaces allowed) up to a comma outside quotes,
/// trimmed. Parsers split lists differently when quotes are unbalanced (ours
/// counts quotes from the start of each name, `hls_m3u8` from the start of
/// each value), and on repeated names the media parser keeps the last,
/// `hls_m3u8` parses each: so every candidate is checked.
fn attribute_values<'a>(list: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> {
    list.match_indices(name).filter_map(move |(i, _)| {
        let after_break = list[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c == ',' || c.is_whitespace());
        if !after_break {
            return None;
        }
        let value = list[i + name.len()..].trim_start().strip_prefix('=')?;
        let end = value_end(value).unwrap_or(value.len());
        Some(value[..end].trim())
    })
}

/// Reject numbers the parser cannot take before it sees them: durations that
/// are negative, not finite or huge, a target duration beyond a day, byte
/// ranges past [`MAX_BYTE_OFFSET`], `EXT-X-DATERANGE` durations that are not
/// a non-negative number below 2^64 s, and a media sequence whose segments'
/// numbers would overflow. Other text the checks cannot read is left to the
/// parser, which reports it.
pub(crate) fn check_numbers(url: &Url, text: &str, uri_lines: usize) -> Result<(), HlsError> {
    // The end of the last byte range: where a range without offset starts.
    let mut range_end = 0u64;
    let range_ok =
        |start: u64, len: u64| start.checked_add(len).filter(|end| *end <= MAX_BYTE_OFFSET);
    // Both parsers take what follows `#EXTM3U` on its line as a line of its own.
    let body = text.strip_prefix("#EXTM3U").unwrap_or(text);
    for line in body.lines().map(str::trim) {
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
            let past_end = attribute_values(v, "BYTERANGE")
                .filter_map(|r| parse_range(&r.replace('"', "")))
                .any(|(len, offset)| range_ok(offset.unwrap_or(0), len).is_none());
            if past_end {
                return Err(bad(
                    url,
                    format!("EXT-X-MAP byte range ends past {MAX_BYTE_OFFSET}"),
                ));
            }
        } else if let Some(v) = tag_value(line, "#EXT-X-DATERANGE:") {
            // `DURATION` and `PLANNED-DURATION`; `hls_m3u8` parses them in
            // master playlists too, into a `Duration`.
            if let Some(d) = ["DURATION", "PLANNED-DURATION"]
                .into_iter()
                .flat_map(|name| attribute_values(v, name))
                .find(|d| {
                    d.parse::<f64>()
                        .is_ok_and(|d| Duration::try_from_secs_f64(d).is_err())
                })
            {
                return Err(bad(
                    url,
                    format!(
                        "EXT-X-DATERANGE duration {d:?} is not a non-negative number below 2^64 s"
                    ),
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
