//! The proxy speaks HTTP/1.1 itself (`src/conn/`): framing checked with
//! raw sockets and with curl, a real client. Hits (sent with `sendfile`)
//! and misses (a flight) give the same bytes, whole or by range, on
//! keep-alive connections, to HTTP/1.0 clients, and when a request carries
//! a body the proxy never reads.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{segment_url, start};
use kithara_test_utils::OriginConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

fn host_port(u: &Url) -> String {
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

/// Raw bytes to the proxy; its whole answer (it closes, or 10 s pass).
async fn raw(hp: &str, request: &[u8]) -> Vec<u8> {
    let mut sock = TcpStream::connect(hp).await.unwrap();
    sock.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    out
}

/// The head (as text) and body of one answer.
fn split(answer: &[u8]) -> (String, &[u8]) {
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    (
        String::from_utf8_lossy(&answer[..at]).to_lowercase(),
        &answer[at + 4..],
    )
}

/// curl, exit status checked; its stdout.
fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_gets_whole_segments_and_ranges_on_a_miss_and_a_hit() {
    let s = start(
        OriginConfig::default().segments(3).segment_size(300_000),
        |o| o,
    )
    .await;
    let want = s.origin.segment_served_bytes(0, 1);
    let url = segment_url(&s, 1).await;
    let u = url.as_str().to_owned();
    // The miss, then the hit, by range and whole (twice in one curl run,
    // on one keep-alive connection).
    for round in ["miss", "hit"] {
        for (range, want) in [
            ("1000-1999", &want[1000..2000]),
            ("299990-", &want[299_990..]),
        ] {
            let u2 = u.clone();
            let out = tokio::task::spawn_blocking(move || curl(&["-r", range, &u2]))
                .await
                .unwrap();
            assert_eq!(out, want, "{round} {range}");
        }
        let u2 = u.clone();
        let whole = tokio::task::spawn_blocking(move || curl(&[&u2, &u2]))
            .await
            .unwrap();
        assert_eq!(whole.len(), 2 * want.len(), "{round}");
        assert!(
            whole[..want.len()] == want[..] && whole[want.len()..] == want[..],
            "{round}"
        );
    }
    assert_eq!(s.origin.requests(&s.origin.segment_path(0, 1)), 1);
    // HEAD: the length, no body; HTTP/1.0.
    let u2 = u.clone();
    let head = tokio::task::spawn_blocking(move || curl(&["-I", &u2]))
        .await
        .unwrap();
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", want.len())),
        "{head}"
    );
    let u2 = u.clone();
    let old = tokio::task::spawn_blocking(move || curl(&["--http1.0", &u2]))
        .await
        .unwrap();
    assert_eq!(old, want);
}

/// An HTTP/1.0 client gets a whole hit and a whole miss, and the proxy
/// closes after each (no keep-alive asked for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_clients_get_whole_answers_then_the_close() {
    let s = start(OriginConfig::default().segments(3), |o| o).await;
    let hp = host_port(s.proxy.base_url());
    for i in [0, 0, 1] {
        let url = segment_url(&s, i).await;
        let req = format!(
            "GET {} HTTP/1.0\r\nHost: {hp}\r\n\r\n",
            &url[url::Position::BeforePath..]
        );
        let answer = raw(&hp, req.as_bytes()).await;
        let (head, body) = split(&answer);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert_eq!(body, &s.origin.segment_served_bytes(0, i)[..]);
    }
}

/// A request with a body: the proxy never reads it, answers whole, then
/// closes (the next "request" in the body is not served). Several Hosts,
/// or a length beside a transfer coding, are 400 with no upstream contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_never_read_as_requests() {
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    let hp = host_port(s.proxy.base_url());
    let url = segment_url(&s, 0).await;
    let target = url[url::Position::BeforePath..].to_owned();
    let smuggled = format!("GET {target} HTTP/1.1\r\nHost: {hp}\r\n\r\n");
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: {hp}\r\nContent-Length: {}\r\n\r\n{smuggled}",
        smuggled.len()
    );
    let answer = raw(&hp, req.as_bytes()).await;
    let (head, body) = split(&answer);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(
        body,
        &s.origin.segment_served_bytes(0, 0)[..],
        "one answer, whole"
    );
    s.origin.reset_requests();
    for bad in [
        format!("GET {target} HTTP/1.1\r\nHost: {hp}\r\nHost: {hp}\r\n\r\n"),
        format!(
            "GET {target} HTTP/1.1\r\nHost: {hp}\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"
        ),
        format!(
            "GET {target} HTTP/1.1\r\nHost: {hp}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        ),
        format!("GET {target} HTTP/1.1\r\nHost: {hp}\r\nContent-Length: x\r\n\r\n"),
    ] {
        let answer = raw(&hp, bad.as_bytes()).await;
        let (head, _) = split(&answer);
        assert!(head.starts_with("http/1.1 400"), "{bad:?}: {head}");
    }
    assert_eq!(s.origin.total_requests(), 0);
}

/// Keep-alive: one connection carries a miss, hits, a range, a HEAD and a
/// refusal, each answer framed by its length so the next one parses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_carries_many_answers() {
    let s = start(OriginConfig::default().segments(3), |o| o).await;
    let hp = host_port(s.proxy.base_url());
    let url = segment_url(&s, 2).await;
    let target = url[url::Position::BeforePath..].to_owned();
    let want = s.origin.segment_served_bytes(0, 2);
    let mut sock = TcpStream::connect(&hp).await.unwrap();
    let asks = [
        ("GET", "", 200, want.len()),
        ("GET", "", 200, want.len()),
        ("GET", "Range: bytes=10-19\r\n", 206, 10),
        ("HEAD", "", 200, 0),
        ("DELETE", "", 405, usize::MAX),
        ("GET", "", 200, want.len()),
    ];
    let mut buf = Vec::new();
    for (method, extra, status, len) in asks {
        let req = format!("{method} {target} HTTP/1.1\r\nHost: {hp}\r\n{extra}\r\n");
        sock.write_all(req.as_bytes()).await.unwrap();
        // Read one answer: its head, then exactly its Content-Length.
        let (head, body_len) = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..at]).to_lowercase();
                let n: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                buf.drain(..at + 4);
                break (head, if method == "HEAD" { 0 } else { n });
            }
            let mut piece = [0u8; 65536];
            let n = sock.read(&mut piece).await.unwrap();
            assert!(n > 0, "closed early");
            buf.extend_from_slice(&piece[..n]);
        };
        assert!(
            head.starts_with(&format!("http/1.1 {status}")),
            "{method}: {head}"
        );
        while buf.len() < body_len {
            let mut piece = [0u8; 65536];
            let n = sock.read(&mut piece).await.unwrap();
            assert!(n > 0, "closed early");
            buf.extend_from_slice(&piece[..n]);
        }
        let body: Vec<u8> = buf.drain(..body_len).collect();
        if len != usize::MAX {
            assert_eq!(body.len(), len, "{method} {extra}");
        }
        if status == 200 && method == "GET" {
            assert_eq!(body, want);
        } else if status == 206 {
            assert_eq!(body, want[10..20]);
        }
    }
    assert_eq!(s.origin.requests(&s.origin.segment_path(0, 2)), 1);
}

/// The threads of the proxy listening on `port` that serve connections
/// (named `proxy:PORT/I`, see `src/loops.rs`).
#[cfg(target_os = "linux")]
fn loop_threads(port: u16) -> usize {
    let prefix = format!("proxy:{port}/");
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(&prefix))
        .count()
}

/// Connections are served on the proxy's own event loops (one thread
/// each), or on the caller's runtime with `event_loops(0)`; either way the
/// bytes are the origin's, miss and hit, and a shutdown ends the loops.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn event_loops_serve_the_same_bytes_and_end_with_the_proxy() {
    for n in [3, 0] {
        let s = start(OriginConfig::default().segments(4), |o| o.event_loops(n)).await;
        let port = s.proxy.base_url().port().unwrap();
        // A thread takes its name once it runs: wait (bounded) for that.
        common::until("the loops to run", || loop_threads(port) == n).await;
        let master = s.proxy.url_for(&s.origin.master_url());
        // Several connections at once, so that each loop gets some.
        let plays = futures_util::future::join_all((0..4).map(|_| common::play(&master, 0))).await;
        let warm = common::play(&master, 0).await;
        for p in plays.iter().chain([&warm]) {
            assert_eq!(p.media, common::served(&s.origin, 0, 4), "{n} loops");
        }
        assert!(s.proxy.stats().hits >= 4, "{:?}", s.proxy.stats());
        s.proxy.shutdown().await;
        assert_eq!(loop_threads(port), 0, "loops left after shutdown");
    }
}
