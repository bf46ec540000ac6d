//! Answers to a byte-range request: a `206` must carry a `Content-Range`
//! naming exactly the requested bytes (and a matching `Content-Length`, if
//! any); anything else would be cached and played as if it were.

use std::ops::Range;

use reqwest::header::{CONTENT_RANGE, HeaderMap};

/// `bytes START-END/TOTAL` (TOTAL may be `*`): the inclusive start and end.
pub(super) fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let (range, total) = rest.trim_start().split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let digits = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (start, end) = (digits(start)?, digits(end)?);
    let total = total.trim();
    if total != "*" {
        let total = digits(total)?;
        if end >= total {
            return None;
        }
    }
    (start <= end).then_some((start, end))
}

/// Check a `206 Partial Content` against the request: a range was asked for,
/// and `Content-Range` names exactly it (and `Content-Length`, if given, is
/// its length). Returns why not.
pub(super) fn check_partial(
    range: Option<&Range<u64>>,
    headers: &HeaderMap,
    content_length: Option<u64>,
) -> Result<(), String> {
    let Some(r) = range else {
        return Err("206 partial content to a request without a byte range".into());
    };
    let (want_start, want_end) = (r.start, r.end.saturating_sub(1));
    let value = headers.get(CONTENT_RANGE).ok_or_else(|| {
        format!("206 without Content-Range for byte range {want_start}-{want_end}")
    })?;
    let text = value.to_str().unwrap_or("");
    let (start, end) = parse_content_range(text).ok_or_else(|| {
        format!(
            "206 with an unreadable Content-Range {text:?} for byte range {want_start}-{want_end}"
        )
    })?;
    if (start, end) != (want_start, want_end) {
        return Err(format!(
            "byte range {want_start}-{want_end} requested, {start}-{end} received"
        ));
    }
    if let Some(len) = content_length
        && len != r.end - r.start
    {
        return Err(format!(
            "byte range {want_start}-{want_end} requested, Content-Length {len}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn content_ranges_are_parsed_strictly() {
        assert_eq!(parse_content_range("bytes 50-149/1000"), Some((50, 149)));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, 0)));
        for bad in [
            "",
            "bytes",
            "bytes 50-149",
            "bytes=50-149/1000",
            "bytes50-149/1000",
            "bytes -149/1000",
            "bytes 50-/1000",
            "bytes +5-149/1000",
            "bytes 149-50/1000",
            "bytes 50-149/100",
            "bytes */1000",
            "items 50-149/1000",
            "bytes 50-18446744073709551616/*",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_206_must_be_the_requested_range() {
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_RANGE, HeaderValue::from_str(v).unwrap());
            h
        };
        let r = 50..150;
        assert!(check_partial(Some(&r), &headers("bytes 50-149/1000"), Some(100)).is_ok());
        assert!(check_partial(Some(&r), &headers("bytes 50-149/1000"), None).is_ok());
        assert!(check_partial(Some(&r), &headers("bytes 50-149/1000"), Some(99)).is_err());
        assert!(check_partial(Some(&r), &headers("bytes 0-99/1000"), Some(100)).is_err());
        assert!(check_partial(Some(&r), &headers("bytes 50-150/1000"), None).is_err());
        assert!(check_partial(Some(&r), &HeaderMap::new(), Some(100)).is_err());
        assert!(check_partial(None, &headers("bytes 0-9/10"), Some(10)).is_err());
    }
}
