//! Reading a request head: bytes from the socket until a whole head has
//! arrived (parsed by `httparse`, hyper's own parser), within the size
//! and time limits; then what the connection must do after the answer.

use std::io;

use bytes::{Buf, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::Refusal;

/// Headers a request may carry; more is a 431.
const MAX_HEADERS: usize = 64;

/// A request head, and whether the connection ends after its answer.
pub(crate) struct Head {
    pub req: Request<()>,
    /// `Connection: close`, HTTP/1.0 without keep-alive, or a request body
    /// (never read: the proxy serves none, so the connection ends instead).
    pub close: bool,
}

/// Why no head was read.
pub(crate) enum NoHead {
    /// The client closed, or the connection failed.
    Gone,
    /// No whole head before the deadline (an idle or slow client).
    Late,
    /// A head that cannot be served: answer with the refusal, then close.
    Bad(Refusal),
}

impl From<io::Error> for NoHead {
    fn from(_: io::Error) -> Self {
        NoHead::Gone
    }
}

/// The next request head from `stream`, with `buf` holding what arrived
/// beyond the previous one (pipelined requests). The whole head must be in
/// by `deadline` and fit in `max` bytes.
pub(crate) async fn head(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    max: usize,
    deadline: Instant,
) -> Result<Head, NoHead> {
    loop {
        if let Some(head) = parse(buf)? {
            return Ok(head);
        }
        if buf.len() >= max {
            return Err(NoHead::Bad(Refusal::HeadersTooLarge));
        }
        buf.reserve(4096);
        let read = tokio::time::timeout_at(deadline, stream.read_buf(buf)).await;
        match read {
            Err(_) => return Err(NoHead::Late),
            Ok(Ok(0)) => return Err(NoHead::Gone),
            Ok(r) => r?,
        };
    }
}

/// A whole head from the front of `buf` (consumed), or `None` for more.
fn parse(buf: &mut BytesMut) -> Result<Option<Head>, NoHead> {
    // Blank lines before a request line are allowed (RFC 9112 §2.2).
    let blank = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    buf.advance(blank);
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let n = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(NoHead::Bad(Refusal::HeadersTooLarge));
        }
        Err(e) => return Err(bad(format!("malformed request: {e}"))),
    };
    let method = Method::from_bytes(parsed.method.unwrap_or("").as_bytes())
        .map_err(|_| bad("malformed method"))?;
    let uri: Uri = parsed
        .path
        .unwrap_or("")
        .parse()
        .map_err(|_| bad("malformed request target"))?;
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("malformed header"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad("malformed header"))?;
        headers.append(name, value);
    }
    buf.advance(n);
    let close = closes(version, &headers)?;
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = headers;
    Ok(Some(Head { req, close }))
}

/// Whether the connection ends after this request's answer; refuses what
/// could make the proxy and a client disagree on where a request ends
/// (several `Host`s or lengths, a length beside a transfer coding).
fn closes(version: Version, headers: &HeaderMap) -> Result<bool, NoHead> {
    if headers.get_all(header::HOST).iter().count() > 1 {
        return Err(bad("more than one Host"));
    }
    let lengths: Vec<_> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    let coded = headers.contains_key(header::TRANSFER_ENCODING);
    if lengths.len() > 1 || (coded && !lengths.is_empty()) {
        return Err(bad("ambiguous request length"));
    }
    let body = coded
        || match lengths.first() {
            None => false,
            Some(v) => {
                let n: u64 = v
                    .to_str()
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| bad("malformed Content-Length"))?;
                n > 0
            }
        };
    let said = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let keep = match version {
        Version::HTTP_10 => said("keep-alive"),
        _ => !said("close"),
    };
    Ok(body || !keep)
}

fn bad(why: impl Into<String>) -> NoHead {
    NoHead::Bad(Refusal::BadRequest(why.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> Result<Option<Head>, NoHead> {
        parse(&mut BytesMut::from(raw))
    }

    #[test]
    fn heads() {
        let h = one("GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n")
            .ok()
            .flatten()
            .unwrap();
        assert_eq!(h.req.uri().path(), "/a");
        assert!(!h.close);
        let h = one("\r\nGET / HTTP/1.0\r\n\r\n").ok().flatten().unwrap();
        assert!(h.close, "HTTP/1.0 without keep-alive closes");
        let h = one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .ok()
            .flatten()
            .unwrap();
        assert!(!h.close);
        let h = one("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n")
            .ok()
            .flatten()
            .unwrap();
        assert!(h.close);
        let h = one("PUT / HTTP/1.1\r\nContent-Length: 4\r\n\r\nxxxx")
            .ok()
            .flatten()
            .unwrap();
        assert!(h.close, "a body is never read: the connection ends");
        assert!(matches!(one("GET / HTTP/1.1\r\nHo"), Ok(None)));
        for refused in [
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03 HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(one(refused), Err(NoHead::Bad(_))), "{refused:?}");
        }
    }

    #[test]
    fn pipelined_heads_are_taken_one_at_a_time() {
        let mut buf = BytesMut::from("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
        for want in ["/1", "/2"] {
            let h = parse(&mut buf).ok().flatten().unwrap();
            assert_eq!(h.req.uri().path(), want);
        }
        assert!(buf.is_empty());
    }
}
