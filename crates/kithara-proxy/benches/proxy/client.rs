//! The one HTTP/1.1 client of the bench, for the proxy, nginx and the
//! origin alike: a hyper client connection per TCP connection
//! (`hyper::client::conn::http1`, keep-alive, `TCP_NODELAY`), requests one
//! after another on it, bodies counted frame by frame and never copied
//! (unless kept for a check).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, HOST, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One keep-alive connection to `addr`; reconnects when the server closes.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<http1::SendRequest<Empty<Bytes>>>,
    /// Connections opened after the first.
    pub reconnects: u64,
}

/// One response.
pub struct Got {
    pub status: StatusCode,
    /// Body bytes received.
    pub len: u64,
    /// From sending the request to the first body byte (or the end of an
    /// empty body).
    pub ttfb: Duration,
    /// From sending the request to the end of the body.
    pub total: Duration,
    /// The body, when asked to keep it.
    pub body: Option<Vec<u8>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string()).expect("host header"),
            sender: None,
            reconnects: 0,
        }
    }

    async fn sender(&mut self) -> &mut http1::SendRequest<Empty<Bytes>> {
        if self.sender.as_mut().is_some_and(|s| s.is_closed()) {
            self.sender = None;
            self.reconnects += 1;
        }
        if self.sender.is_none() {
            let stream = TcpStream::connect(self.addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (sender, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().expect("a sender")
    }

    /// GET `path` (with its query), the whole body read; `keep` keeps it.
    pub async fn get(&mut self, path: &str, keep: bool) -> Got {
        self.get_then(path, keep, async {}).await
    }

    /// GET `path`; after the first body frame, wait for `pause` before
    /// reading the rest (the memory workload's way to hold every response
    /// open at once).
    pub async fn get_then(
        &mut self,
        path: &str,
        keep: bool,
        pause: impl std::future::Future<Output = ()>,
    ) -> Got {
        let host = self.host.clone();
        let sender = self.sender().await;
        sender.ready().await.expect("connection ready");
        let req = Request::get(path)
            .header(HOST, host)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let start = Instant::now();
        let resp = sender.send_request(req).await.expect("response");
        let status = resp.status();
        let closing = resp
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let mut body = resp.into_body();
        let mut len = 0u64;
        let mut ttfb = None;
        let mut kept = keep.then(Vec::new);
        let mut pause = std::pin::pin!(Some(pause));
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("body frame");
            if let Some(data) = frame.data_ref() {
                if data.is_empty() {
                    continue;
                }
                ttfb.get_or_insert_with(|| start.elapsed());
                len += data.len() as u64;
                if let Some(k) = kept.as_mut() {
                    k.extend_from_slice(data);
                }
                if let Some(p) = pause.as_mut().as_pin_mut() {
                    p.await;
                    pause.set(None);
                }
            }
        }
        let total = start.elapsed();
        if closing {
            self.sender = None;
            self.reconnects += 1;
        }
        Got {
            status,
            len,
            ttfb: ttfb.unwrap_or(total),
            total,
            body: kept,
        }
    }
}

/// What a load run measured, over its measuring window only.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    pub requests: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// CPU seconds of the server's processes in the window.
    pub server_cpu: f64,
    /// CPU seconds of this process (the client) in the window.
    pub client_cpu: f64,
    pub reconnects: u64,
}

impl Load {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e9
    }
    /// Server CPU per request, µs.
    pub fn server_us(&self) -> f64 {
        self.server_cpu * 1e6 / self.requests.max(1) as f64
    }
    /// Client CPU per request, µs.
    pub fn client_us(&self) -> f64 {
        self.client_cpu * 1e6 / self.requests.max(1) as f64
    }
}

/// `conns` keep-alive connections to `addr`, each asking for `paths` in
/// turn (connection `c` starting at path `c`) as fast as answers come, for
/// `warmup` then `measure`; only the requests that end inside `measure`
/// count. Every answer must be 200 with `len` bytes. `server_cpu` reads the
/// server's CPU seconds.
pub async fn load(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    len: u64,
    conns: usize,
    warmup: Duration,
    measure: Duration,
    server_cpu: &dyn Fn() -> f64,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(conns);
    for c in 0..conns {
        let (paths, stop, requests, bytes) = (
            Arc::clone(&paths),
            Arc::clone(&stop),
            Arc::clone(&requests),
            Arc::clone(&bytes),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut i = c;
            while !stop.load(Relaxed) {
                let got = conn.get(&paths[i % paths.len()], false).await;
                assert_eq!(got.status, StatusCode::OK, "{}", paths[i % paths.len()]);
                assert_eq!(got.len, len, "{}", paths[i % paths.len()]);
                requests.fetch_add(1, Relaxed);
                bytes.fetch_add(got.len, Relaxed);
                i += 1;
            }
            conn.reconnects
        }));
    }
    tokio::time::sleep(warmup).await;
    let (r0, b0) = (requests.load(Relaxed), bytes.load(Relaxed));
    let (s0, c0) = (server_cpu(), crate::sys::self_cpu_seconds());
    let t0 = Instant::now();
    tokio::time::sleep(measure).await;
    let (r1, b1) = (requests.load(Relaxed), bytes.load(Relaxed));
    let (s1, c1) = (server_cpu(), crate::sys::self_cpu_seconds());
    let seconds = t0.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    let mut reconnects = 0;
    for t in tasks {
        reconnects += t.await.expect("client task");
    }
    Load {
        requests: r1 - r0,
        bytes: b1 - b0,
        seconds,
        server_cpu: s1 - s0,
        client_cpu: c1 - c0,
        reconnects,
    }
}
