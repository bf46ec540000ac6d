//! Compressed answers (`Content-Encoding: gzip` or `br`), as a CDN sends
//! them to a client whose `Accept-Encoding` lists the coding.

use std::io::Write as _;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

/// A content coding the origin can apply ([`HlsOrigin::compress`](crate::HlsOrigin::compress)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `br` (Brotli, RFC 7932).
    Brotli,
}

impl Compression {
    /// The coding's token in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
        }
    }

    fn encode(self, plain: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Gzip => {
                let mut w =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                w.write_all(plain)?;
                w.finish()
            }
            Self::Brotli => {
                let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
                w.write_all(plain)?;
                w.flush()?;
                Ok(w.into_inner())
            }
        }
    }
}

/// Whether `request` lists `coding` in `Accept-Encoding` with a non-zero
/// quality (`*` counts).
pub(crate) fn accepts(request: &HeaderMap, coding: Compression) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (token.eq_ignore_ascii_case(coding.token()) || token == "*") && !refused
        })
}

/// `response` compressed with `coding` when it is a whole `200` (not a
/// range, not already encoded) and `request` accepts the coding; as it was
/// otherwise. Its body is read whole first.
pub(crate) async fn compress(
    response: Response,
    request: &HeaderMap,
    coding: Compression,
) -> Response {
    let whole = response.status() == StatusCode::OK
        && !response.headers().contains_key(header::CONTENT_ENCODING)
        && !response.headers().contains_key(header::CONTENT_RANGE);
    if !whole || !accepts(request, coding) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(plain) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(encoded) = coding.encode(&plain) else {
        return Response::from_parts(parts, Body::from(plain));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ACCEPT_RANGES);
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    parts
        .headers
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, Body::from(Bytes::from(encoded)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn accept_encoding_is_read_with_its_qualities() {
        assert!(accepts(&with("gzip, br"), Compression::Gzip));
        assert!(accepts(&with("gzip, br"), Compression::Brotli));
        assert!(accepts(&with("*"), Compression::Brotli));
        assert!(!accepts(&with("identity"), Compression::Gzip));
        assert!(!accepts(&with("gzip;q=0"), Compression::Gzip));
        assert!(!accepts(&HeaderMap::new(), Compression::Gzip));
    }
}
