//! Live playlists: a head that the test moves forward, a sliding window of
//! published segments, an end; and the `ETag` / `If-None-Match` (or
//! `Last-Modified` / `If-Modified-Since`) handling of media playlists, with
//! which a client re-polls a live playlist cheaply.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use crate::common::lock;
use crate::config::OriginConfig;
use crate::faults::Fault;
use crate::playlist::MediaView;
use crate::response::{MPEGURL, bytes_response};
use crate::server::HlsOrigin;

/// The publication state shared by all tracks.
#[derive(Debug)]
pub(crate) struct Live {
    /// `Some(window)` in live mode.
    window: Option<usize>,
    segments: usize,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// Number of published segments: indices `0..head`.
    head: usize,
    ended: bool,
}

impl Live {
    pub(crate) fn new(config: &OriginConfig) -> Self {
        let segments = config.segments;
        let state = match config.live_window {
            Some(window) => State {
                head: window.min(segments),
                ended: false,
            },
            None => State {
                head: segments,
                ended: true,
            },
        };
        Self {
            window: config.live_window,
            segments,
            state: Mutex::new(state),
        }
    }

    /// Number of published segments.
    pub(crate) fn head(&self) -> usize {
        lock(&self.state).head
    }

    /// Whether segment `i` is published (always, for a VOD).
    pub(crate) fn published(&self, i: usize) -> bool {
        i < self.head()
    }

    /// What a media playlist lists now.
    pub(crate) fn view(&self, token: Option<u64>) -> MediaView {
        let State { head, ended } = *lock(&self.state);
        MediaView {
            first: self.window.map_or(0, |window| head.saturating_sub(window)),
            end: head,
            live: self.window.is_some(),
            ended,
            token,
        }
    }

    fn advance(&self, n: usize) {
        let mut state = lock(&self.state);
        if !state.ended {
            state.head = state.head.saturating_add(n).min(self.segments);
        }
    }

    fn end(&self) {
        lock(&self.state).ended = true;
    }
}

impl HlsOrigin {
    /// Live mode ([`OriginConfig::live`]): publishes `n` more segments (the
    /// head moves forward, clamped to the segment count). Does nothing for
    /// a VOD or after [`end_live`](Self::end_live): an ended playlist does
    /// not change any more.
    pub fn advance(&self, n: usize) {
        self.shared.live.advance(n);
    }

    /// Live mode: from now on media playlists end with `#EXT-X-ENDLIST`
    /// (the window stays where it is). Does nothing for a VOD.
    pub fn end_live(&self) {
        self.shared.live.end();
    }

    /// Number of published segments (indices `0..live_head()`); the segment
    /// count for a VOD.
    pub fn live_head(&self) -> usize {
        self.shared.live.head()
    }
}

/// The FNV-1a hash of a playlist text.
fn hash(text: &[u8]) -> u64 {
    text.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The strong `ETag` of a playlist text: its quoted hash.
pub(crate) fn etag(text: &[u8]) -> String {
    format!("\"{:016x}\"", hash(text))
}

/// The `Last-Modified` date of a playlist text: a second of the ten years
/// from 2020 chosen by its hash, so that it changes with the text and two
/// origins with the same configuration agree.
fn last_modified(text: &[u8]) -> String {
    const FROM_2020: u64 = 1_577_836_800;
    const TEN_YEARS: u64 = 10 * 365 * 24 * 60 * 60;
    let secs = FROM_2020 + hash(text) % TEN_YEARS;
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Whether `If-None-Match` (weak comparison, `*` matches) names `etag`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A media playlist with its validator (`ETag`, or with `etags` off
/// `Last-Modified`): `304 Not Modified` without a body when the request's
/// `If-None-Match` names the tag (or its `If-Modified-Since` is the date),
/// else the text.
pub(crate) fn playlist_response(
    text: String,
    headers: &HeaderMap,
    fault: Option<Fault>,
    etags: bool,
) -> Response {
    let (name, validator, unchanged) = if etags {
        let tag = etag(text.as_bytes());
        let unchanged = none_match(headers, &tag);
        (header::ETAG, tag, unchanged)
    } else {
        let date = last_modified(text.as_bytes());
        let unchanged = headers
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|since| since.as_bytes() == date.as_bytes());
        (header::LAST_MODIFIED, date, unchanged)
    };
    let value = HeaderValue::from_str(&validator).unwrap_or(HeaderValue::from_static("\"\""));
    if unchanged {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response.headers_mut().insert(name, value);
        return response;
    }
    let mut response = bytes_response(Bytes::from(text), MPEGURL, headers, fault);
    if response.status().is_success() {
        response.headers_mut().insert(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_differ_with_the_text_and_match_weakly() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
        let tag = etag(b"x");
        let mut headers = HeaderMap::new();
        assert!(!none_match(&headers, &tag));
        let list = format!("\"other\", W/{tag}");
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&list).unwrap());
        assert!(none_match(&headers, &tag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, &tag));
    }

    #[test]
    fn dates_are_http_dates_that_differ_with_the_text() {
        let date = last_modified(b"a");
        assert_eq!(date, last_modified(b"a"));
        assert_ne!(date, last_modified(b"b"));
        let when = httpdate::parse_http_date(&date).unwrap();
        assert!(when >= SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800));
    }
}
