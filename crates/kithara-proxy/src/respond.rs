//! Responses: the body type, refusals as one plain-text line, content
//! types, and `Range` (one range per request; 206 with `Content-Range`,
//! 416 when it cannot be met, 200 for what this proxy does not split).

use std::fmt;
use std::io;
use std::ops::Range;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use kithara_cache::{AssetReader, CachePath};
use kithara_hls::ResourceKind;

use crate::error::Refusal;
use crate::guard;

/// Every response's body.
pub(crate) enum Body {
    Empty,
    /// Held in memory: a playlist, a key, a refusal.
    Full(Bytes),
    /// Bytes as they arrive (a flight); an error cuts the response.
    Stream(BoxStream<'static, io::Result<Bytes>>),
    /// A range of a cached file, sent from the page cache.
    File(FileBody),
}

/// `range` of the cached resource open in `reader`.
pub(crate) struct FileBody {
    pub reader: AssetReader,
    pub range: Range<u64>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Body::Empty => "Empty",
            Body::Full(_) => "Full",
            Body::Stream(_) => "Stream",
            Body::File(_) => "File",
        })
    }
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Body::Full(bytes.into())
}

pub(crate) fn empty() -> Body {
    Body::Empty
}

pub(crate) fn stream(s: impl Stream<Item = io::Result<Bytes>> + Send + 'static) -> Body {
    Body::Stream(Box::pin(s))
}

/// A response with the CORS headers every answer carries.
pub(crate) fn response(status: StatusCode, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    guard::cors(resp.headers_mut());
    resp
}

/// A refusal: its status and one line of plain text.
pub(crate) fn refusal(r: &Refusal) -> Response<Body> {
    let text = format!("{r}\n");
    let mut resp = response(r.status(), full(text.clone()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Refusal::Range { len } = r
        && let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

/// The `Content-Type` of a resource.
pub(crate) fn content_type(kind: ResourceKind, path: &CachePath) -> &'static str {
    let ext = path.file_name().rsplit_once('.').map_or("", |(_, e)| e);
    match (kind, ext) {
        (ResourceKind::Playlist, _) => "application/vnd.apple.mpegurl",
        (ResourceKind::Key, _) => "application/octet-stream",
        (_, "ts") => "video/mp2t",
        (_, "aac") => "audio/aac",
        (_, "mp3") => "audio/mpeg",
        (_, "m4a") => "audio/mp4",
        (_, "mp4" | "m4s" | "cmfa" | "cmfv") => "video/mp4",
        (_, "vtt" | "webvtt") => "text/vtt",
        _ => "application/octet-stream",
    }
}

/// What part of a resource of `len` bytes a request gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub range: Range<u64>,
    /// Whether it is a range (206) rather than the whole (200).
    pub partial: bool,
}

/// The part of a resource of `len` bytes that `headers` ask for: the whole
/// without a `Range` (or with one this proxy does not split: several
/// ranges, other units), else the one range, or a 416 refusal.
pub(crate) fn plan(headers: &HeaderMap, len: u64) -> Result<Part, Refusal> {
    let whole = Part {
        range: 0..len,
        partial: false,
    };
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(whole);
    };
    if spec.contains(',') {
        return Ok(whole);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(whole);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = Refusal::Range { len };
    let range = if a.is_empty() {
        // The last `b` bytes.
        let n: u64 = b.parse().map_err(|_| unsatisfiable.clone())?;
        if n == 0 || len == 0 {
            return Err(unsatisfiable);
        }
        len.saturating_sub(n)..len
    } else {
        let start: u64 = a.parse().map_err(|_| unsatisfiable.clone())?;
        let end = if b.is_empty() {
            len
        } else {
            let last: u64 = b.parse().map_err(|_| unsatisfiable.clone())?;
            if last < start {
                return Err(unsatisfiable);
            }
            last.saturating_add(1).min(len)
        };
        if start >= len {
            return Err(unsatisfiable);
        }
        start..end
    };
    Ok(Part {
        range,
        partial: true,
    })
}

/// A resource held whole in memory (a playlist, a key): the part the
/// request's `Range` asks for.
pub(crate) fn whole(
    headers: &HeaderMap,
    bytes: Bytes,
    content_type: &'static str,
    head_only: bool,
) -> Result<Response<Body>, Refusal> {
    let len = bytes.len() as u64;
    let part = plan(headers, len)?;
    let body = if head_only {
        empty()
    } else {
        full(bytes.slice(part.range.start as usize..part.range.end as usize))
    };
    Ok(resource(&part, Some(len), content_type, body))
}

/// Headers of a resource response of `part` of `len` bytes.
pub(crate) fn resource(
    part: &Part,
    len: Option<u64>,
    content_type: &'static str,
    body: Body,
) -> Response<Body> {
    let status = if part.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = response(status, body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if len.is_some() {
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(part.range.end - part.range.start),
        );
    }
    if part.partial
        && let Some(len) = len
        && let Ok(v) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{len}",
            part.range.start,
            part.range.end - 1
        ))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn ranges() {
        let part = |v: &str| plan(&ranged(v), 100);
        let p = |r: Range<u64>| {
            Ok(Part {
                range: r,
                partial: true,
            })
        };
        assert_eq!(part("bytes=0-9"), p(0..10));
        assert_eq!(part("bytes=90-"), p(90..100));
        assert_eq!(part("bytes=90-500"), p(90..100));
        assert_eq!(part("bytes=-10"), p(90..100));
        assert_eq!(part("bytes=-500"), p(0..100));
        assert_eq!(part("bytes=99-99"), p(99..100));
        for bad in [
            "bytes=100-",
            "bytes=200-300",
            "bytes=5-4",
            "bytes=-0",
            "bytes=x-1",
        ] {
            assert_eq!(part(bad), Err(Refusal::Range { len: 100 }), "{bad}");
        }
        let whole = Ok(Part {
            range: 0..100,
            partial: false,
        });
        assert_eq!(plan(&HeaderMap::new(), 100), whole);
        assert_eq!(part("bytes=0-1,5-6"), whole);
        assert_eq!(part("items=0-1"), whole);
        assert_eq!(plan(&ranged("bytes=0-"), 0), Err(Refusal::Range { len: 0 }));
    }
}
