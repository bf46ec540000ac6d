//! Writing a response: the head, then the body framed by its length
//! (chunked when a flight's length is unknown). A cached resource goes from
//! the page cache to the socket with `sendfile`, never through the proxy's
//! memory: that copy and the read before it are most of what a user-space
//! server spends on a large hit. A write that makes no progress for the
//! write timeout fails (a client that stops reading is cut off, and its
//! connection slot freed).

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, IoSlice};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{self, HeaderMap};
use http::{Response, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::respond::{Body, FileBody};

/// How a response may be framed for the request it answers.
pub(crate) struct Reply {
    /// A HEAD: the head only.
    pub head_only: bool,
    /// The connection ends after this response.
    pub close: bool,
    /// The client speaks HTTP/1.1 (chunked bodies allowed).
    pub chunked: bool,
    /// How long a write may make no progress.
    pub limit: Duration,
}

/// Write `resp`. `Ok(true)` if the connection may carry another request.
pub(crate) async fn response(
    stream: &mut TcpStream,
    resp: Response<Body>,
    reply: &Reply,
) -> io::Result<bool> {
    let (parts, body) = resp.into_parts();
    let bodiless = reply.head_only
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    let known = parts.headers.contains_key(header::CONTENT_LENGTH);
    // A body of unknown length: chunked for HTTP/1.1, else it ends with
    // the connection.
    let streamed = !bodiless && !known && matches!(body, Body::Stream(_));
    let chunked = streamed && reply.chunked;
    let close = reply.close || (streamed && !chunked);
    let mut head = Vec::with_capacity(512);
    put_head(&mut head, parts.status, &parts.headers, close);
    if chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if !known && !bodiless && !streamed {
        let n = match &body {
            Body::Full(b) => b.len() as u64,
            Body::File(f) => f.range.end - f.range.start,
            _ => 0,
        };
        head.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let limit = reply.limit;
    if bodiless {
        all(stream, &mut [IoSlice::new(&head)], limit).await?;
        return Ok(!close);
    }
    match body {
        Body::Empty => all(stream, &mut [IoSlice::new(&head)], limit).await?,
        Body::Full(b) => all(stream, &mut [IoSlice::new(&head), IoSlice::new(&b)], limit).await?,
        Body::File(f) => file(stream, &head, f, limit).await?,
        Body::Stream(mut s) => {
            let length = known.then(|| content_length(&parts.headers)).flatten();
            let mut head = Some(head);
            let mut sent = 0u64;
            while let Some(chunk) = s.next().await {
                let chunk = chunk?;
                if chunk.is_empty() {
                    // A zero-size chunk would end a chunked body early.
                    continue;
                }
                let h = head.take().unwrap_or_default();
                sent += chunk.len() as u64;
                if length.is_some_and(|n| sent > n) {
                    return Err(io::Error::other("a body longer than its Content-Length"));
                }
                if chunked {
                    let size = format!("{:x}\r\n", chunk.len());
                    let bufs = &mut [
                        IoSlice::new(&h),
                        IoSlice::new(size.as_bytes()),
                        IoSlice::new(&chunk),
                        IoSlice::new(b"\r\n"),
                    ];
                    all(stream, bufs, limit).await?;
                } else {
                    all(stream, &mut [IoSlice::new(&h), IoSlice::new(&chunk)], limit).await?;
                }
            }
            if length.is_some_and(|n| sent < n) {
                // Cut, never padded: the client sees a short body.
                return Err(io::Error::other("a body shorter than its Content-Length"));
            }
            let h = head.take().unwrap_or_default();
            let end: &[u8] = if chunked { b"0\r\n\r\n" } else { b"" };
            all(stream, &mut [IoSlice::new(&h), IoSlice::new(end)], limit).await?;
        }
    }
    Ok(!close)
}

/// The status line, the response's headers, `date` and, when the
/// connection ends, `connection: close`.
fn put_head(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap, close: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"date: ");
    date(out);
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
}

/// Appends the `Date` value: formatted once a second per thread, not per
/// response.
fn date(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Write every byte of `bufs`, each write within `limit`.
async fn all(
    stream: &mut TcpStream,
    mut bufs: &mut [IoSlice<'_>],
    limit: Duration,
) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let n = timed(limit, stream.write_vectored(bufs)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// `fut`, or a timeout error once it has made no progress for `limit`.
async fn timed<T>(limit: Duration, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))?
}

/// `head`, then the bytes of a cached file from the page cache to the
/// socket. The head is sent with `MSG_MORE`, so that it leaves in one
/// packet with the first bytes of the body (nginx's `tcp_nopush`): the
/// client wakes once, for both.
#[cfg(any(target_os = "linux", target_os = "android"))]
async fn file(stream: &mut TcpStream, head: &[u8], f: FileBody, limit: Duration) -> io::Result<()> {
    use rustix::net::SendFlags;
    use tokio::io::Interest;
    let Some(fd) = f.reader.fd() else {
        all(stream, &mut [IoSlice::new(head)], limit).await?;
        return read_out(stream, f, limit).await;
    };
    let stream = &*stream;
    // Nothing to follow the head: no cork (it would hold the head back).
    let more = if f.range.is_empty() {
        SendFlags::empty()
    } else {
        SendFlags::MORE
    };
    let mut sent = 0;
    while sent < head.len() {
        sent += timed(
            limit,
            stream.async_io(Interest::WRITABLE, || {
                rustix::net::send(stream, &head[sent..], more).map_err(io::Error::from)
            }),
        )
        .await?;
    }
    let (mut at, end) = (f.range.start, f.range.end);
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(1 << 30);
        // A hit is served from the page cache: `sendfile` then only waits
        // for room in the socket (EAGAIN → writable). A page not in memory
        // is read from disk on this worker, as nginx does without aio.
        let sent = timed(
            limit,
            stream.async_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(stream, fd, Some(&mut at), want).map_err(io::Error::from)
            }),
        )
        .await?;
        if sent == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the cached file is shorter than it was",
            ));
        }
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
async fn file(stream: &mut TcpStream, head: &[u8], f: FileBody, limit: Duration) -> io::Result<()> {
    all(stream, &mut [IoSlice::new(head)], limit).await?;
    read_out(stream, f, limit).await
}

/// The bytes of a cached resource without `sendfile` (a cache held in
/// memory, or a system without it): read piece by piece off the workers.
async fn read_out(stream: &mut TcpStream, f: FileBody, limit: Duration) -> io::Result<()> {
    const PIECE: u64 = 256 * 1024;
    let FileBody { mut reader, range } = f;
    let mut at = range.start;
    while at < range.end {
        let n = (range.end - at).min(PIECE);
        let (r, piece) = tokio::task::spawn_blocking(move || {
            let piece = reader.read_at(at, n);
            (reader, piece)
        })
        .await
        .map_err(io::Error::other)?;
        reader = r;
        let piece: Bytes = piece?;
        at += piece.len() as u64;
        all(stream, &mut [IoSlice::new(&piece)], limit).await?;
    }
    Ok(())
}
