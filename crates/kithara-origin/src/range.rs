//! HTTP `Range` requests: the origin answers one byte range with 206, as
//! real CDNs do for `EXT-X-BYTERANGE` segments.

use std::ops::Range;

/// What a `Range` header asks of a body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeRequest {
    /// Malformed or multi-range: serve the whole body.
    Ignore,
    Unsatisfiable,
    /// End exclusive.
    Satisfiable(Range<u64>),
}

/// Parses one `Range: bytes=...` header against a body of `len` bytes.
pub(super) fn parse_range(value: &str, len: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignore;
    };
    if spec.contains(',') {
        return RangeRequest::Ignore;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignore;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // Suffix range: the last `end` bytes.
        let Ok(suffix) = end.parse::<u64>() else {
            return RangeRequest::Ignore;
        };
        if suffix == 0 {
            return RangeRequest::Unsatisfiable;
        }
        len.saturating_sub(suffix)..len
    } else {
        let Ok(first) = start.parse::<u64>() else {
            return RangeRequest::Ignore;
        };
        let last = if end.is_empty() {
            len.saturating_sub(1)
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= first => last.min(len.saturating_sub(1)),
                _ => return RangeRequest::Ignore,
            }
        };
        if first >= len {
            return RangeRequest::Unsatisfiable;
        }
        first..last + 1
    };
    if range.start >= range.end {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Satisfiable(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_parsing() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            RangeRequest::Satisfiable(0..10)
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            RangeRequest::Satisfiable(90..100)
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            RangeRequest::Satisfiable(90..100)
        );
        assert_eq!(
            parse_range("bytes=50-500", 100),
            RangeRequest::Satisfiable(50..100)
        );
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,4-5", 100), RangeRequest::Ignore);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Ignore);
    }
}
