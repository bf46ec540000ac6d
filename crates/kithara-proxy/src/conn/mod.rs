//! One client connection, HTTP/1.1 with keep-alive and pipelining: read a
//! request head, answer it, repeat. The proxy speaks HTTP itself (with
//! `httparse`, hyper's parser) rather than through hyper's server so that a
//! cached resource can go from the page cache to the socket with
//! `sendfile` (`write.rs`); hyper takes bodies only as bytes in memory.
//!
//! Limits: a request head must arrive whole within the header timeout
//! (an idle keep-alive connection counts as a slow head) and fit in
//! `max_header_bytes`; a write that makes no progress for the write
//! timeout ends the connection. Request bodies are never read: the proxy
//! serves GET, HEAD and OPTIONS, so a request that announces one is
//! answered and the connection closed.

mod read;
mod write;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use http::{Method, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::handler;
use crate::respond;
use crate::server::State;
use read::NoHead;
use write::Reply;

/// How long a closing connection waits for the client to see the end of
/// the answer before the socket is dropped (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);

/// Serve requests on `stream` until the client closes, a limit is hit, or
/// `stop` says the proxy is stopping (then an idle connection closes at
/// once and a busy one after its answer).
pub(crate) async fn serve(
    mut stream: TcpStream,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = &state.limits;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        let deadline = Instant::now() + limits.header_timeout;
        let idle = buf.is_empty();
        let head = tokio::select! {
            h = read::head(&mut stream, &mut buf, limits.max_header_bytes, deadline) => h,
            _ = stop.wait_for(|s| *s), if idle => return,
        };
        let head = match head {
            Ok(h) => h,
            Err(NoHead::Gone | NoHead::Late) => return,
            Err(NoHead::Bad(r)) => {
                tracing::info!(target: "kithara_proxy::request", status = r.status().as_u16(), error = %r, "refused head");
                let reply = Reply {
                    head_only: false,
                    close: true,
                    chunked: false,
                    limit: limits.write_timeout,
                };
                if write::response(&mut stream, respond::refusal(&r), &reply)
                    .await
                    .is_ok()
                {
                    linger(&mut stream).await;
                }
                return;
            }
        };
        let reply = Reply {
            head_only: head.req.method() == Method::HEAD,
            close: head.close || *stop.borrow(),
            chunked: head.req.version() == Version::HTTP_11,
            limit: limits.write_timeout,
        };
        let started = Instant::now();
        let resp = handler::handle(&state, &head.req).await;
        let status = resp.status().as_u16();
        let written = write::response(&mut stream, resp, &reply).await;
        // Logged once the answer is out: off the first byte's path, and
        // with how long it took and whether it was cut.
        // In ms to the µs: `ms=0.026`, not `ms=0.026418999999999998`.
        let ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let method = head.req.method().as_str();
        let path = handler::logged_path(head.req.uri());
        match written {
            Ok(more) => {
                tracing::info!(target: "kithara_proxy::request", %method, path, status, ms, "request");
                if !more {
                    return linger(&mut stream).await;
                }
            }
            Err(e) => {
                // The answer was cut (a failed fetch, a client gone or
                // stalled): the connection cannot go on.
                tracing::info!(target: "kithara_proxy::request", %method, path, status, ms, error = %e, "request cut");
                return;
            }
        }
    }
}

/// End a connection the proxy closes so that the client reads the whole
/// answer: half-close, then drain what the client still sends (a request
/// body, pipelined requests) for a moment. Dropping a socket with unread
/// input resets it, and a reset can discard the answer still on its way.
async fn linger(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut left = 256 * 1024usize;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
