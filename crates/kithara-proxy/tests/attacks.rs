//! The proxy under attack: a client that never reads, a player that leaves,
//! hostile origins (endless, trickling, oversized, lying, redirecting,
//! naming other hosts), absurd requests, and a shutdown in the middle of a
//! fetch. Every test is loopback only and bounded: each wait has a timeout.
//!
//! Tests that were marked `#[ignore = "bug: ..."]` showed a problem the proxy had;
//! the others are attacks it withstands, kept so that it goes on doing so.
//! The two tests that measure the process's memory run alone (the others
//! take [`SERIAL`] shared, they take it exclusively).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Setup, client, get, get_with, open_cache, served, start, uris};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use kithara_cache::{AssetCache, CachePath};
use kithara_proxy::{Limits, Proxy, ProxyOptions};
use kithara_test_utils::{HlsOrigin, OriginConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{RwLock, watch};
use tokio::time::timeout;
use url::Url;

/// Taken shared by every test, exclusively by the tests that measure the
/// process's resident memory (so that no other test allocates meanwhile).
static SERIAL: RwLock<()> = RwLock::const_new(());

const SECOND: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// A hand-written origin: one handler per request, on a raw socket, so that a
// test can lie about lengths, trickle, never end, redirect anywhere.
// ---------------------------------------------------------------------------

/// A request as the raw origin saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// The request target (path and query).
    target: String,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

type Handler = Arc<dyn Fn(Seen, TcpStream) -> BoxFuture<'static, ()> + Send + Sync>;

/// An origin on `127.0.0.1` whose every answer a test writes by hand.
struct Raw {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Raw {
    async fn start(
        handler: impl Fn(Seen, TcpStream) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let task = tokio::spawn({
            let seen = Arc::clone(&seen);
            async move {
                while let Ok((mut sock, _)) = listener.accept().await {
                    let (seen, handler) = (Arc::clone(&seen), Arc::clone(&handler));
                    tokio::spawn(async move {
                        let Some(req) = read_head(&mut sock).await else {
                            return;
                        };
                        seen.lock().unwrap().push(req.clone());
                        handler(req, sock).await;
                    });
                }
            }
        });
        Raw { addr, seen, task }
    }

    fn url(&self, target: &str) -> Url {
        format!("http://{}{target}", self.addr).parse().unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn requests(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path() == path).count()
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request head (up to 64 KiB, within 10 s).
async fn read_head(sock: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
            let n = sock.read(&mut piece).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&piece[..n]);
        }
        Some(())
    };
    timeout(10 * SECOND, read).await.ok()??;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Seen { target, headers })
}

/// A whole answer with its length, then the connection closed.
async fn reply(mut sock: TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body).await;
    let _ = sock.shutdown().await;
}

/// The head of a chunked answer (no length announced).
async fn chunked_head(sock: &mut TcpStream) -> std::io::Result<()> {
    sock.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await
}

async fn chunk(sock: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    sock.write_all(&out).await
}

/// A VOD media playlist of `segments` (URIs as written).
fn vod(segments: &[&str]) -> String {
    let mut text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n".to_owned();
    for s in segments {
        text.push_str(&format!("#EXTINF:4,\n{s}\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

// ---------------------------------------------------------------------------
// Shared steps.
// ---------------------------------------------------------------------------

fn host_port(p: &Proxy) -> String {
    let b = p.base_url();
    format!("{}:{}", b.host_str().unwrap(), b.port().unwrap())
}

/// Play `top` (a media playlist) through `proxy`: the proxy URLs of the
/// URIs its playlist lists, in order.
async fn listed(proxy: &Proxy, top: &Url) -> Vec<Url> {
    let play = proxy.url_for(top);
    let got = timeout(10 * SECOND, get(&play))
        .await
        .expect("playlist in time");
    assert_eq!(got.status, 200, "{}", got.text());
    uris(&got.text())
        .iter()
        .map(|u| play.join(u).unwrap())
        .collect()
}

/// The proxy URL of segment `i` of variant 0 of an [`HlsOrigin`].
async fn segment_url(s: &Setup, i: usize) -> Url {
    let master = s.proxy.url_for(&s.origin.master_url());
    let m = get(&master).await.text();
    let media = master.join(&uris(&m)[0]).unwrap();
    let p = get(&media).await.text();
    media.join(&uris(&p)[i]).unwrap()
}

/// A whole body, or how much of it arrived before it failed.
async fn body_of(resp: reqwest::Response) -> Result<Vec<u8>, usize> {
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(c) = timeout(10 * SECOND, body.next())
        .await
        .expect("a stalled body")
    {
        match c {
            Ok(c) => out.extend_from_slice(&c),
            Err(_) => return Err(out.len()),
        }
    }
    Ok(out)
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Raw bytes to the proxy; its whole answer (it closes, or 10 s pass).
async fn raw(hp: &str, request: &[u8]) -> String {
    let mut sock = TcpStream::connect(hp).await.unwrap();
    let _ = sock.write_all(request).await;
    let mut out = Vec::new();
    let _ = timeout(10 * SECOND, sock.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// Problems found.
// ---------------------------------------------------------------------------

/// Any local process, without the token: a few connections that pipeline
/// requests (each a 404) and never read the answers. Once their socket
/// buffers are full, hyper waits to write forever (no write timeout; the
/// header timeout only runs while a request head is read), so each holds
/// one of `max_connections` slots for good, and the accept loop stops
/// accepting: the app's own player is locked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_cannot_take_every_connection_slot() {
    let _serial = SERIAL.read().await;
    let mut limits = Limits::default();
    limits.max_connections = 4;
    limits.header_timeout = SECOND;
    limits.write_timeout = SECOND;
    let s = start(OriginConfig::default().segments(2), |o| o.limits(limits)).await;
    let hp = host_port(&s.proxy);
    let addr: SocketAddr = hp.parse().unwrap();
    let hogs: Vec<_> = (0..limits.max_connections)
        .map(|_| {
            let hp = hp.clone();
            tokio::spawn(async move {
                let sock = TcpSocket::new_v4().unwrap();
                sock.set_recv_buffer_size(4096).unwrap();
                let mut c = sock.connect(addr).await.unwrap();
                let batch = format!("GET /nothing HTTP/1.1\r\nHost: {hp}\r\n\r\n").repeat(2000);
                // Until the proxy stops reading (its answers fill every
                // buffer between it and us), at most 64 MiB of requests.
                for _ in 0..800 {
                    match timeout(2 * SECOND, c.write_all(batch.as_bytes())).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) | Err(_) => break,
                    }
                }
                c
            })
        })
        .collect();
    let mut held = Vec::new();
    for h in hogs {
        held.push(h.await.unwrap());
    }
    // The app's player, with the token, asks for its playlist.
    let url = s.proxy.url_for(&s.origin.master_url());
    let answered = timeout(10 * SECOND, get(&url)).await;
    assert!(
        answered.is_ok(),
        "the proxy accepted no new connection in 10 s: {} never-reading clients hold every slot",
        held.len()
    );
    assert_eq!(answered.unwrap().status, 200);
    drop(held);
}

/// A hostile origin whose segment never ends (a byte now and then, each
/// within the request timeout), and a player that asks for it once and
/// leaves. The fetch goes on without anyone to serve, with no bound on its
/// length or duration, and keeps its upstream turn: with every turn taken
/// so (`max_upstream` of them, 32 by default), no other track plays, and
/// requests wait for a turn without any timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_nobody_reads_any_more_does_not_starve_other_tracks() {
    let _serial = SERIAL.read().await;
    let mut limits = Limits::default();
    limits.max_upstream = 1;
    let s = start(OriginConfig::default().segments(2), |o| {
        o.limits(limits).request_timeout(2 * SECOND)
    })
    .await;
    let closed = Arc::new(AtomicBool::new(false));
    let hostile = Raw::start({
        let closed = Arc::clone(&closed);
        move |req, mut sock| {
            let closed = Arc::clone(&closed);
            Box::pin(async move {
                match req.path() {
                    "/m.m3u8" => reply(sock, 200, &[], vod(&["s.ts"]).as_bytes()).await,
                    _ => {
                        // A byte every 50 ms, for ever (pacing, not sync).
                        let _ = chunked_head(&mut sock).await;
                        while chunk(&mut sock, b"x").await.is_ok() {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        closed.store(true, Ordering::SeqCst);
                    }
                }
            })
        }
    })
    .await;
    let seg = listed(&s.proxy, &hostile.url("/m.m3u8")).await[0].clone();
    {
        let resp = client().get(seg).send().await.unwrap();
        let mut body = resp.bytes_stream();
        let first = timeout(10 * SECOND, body.next())
            .await
            .expect("a first byte");
        assert!(first.is_some());
        // The player leaves.
    }
    let other = s.proxy.url_for(&s.origin.master_url());
    let answered = timeout(10 * SECOND, get(&other)).await;
    assert!(
        answered.is_ok(),
        "another track got no answer in 10 s: the abandoned fetch holds the only upstream turn \
         (origin connection closed by the proxy: {})",
        closed.load(Ordering::SeqCst)
    );
    assert_eq!(answered.unwrap().status, 200);
}

/// Shutdown aborts the flights' fetch tasks, but a flight stays in the
/// `Flights` map (only `tee::fly` lands it), so its watch sender lives on
/// and a player following it waits for ever; the connection task is not
/// aborted either after the grace period. The contract: responses finish
/// or are cut within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_a_response_whose_fetch_it_aborted() {
    let _serial = SERIAL.read().await;
    let s = start(
        OriginConfig::default().segments(2).segment_size(300_000),
        |o| o,
    )
    .await;
    let url = segment_url(&s, 0).await;
    let seg = s.origin.segment_path(0, 0);
    let hold = s.origin.hold(&seg, 100_000);
    let resp = client().get(url).send().await.unwrap();
    let mut body = resp.bytes_stream();
    let mut got = 0;
    while got < 100_000 {
        let c = timeout(10 * SECOND, body.next())
            .await
            .expect("the first bytes");
        got += c.unwrap().unwrap().len();
    }
    let Setup {
        origin,
        dir: _dir,
        cache,
        proxy,
    } = s;
    timeout(20 * SECOND, proxy.shutdown())
        .await
        .expect("shutdown within its grace period");
    // The fetch is gone: the response must end, cut short.
    let ended = timeout(10 * SECOND, async {
        while let Some(c) = body.next().await {
            if c.is_err() {
                return true;
            }
        }
        false
    })
    .await;
    drop(hold);
    assert!(
        ended.is_ok(),
        "the player's response still hangs 10 s after shutdown returned"
    );
    assert!(ended.unwrap(), "a cut response must not end cleanly");
    let asset = cache.assets().unwrap();
    let p = CachePath::parse("v0/seg/000000.ts").unwrap();
    assert!(asset.iter().all(|a| !cache.asset(a.id).exists(&p)));
    drop(origin);
}

/// A hostile origin announces a segment larger than the cache: the proxy
/// keeps every byte of it in a memory spool (`Spool::Memory`, tee.rs) for
/// as long as the fetch lasts, whatever the player reads. An origin that
/// announces gigabytes takes the process down (the same happens with a
/// read-only cache, or without a length).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_larger_than_the_cache_is_not_held_whole_in_memory() {
    let _serial = SERIAL.write().await;
    const LEN: usize = 96 << 20;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(ProxyOptions::new(open_cache(dir.path(), 4 << 20)))
        .await
        .unwrap();
    let (release, released) = watch::channel(false);
    let hostile = Raw::start(move |req, mut sock| {
        let mut released = released.clone();
        Box::pin(async move {
            if req.path() == "/m.m3u8" {
                return reply(sock, 200, &[], vod(&["big.ts"]).as_bytes()).await;
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {LEN}\r\n\r\n");
            let piece = vec![0x47u8; 64 * 1024];
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut sent = 0;
            while sent < LEN - 1 {
                let n = piece.len().min(LEN - 1 - sent);
                if sock.write_all(&piece[..n]).await.is_err() {
                    return;
                }
                sent += n;
            }
            // All but the last byte, until the test has looked.
            let _ = released.wait_for(|r| *r).await;
            let _ = sock.write_all(&piece[..1]).await;
        })
    })
    .await;
    let seg = listed(&proxy, &hostile.url("/m.m3u8")).await[0].clone();
    let before = rss();
    let resp = client().get(seg).send().await.unwrap();
    assert_eq!(resp.content_length(), Some(LEN as u64));
    let mut body = resp.bytes_stream();
    let mut got = 0usize;
    while got < LEN - 1 {
        let c = timeout(10 * SECOND, body.next())
            .await
            .expect("bytes in time");
        got += c.unwrap().unwrap().len();
    }
    let during = rss();
    release.send_replace(true);
    while let Some(c) = timeout(10 * SECOND, body.next()).await.unwrap() {
        got += c.unwrap().len();
    }
    assert_eq!(got, LEN);
    let grown = during.saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "the proxy grew by {} MiB streaming one {} MiB segment to one reader",
        grown >> 20,
        LEN >> 20
    );
    proxy.shutdown().await;
}

/// A segment without `Content-Length` (chunked) larger than the whole
/// cache: `tee::writer` only falls back to memory for an announced length,
/// so the cache writer refuses a write past `max_bytes` part-way, the fetch
/// fails, and the player's response is cut. Every try fails the same way:
/// such a segment never plays. (A disk that fills up, ENOSPC, cuts every
/// miss the same way.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_segment_larger_than_the_cache_still_plays() {
    let _serial = SERIAL.read().await;
    const LEN: usize = 3 << 20;
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), 1 << 20);
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()))
        .await
        .unwrap();
    let content: Arc<Vec<u8>> = Arc::new((0..LEN).map(|i| (i % 251) as u8).collect());
    let hostile = Raw::start({
        let content = Arc::clone(&content);
        move |req, mut sock| {
            let content = Arc::clone(&content);
            Box::pin(async move {
                if req.path() == "/m.m3u8" {
                    return reply(sock, 200, &[], vod(&["big.ts"]).as_bytes()).await;
                }
                let _ = chunked_head(&mut sock).await;
                for piece in content.chunks(64 * 1024) {
                    if chunk(&mut sock, piece).await.is_err() {
                        return;
                    }
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
                let _ = sock.shutdown().await;
            })
        }
    })
    .await;
    let seg = listed(&proxy, &hostile.url("/m.m3u8")).await[0].clone();
    let resp = client().get(seg).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    match body_of(resp).await {
        Ok(body) => assert!(body == *content, "wrong bytes"),
        Err(n) => panic!("the response was cut after {n} of {LEN} bytes"),
    }
    assert!(cache.stats().unwrap().total_bytes <= 1 << 20);
    proxy.shutdown().await;
}

/// Key extras (`key_header`) are secrets for the app's key server. A key
/// URL that redirects to another host takes them along: reqwest strips
/// only `Authorization` and cookies on a cross-host redirect, not a custom
/// header such as `x-key-auth`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_headers_do_not_follow_a_redirect_to_another_host() {
    let _serial = SERIAL.read().await;
    let elsewhere =
        Raw::start(|_, sock| Box::pin(async move { reply(sock, 200, &[], &[7u8; 16]).await }))
            .await;
    let to = elsewhere.url("/k").to_string();
    let origin = Raw::start(move |req, sock| {
        let to = to.clone();
        Box::pin(async move {
            match req.path() {
                "/m.m3u8" => {
                    let text = vod(&["s.ts"])
                        .replace("#EXTINF", "#EXT-X-KEY:METHOD=AES-128,URI=\"/k\"\n#EXTINF");
                    reply(sock, 200, &[], text.as_bytes()).await;
                }
                "/k" => reply(sock, 302, &[("Location", &to)], b"").await,
                _ => reply(sock, 404, &[], b"").await,
            }
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        ProxyOptions::new(open_cache(dir.path(), 1 << 20)).key_header("x-key-auth", "s3cret"),
    )
    .await
    .unwrap();
    let list = listed(&proxy, &origin.url("/m.m3u8")).await;
    let key = list.iter().find(|u| u.path().contains("/keys/")).unwrap();
    let got = timeout(10 * SECOND, get(key)).await.unwrap();
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        origin.seen().iter().find(|s| s.path() == "/k").map(|s| {
            s.headers
                .iter()
                .any(|(n, v)| n == "x-key-auth" && v == "s3cret")
        }),
        Some(true),
        "the key server itself gets the secret"
    );
    let leaked: Vec<_> = elsewhere
        .seen()
        .into_iter()
        .filter(|s| s.headers.iter().any(|(_, v)| v.contains("s3cret")))
        .collect();
    assert!(leaked.is_empty(), "sent to another host: {leaked:?}");
    proxy.shutdown().await;
}

/// Whoever holds a proxy URL (a web page whose hls.js was given one) can
/// `play?url=` any playlist, and a playlist may name a key on any host:
/// the proxy sends that host the app's key credentials (`key_header`,
/// `key_query`; the global `header` extras go everywhere too). The
/// credentials belong to the app's key server, not to whatever host a
/// playlist names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_credentials_go_only_to_the_playlists_own_host() {
    let _serial = SERIAL.read().await;
    let collector =
        Raw::start(|_, sock| Box::pin(async move { reply(sock, 200, &[], &[7u8; 16]).await }))
            .await;
    let key_url = collector.url("/collect").to_string();
    let origin = Raw::start(move |req, sock| {
        let key_url = key_url.clone();
        Box::pin(async move {
            let text = vod(&["s.ts"]).replace(
                "#EXTINF",
                &format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{key_url}\"\n#EXTINF"),
            );
            match req.path() {
                "/m.m3u8" => reply(sock, 200, &[], text.as_bytes()).await,
                _ => reply(sock, 404, &[], b"").await,
            }
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(
        ProxyOptions::new(open_cache(dir.path(), 1 << 20))
            .key_header("x-key-auth", "s3cret")
            .key_query("auth", "t0ken"),
    )
    .await
    .unwrap();
    let list = listed(&proxy, &origin.url("/m.m3u8")).await;
    let key = list.iter().find(|u| u.path().contains("/keys/")).unwrap();
    let _ = timeout(10 * SECOND, get(key)).await.unwrap();
    let leaked: Vec<_> = collector
        .seen()
        .into_iter()
        .filter(|s| {
            s.target.contains("t0ken") || s.headers.iter().any(|(_, v)| v.contains("s3cret"))
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "another host got the key credentials: {leaked:?}"
    );
    proxy.shutdown().await;
}

/// Two tracks whose URLs differ only in their query (`?id=1`, `?id=2`: a
/// common way to name content) are one asset to the proxy
/// (`AssetId::from_url` drops the query; kithara-hls has `id_with_query`
/// for this, the proxy has nothing): the second plays the first's
/// playlist and segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_differs_only_in_its_query_is_another_track() {
    let _serial = SERIAL.read().await;
    let origin = Raw::start(|req, sock| {
        Box::pin(async move {
            match (req.path(), req.param("id").as_deref()) {
                ("/track.m3u8", Some("1")) => {
                    reply(sock, 200, &[], vod(&["one.ts"]).as_bytes()).await
                }
                ("/track.m3u8", Some("2")) => {
                    reply(sock, 200, &[], vod(&["two.ts"]).as_bytes()).await
                }
                ("/one.ts", _) => reply(sock, 200, &[], &[1u8; 1000]).await,
                ("/two.ts", _) => reply(sock, 200, &[], &[2u8; 1000]).await,
                _ => reply(sock, 404, &[], b"").await,
            }
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // Tracks named by a query parameter: the app says so.
    let opts = ProxyOptions::new(open_cache(dir.path(), 1 << 20)).asset_id_with_query(true);
    let proxy = Proxy::start(opts).await.unwrap();
    let one = listed(&proxy, &origin.url("/track.m3u8?id=1")).await;
    assert_eq!(&get(&one[0]).await.body[..], &[1u8; 1000][..]);
    let two = listed(&proxy, &origin.url("/track.m3u8?id=2")).await;
    let got = get(&two[0]).await;
    assert_eq!(got.status, 200);
    assert!(
        got.body[..] == [2u8; 1000][..],
        "track 2 played track 1's segment (origin asked for track 2: {} times)",
        origin
            .seen()
            .iter()
            .filter(|s| s.param("id").as_deref() == Some("2"))
            .count()
    );
    proxy.shutdown().await;
}

/// A signed top playlist (`?t=<token>`, as CDNs sign them): the app plays
/// it, later the tokens rotate and the app plays it again with a freshly
/// signed URL. An uncached segment's old URL answers 403, the proxy
/// fetches the playlist again, but at `Asset::source`, the first URL it
/// was ever given (`Assets::open` never updates it): that one has expired
/// too, so the segment is a 502 although the app gave a valid URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_playlist_is_renewed_at_the_latest_url_the_app_gave() {
    let _serial = SERIAL.read().await;
    let generation = Arc::new(AtomicU64::new(1));
    let origin = Raw::start({
        let generation = Arc::clone(&generation);
        move |req, sock| {
            let current = generation.load(Ordering::SeqCst).to_string();
            Box::pin(async move {
                if req.param("t").as_deref() != Some(current.as_str()) {
                    return reply(sock, 403, &[], b"expired").await;
                }
                match req.path() {
                    "/v.m3u8" => {
                        let segs = [format!("s0.ts?t={current}"), format!("s1.ts?t={current}")];
                        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
                        reply(sock, 200, &[], vod(&segs).as_bytes()).await
                    }
                    "/s0.ts" => reply(sock, 200, &[], &[0u8; 1000]).await,
                    "/s1.ts" => reply(sock, 200, &[], &[1u8; 1000]).await,
                    _ => reply(sock, 404, &[], b"").await,
                }
            })
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(ProxyOptions::new(open_cache(dir.path(), 1 << 20)))
        .await
        .unwrap();
    let first = listed(&proxy, &origin.url("/v.m3u8?t=1")).await;
    assert_eq!(get(&first[0]).await.status, 200);
    generation.store(2, Ordering::SeqCst);
    let second = listed(&proxy, &origin.url("/v.m3u8?t=2")).await;
    let got = timeout(10 * SECOND, get(&second[1])).await.unwrap();
    assert_eq!(
        got.status,
        200,
        "{} (playlist requests: {:?})",
        got.text().trim(),
        origin
            .seen()
            .iter()
            .filter(|s| s.path() == "/v.m3u8")
            .map(|s| s.target.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(&got.body[..], &[1u8; 1000][..]);
    proxy.shutdown().await;
}

/// Every asset ever opened stays in `Assets` with every playlist it
/// served (text and parse) for the life of the proxy: nothing is dropped
/// when the pin ends. A long-running app that plays many tracks, or anyone
/// holding the token (`play?url=` on N URLs of playlists of up to
/// `max_playlist_bytes` each), grows the proxy without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_no_longer_playing_do_not_stay_in_memory() {
    let _serial = SERIAL.write().await;
    // A read-only cache: nothing written, every playlist from the origin.
    let dir = tempfile::tempdir().unwrap();
    let cache = AssetCache::open_read_only(dir.path()).unwrap();
    let proxy = Proxy::start(ProxyOptions::new(cache).pin_linger(Duration::from_millis(50)))
        .await
        .unwrap();
    // A 4 MiB VOD playlist: one segment, then comments.
    let mut text = vod(&["s.ts"]);
    let filler = format!("#{}\n", "c".repeat(1023));
    while text.len() < 4 << 20 {
        text.push_str(&filler);
    }
    let text = Arc::new(text);
    let origin = Raw::start({
        let text = Arc::clone(&text);
        move |_, sock| {
            let text = Arc::clone(&text);
            Box::pin(async move { reply(sock, 200, &[], text.as_bytes()).await })
        }
    })
    .await;
    let before = rss();
    for n in 0..24 {
        let got = get(&proxy.url_for(&origin.url(&format!("/t{n}/m.m3u8")))).await;
        assert_eq!(got.status, 200, "{}", got.text());
    }
    let grown = || rss().saturating_sub(before);
    let played = grown();
    // 24 × 4 MiB of playlists (and their rewrites) were held for good
    // before (123 MiB); what stays now is connection buffers of both this
    // test's client and the proxy, and the allocator's slack.
    let deadline = tokio::time::Instant::now() + 10 * SECOND;
    while grown() >= 48 << 20 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        grown() < 48 << 20,
        "24 tracks played and over, the proxy still holds {} MiB (right after: {} MiB)",
        grown() >> 20,
        played >> 20
    );
    proxy.shutdown().await;
}

// ---------------------------------------------------------------------------
// Attacks the proxy withstands.
// ---------------------------------------------------------------------------

/// Absurd requests from anyone: raw non-UTF-8 bytes, percent-encoded
/// traversal, `..`, over-long and over-deep paths, other methods, an
/// absolute-form target naming another host, a body on a GET. Each is
/// refused (4xx or a closed connection), none reaches an origin, and the
/// proxy serves the next good request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_requests_are_refused_without_upstream_contact() {
    let _serial = SERIAL.read().await;
    let mut limits = Limits::default();
    limits.header_timeout = SECOND;
    let s = start(OriginConfig::default().segments(2), |o| o.limits(limits)).await;
    let hp = host_port(&s.proxy);
    let token = common::token(&s.proxy);
    let master = s.proxy.url_for(&s.origin.master_url());
    // Open the asset, so that its paths exist to be forged against.
    let m = get(&master).await.text();
    let media = master.join(&uris(&m)[0]).unwrap();
    let asset = media.path().split('/').nth(3).unwrap().to_owned();
    s.origin.reset_requests();
    let a = format!("/{token}/a/{asset}");
    let deep = "d/".repeat(40);
    let long = "l".repeat(300);
    let targets = [
        format!("{a}/v0/%2e%2e/%2e%2e/etc/passwd"),
        format!("{a}/v0%2fplaylist.m3u8"),
        format!("{a}/v0/../master.m3u8"),
        format!("{a}/./v0/playlist.m3u8"),
        format!("{a}/{deep}x.ts"),
        format!("{a}/v0/{long}.ts"),
        format!("{a}/v0/seg/000000.ts.kithara-tmp"),
        format!("{a}/state.json"),
        format!("{a}/.lock"),
        format!("/{token}/a/{asset}x/v0/playlist.m3u8"),
        format!("/{}/play?url=x", token.to_uppercase()),
        format!("/{token}/play?url=file%3A%2F%2F%2Fetc%2Fpasswd"),
        format!("/{token}/play?url=%FF%FE"),
        format!("/{token}/play?url="),
        format!("/{token}/play?uRl=x"),
        format!("/{token}%2Fplay?url=x"),
        format!("//{token}/play?url=x"),
    ];
    for target in &targets {
        let answer = raw(
            &hp,
            format!("GET {target} HTTP/1.1\r\nHost: {hp}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        let status: u16 = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!(
            (400..500).contains(&status),
            "{target}: {}",
            answer.lines().next().unwrap_or("")
        );
    }
    let mut non_utf8 = format!("GET /{token}/a/{asset}/v0/").into_bytes();
    non_utf8.extend_from_slice(b"\xff\xfe\x00.ts HTTP/1.1\r\nHost: ");
    non_utf8.extend_from_slice(format!("{hp}\r\nConnection: close\r\n\r\n").as_bytes());
    let others: Vec<Vec<u8>> = vec![
        non_utf8,
        format!("GET http://evil.example{} HTTP/1.1\r\nHost: evil.example\r\n\r\n", master.path())
            .into_bytes(),
        format!("TRACE /{token}/play?url=x HTTP/1.1\r\nHost: {hp}\r\n\r\n").into_bytes(),
        format!("CONNECT {hp} HTTP/1.1\r\nHost: {hp}\r\n\r\n").into_bytes(),
        format!("PUT {a}/v0/playlist.m3u8 HTTP/1.1\r\nHost: {hp}\r\nContent-Length: 4\r\n\r\nxxxx")
            .into_bytes(),
        format!("GET /{token}/play?url=x HTTP/1.1\r\nHost: {hp}\r\nHost: evil.example\r\n\r\n")
            .into_bytes(),
        format!("GET /{token}/play?url=x HTTP/1.1\r\nHost: {hp}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
            .into_bytes(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), // a TLS hello
        b"\r\n\r\n\r\n".to_vec(),
    ];
    for request in &others {
        let answer = raw(&hp, request).await;
        let status: u16 = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!(
            answer.is_empty() || (400..500).contains(&status),
            "{:?}: {}",
            String::from_utf8_lossy(request),
            answer.lines().next().unwrap_or("")
        );
    }
    assert_eq!(s.origin.total_requests(), 0, "{:?}", s.origin.request_log());
    // Still serving.
    assert_eq!(get(&media).await.status, 200);
}

/// Pipelined requests with the token: the answers come back in order,
/// whole, on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let _serial = SERIAL.read().await;
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    let hp = host_port(&s.proxy);
    let master = s.proxy.url_for(&s.origin.master_url());
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let seg = media.join(&uris(&get(&media).await.text())[1]).unwrap();
    let target = |u: &Url| u[url::Position::BeforePath..].to_owned();
    let mut req = String::new();
    for (u, last) in [(&seg, false), (&master, false), (&seg, true)] {
        req.push_str(&format!(
            "GET {} HTTP/1.1\r\nHost: {hp}\r\nRange: bytes=0-3\r\n{}\r\n",
            target(u),
            if last { "Connection: close\r\n" } else { "" }
        ));
    }
    let answer = raw(&hp, req.as_bytes()).await;
    let statuses: Vec<_> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["206", "206", "206"], "{answer}");
    assert_eq!(answer.matches("#EXT").count(), 1, "{answer}");
}

/// Range edge cases and HEAD on a miss (a flight) and then on the hit: a
/// HEAD fetches nothing twice and sends no body; a range past the end is
/// 416 without spoiling the fetch; suffix, open and oversized ranges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_and_head_on_a_miss_and_a_hit() {
    let _serial = SERIAL.read().await;
    let s = start(
        OriginConfig::default().segments(3).segment_size(100_000),
        |o| o,
    )
    .await;
    let want = served(&s.origin, 0, 3);
    let len = want[0].len();
    // HEAD on a miss: the length, no body; the fetch goes on and caches.
    let seg0 = segment_url(&s, 0).await;
    let head = client().head(seg0.clone()).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        len.to_string()
    );
    assert!(head.bytes().await.unwrap().is_empty());
    // 416 on a miss: the fetch it started completes and is cached.
    let seg1 = segment_url(&s, 1).await;
    let past = get_with(&seg1, &[("range", &format!("bytes={len}-"))]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some(format!("bytes */{len}")));
    let seg2 = segment_url(&s, 2).await;
    for (range, part) in [
        ("bytes=-1", len - 1..len),
        ("bytes=0-0", 0..1),
        ("bytes=10-18446744073709551615", 10..len),
        ("bytes=-18446744073709551615", 0..len),
        (" bytes = 5 - 9 ", 0..len), // not a range this proxy reads: the whole
    ] {
        for url in [&seg2, &seg2, &seg0, &seg1] {
            let got = get_with(url, &[("range", range)]).await;
            let i = [&seg0, &seg1, &seg2]
                .iter()
                .position(|u| *u == url)
                .unwrap();
            assert!(
                got.status == 206 || got.status == 200,
                "{range}: {}",
                got.status
            );
            assert_eq!(&got.body[..], &want[i][part.clone()], "{range} on {url}");
        }
    }
    for bad in [
        "bytes=18446744073709551615-",
        "bytes=99999999999999999999-",
        "bytes=5-4",
    ] {
        assert_eq!(
            get_with(&seg2, &[("range", bad)]).await.status,
            416,
            "{bad}"
        );
    }
    for i in 0..3 {
        assert_eq!(
            s.origin.requests(&s.origin.segment_path(0, i)),
            1,
            "segment {i}"
        );
    }
}

/// A follower that never reads (a stuck player) does not hold up the fetch
/// or the other players of the same resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_never_reads_holds_up_nobody() {
    let _serial = SERIAL.read().await;
    let s = start(
        OriginConfig::default().segments(2).segment_size(4 << 20),
        |o| o,
    )
    .await;
    let url = segment_url(&s, 0).await;
    let seg = s.origin.segment_path(0, 0);
    let hold = s.origin.hold(&seg, 1000);
    let hp = host_port(&s.proxy);
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut stuck = sock.connect(hp.parse().unwrap()).await.unwrap();
    stuck
        .write_all(
            format!(
                "GET {} HTTP/1.1\r\nHost: {hp}\r\n\r\n",
                &url[url::Position::BeforePath..]
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    common::until("the stuck player's fetch to reach the origin", || {
        s.origin.requests(&seg) == 1
    })
    .await;
    let reader = tokio::spawn({
        let url = url.clone();
        async move { client().get(url).send().await.unwrap() }
    });
    hold.release();
    let resp = timeout(10 * SECOND, reader).await.unwrap().unwrap();
    let body = body_of(resp).await.expect("the whole body");
    assert!(body == served(&s.origin, 0, 2)[0], "wrong bytes");
    assert_eq!(s.origin.requests(&seg), 1);
    let id = s.cache.assets().unwrap()[0].id;
    let p = CachePath::parse("v0/seg/000000.ts").unwrap();
    common::until("the segment to be cached", || s.cache.asset(id).exists(&p)).await;
    drop(stuck);
}

/// Hostile origins' playlists and keys: an endless (chunked) playlist, a
/// redirect loop, a redirect to `file:`, binary garbage, a playlist naming
/// `file:` and `data:` segments, a key of 100 KiB and one of 15 bytes.
/// Each is a 502 in bounded time, never a crash or a hang, and nothing of
/// it is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_playlists_and_keys_are_502() {
    let _serial = SERIAL.read().await;
    let origin = Raw::start(|req, mut sock| {
        Box::pin(async move {
            let keyed = |k: &str| {
                vod(&["s.ts"]).replace(
                    "#EXTINF",
                    &format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{k}\"\n#EXTINF"),
                )
            };
            match req.path() {
                "/endless.m3u8" => {
                    let _ = chunked_head(&mut sock).await;
                    let _ = chunk(&mut sock, b"#EXTM3U\n").await;
                    let line = format!("#{}\n", "x".repeat(64 * 1024 - 2));
                    while chunk(&mut sock, line.as_bytes()).await.is_ok() {}
                }
                "/loop.m3u8" => reply(sock, 302, &[("Location", "/loop.m3u8")], b"").await,
                "/file.m3u8" => reply(sock, 301, &[("Location", "file:///etc/passwd")], b"").await,
                "/garbage.m3u8" => reply(sock, 200, &[], b"\xff\xfe\x00\x01#EXTM3U\x00").await,
                "/schemes.m3u8" => {
                    let text = vod(&["file:///etc/passwd", "data:video/mp2t,AAAA"]);
                    reply(sock, 200, &[], text.as_bytes()).await
                }
                "/bigkey.m3u8" => reply(sock, 200, &[], keyed("/big.key").as_bytes()).await,
                "/shortkey.m3u8" => reply(sock, 200, &[], keyed("/short.key").as_bytes()).await,
                "/big.key" => reply(sock, 200, &[], &vec![1u8; 100 * 1024]).await,
                "/short.key" => reply(sock, 200, &[], &[1u8; 15]).await,
                _ => reply(sock, 404, &[], b"").await,
            }
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), 64 << 20);
    let mut limits = Limits::default();
    limits.max_playlist_bytes = 1 << 20;
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()).limits(limits))
        .await
        .unwrap();
    for p in [
        "/endless.m3u8",
        "/loop.m3u8",
        "/file.m3u8",
        "/garbage.m3u8",
        "/schemes.m3u8",
    ] {
        let got = timeout(20 * SECOND, get(&proxy.url_for(&origin.url(p))))
            .await
            .expect(p);
        assert_eq!(got.status, 502, "{p}: {}", got.text());
        assert_eq!(got.text().lines().count(), 1, "{p}");
    }
    for p in ["/bigkey.m3u8", "/shortkey.m3u8"] {
        let list = listed(&proxy, &origin.url(p)).await;
        let key = list.iter().find(|u| u.path().contains("/keys/")).unwrap();
        let got = timeout(10 * SECOND, get(key)).await.unwrap();
        assert_eq!(got.status, 502, "{p}: {}", got.text());
    }
    let keys = kithara_test_utils::files_recursive(dir.path())
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "key"))
        .count();
    assert_eq!(keys, 0, "a bad key was cached");
    assert!(origin.requests("/loop.m3u8") <= 11);
    proxy.shutdown().await;
}

/// A read-only cache (another process owns it): everything plays, served
/// from memory, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_cache_plays_and_writes_nothing() {
    let _serial = SERIAL.read().await;
    let origin = HlsOrigin::start(OriginConfig::default().segments(3).init(true)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before = kithara_test_utils::files_recursive(dir.path());
    let cache = AssetCache::open_read_only(dir.path()).unwrap();
    let proxy = Proxy::start(ProxyOptions::new(cache)).await.unwrap();
    let master = proxy.url_for(&origin.master_url());
    let played = timeout(20 * SECOND, common::play(&master, 0))
        .await
        .unwrap();
    assert_eq!(played.media, served(&origin, 0, 3));
    let again = timeout(20 * SECOND, common::play(&master, 0))
        .await
        .unwrap();
    assert_eq!(again.media, played.media);
    proxy.shutdown().await;
    assert_eq!(kithara_test_utils::files_recursive(dir.path()), before);
}

/// An origin that sends more than it announced, or announces a range it
/// does not send: the player gets exactly the announced bytes or a cut
/// response, and the cache holds only whole, announced-length resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_lies_about_lengths_caches_nothing_wrong() {
    let _serial = SERIAL.read().await;
    let origin = Raw::start(|req, mut sock| {
        Box::pin(async move {
            match req.path() {
                "/m.m3u8" => reply(sock, 200, &[], vod(&["more.ts", "less.ts"]).as_bytes()).await,
                "/more.ts" => {
                    // Announces 1000, sends 5000.
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                        .await;
                    let _ = sock.write_all(&[3u8; 5000]).await;
                    let _ = sock.shutdown().await;
                }
                _ => {
                    // Announces 5000, sends 1000 and closes.
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
                        .await;
                    let _ = sock.write_all(&[4u8; 1000]).await;
                    let _ = sock.shutdown().await;
                }
            }
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), 1 << 20);
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()))
        .await
        .unwrap();
    let list = listed(&proxy, &origin.url("/m.m3u8")).await;
    let more = body_of(client().get(list[0].clone()).send().await.unwrap()).await;
    assert_eq!(more.map(|b| b.len()), Ok(1000));
    let less = body_of(client().get(list[1].clone()).send().await.unwrap()).await;
    assert!(less.is_err(), "a short body must be cut");
    let id = cache.assets().unwrap()[0].id;
    let (m, l) = (
        CachePath::parse("v0/seg/000000.ts").unwrap(),
        CachePath::parse("v0/seg/000001.ts").unwrap(),
    );
    common::until("the announced length to be cached", || {
        cache.asset(id).exists(&m)
    })
    .await;
    assert_eq!(cache.asset(id).read(&m).unwrap().unwrap().len(), 1000);
    assert!(!cache.asset(id).exists(&l));
    proxy.shutdown().await;
}

/// Requests that race a flight as it lands (before, during and right after
/// the commit and the `land`) each get the whole resource, from one fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_racing_a_flight_as_it_lands_get_whole_bytes_from_one_fetch() {
    let _serial = SERIAL.read().await;
    let s = start(
        OriginConfig::default().segments(4).segment_size(200_000),
        |o| o,
    )
    .await;
    let want = served(&s.origin, 0, 4);
    let fetch = |url: Url| tokio::spawn(async move { get(&url).await });
    for (i, whole) in want.iter().enumerate() {
        let url = segment_url(&s, i).await;
        let seg = s.origin.segment_path(0, i);
        let hold = s.origin.hold(&seg, 100_000);
        let mut all = vec![fetch(url.clone())];
        common::until("the fetch to reach the origin", || {
            s.origin.requests(&seg) == 1
        })
        .await;
        all.extend((0..4).map(|_| fetch(url.clone())));
        hold.release();
        all.extend((0..8).map(|_| fetch(url.clone())));
        for got in all {
            let got = timeout(20 * SECOND, got).await.unwrap().unwrap();
            assert_eq!(got.status, 200);
            assert!(got.body == whole, "segment {i}: wrong bytes");
        }
        assert_eq!(s.origin.requests(&seg), 1, "segment {i}");
    }
}
