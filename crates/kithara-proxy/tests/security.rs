//! Behaviour 10: a loopback proxy is an attack surface for every page and
//! process on the machine. Each refusal here is checked with the origin's
//! request counters: a refused request never reaches an origin.

mod common;

use std::time::Duration;

use common::{get, start, uris};
use kithara_proxy::{Limits, Proxy, ProxyError, ProxyOptions};
use kithara_test_utils::OriginConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Send raw bytes, read the whole answer (the proxy closes or answers).
async fn raw(addr: &str, request: &[u8]) -> String {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn host_port(s: &common::Setup) -> String {
    let b = s.proxy.base_url();
    format!("{}:{}", b.host_str().unwrap(), b.port().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_base_and_wrong_tokens_are_404_without_upstream_contact() {
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    let base = s.proxy.base_url().clone();
    let origin = s.origin.master_url().to_string();
    let wrong = base.as_str().replace(&base.path()[1..9], "00000000");
    for url in [
        format!("http://{}/", host_port(&s)),
        format!("http://{}/play?url={origin}", host_port(&s)),
        format!("{wrong}play?url={origin}"),
        format!("{base}../play?url={origin}"),
        format!("{base}other"),
    ] {
        let got = get(&url.parse().unwrap()).await;
        assert_eq!(got.status, 404, "{url}");
    }
    assert_eq!(s.origin.total_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_resource_paths_are_403_without_upstream_contact() {
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let m = get(&master).await.text();
    let media = master.join(&uris(&m)[0]).unwrap();
    let listed = uris(&get(&media).await.text());
    s.origin.reset_requests();
    let asset = media.path().split('/').nth(3).unwrap().to_owned();
    let other = "ab".repeat(32);
    for forged in [
        media.join("seg/000099.ts").unwrap(),  // not in the playlist
        media.join("seg/000000.aac").unwrap(), // another extension
        media.join("../v7/playlist.m3u8").unwrap(), // no such variant
        media.join("../keys/00.key").unwrap(), // no such key
        media.join("../master.m3u8.url").unwrap(), // a side file
        media.join(&listed[0].replace(&asset, &other)).unwrap(), // an asset never opened
    ] {
        let got = get(&forged).await;
        assert_eq!(got.status, 403, "{forged}: {}", got.text());
    }
    assert_eq!(s.origin.total_requests(), 0, "{:?}", s.origin.request_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_http_upstreams() {
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    for bad in [
        "file:///etc/passwd",
        "data:application/x-mpegurl,%23EXTM3U",
        "ftp://h/x.m3u8",
        "not a url",
        "http://",
    ] {
        let url = s.proxy.url_for(&url::Url::parse("http://x/").unwrap());
        let url = url.as_str().replace(
            "http%3A%2F%2Fx%2F",
            &url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>(),
        );
        let got = get(&url.parse().unwrap()).await;
        assert_eq!(got.status, 400, "{bad}: {}", got.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_is_421() {
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    let hp = host_port(&s);
    let path = s.proxy.url_for(&s.origin.master_url());
    let target = &path.as_str()[path.as_str().find(path.path()).unwrap()..];
    for host in [
        "evil.example",
        "evil.example:80",
        &format!("attacker.test:{}", s.proxy.base_url().port().unwrap()),
    ] {
        let answer = raw(
            &hp,
            format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 421"), "{host}: {answer}");
    }
    let ok = raw(
        &hp,
        format!(
            "GET {target} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            s.proxy.base_url().port().unwrap()
        )
        .as_bytes(),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert_eq!(s.origin.requests("/master.m3u8"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_is_answered() {
    let s = start(OriginConfig::default().segments(2), |o| o).await;
    let url = s.proxy.url_for(&s.origin.master_url());
    let resp = common::client()
        .request(reqwest::Method::OPTIONS, url.clone())
        .header("origin", "http://page.test")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(
        resp.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Range")
    );
    assert_eq!(s.origin.total_requests(), 0);
    assert_eq!(
        get(&url)
            .await
            .header("access-control-allow-origin")
            .as_deref(),
        Some("*")
    );
    let post = common::client().post(url).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_only_unless_remote_is_allowed() {
    let cache = kithara_cache::AssetCache::in_memory(1 << 20);
    let any = "0.0.0.0:0".parse().unwrap();
    let err = Proxy::start(ProxyOptions::new(cache.clone()).listen(any))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::NotLoopback { .. }), "{err}");
    let remote = Proxy::start(ProxyOptions::new(cache).listen(any).allow_remote(true))
        .await
        .unwrap();
    remote.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_are_refused_and_slow_clients_are_cut_off() {
    let mut limits = Limits::default();
    limits.header_timeout = Duration::from_millis(200);
    let s = start(OriginConfig::default().segments(2), |o| o.limits(limits)).await;
    let hp = host_port(&s);
    let big = "x".repeat(64 * 1024);
    let answer = raw(
        &hp,
        format!("GET /{big} HTTP/1.1\r\nHost: {hp}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer:.80}"
    );
    let answer = raw(
        &hp,
        format!("GET / HTTP/1.1\r\nHost: {hp}\r\nX: {big}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer:.80}"
    );
    // Slowloris: half a request line, then nothing. The proxy closes the
    // connection (read_to_end returns) long before the 10 s bound.
    let mut sock = TcpStream::connect(&hp).await.unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    assert!(closed.is_ok(), "a slow client kept its connection");
    // An idle keep-alive connection too.
    let mut idle = TcpStream::connect(&hp).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut out)).await;
    assert!(closed.is_ok(), "an idle client kept its connection");
    assert_eq!(s.origin.total_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_fetches_wait_for_a_turn() {
    let mut limits = Limits::default();
    limits.max_upstream = 1;
    let s = start(
        OriginConfig::default().segments(3).segment_size(50_000),
        |o| o.limits(limits),
    )
    .await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let listed = uris(&get(&media).await.text());
    let (seg0, seg1) = (s.origin.segment_path(0, 0), s.origin.segment_path(0, 1));
    let hold = s.origin.hold(&seg0, 10);
    let first = tokio::spawn(get_owned(media.join(&listed[0]).unwrap()));
    common::until("segment 0 to reach the origin", || {
        s.origin.requests(&seg0) == 1
    })
    .await;
    let second = tokio::spawn(get_owned(media.join(&listed[1]).unwrap()));
    common::until("segment 1 to be a miss in the proxy", || {
        s.proxy.stats().misses == 2
    })
    .await;
    // The one upstream turn is taken by segment 0, held by the origin.
    tokio::task::yield_now().await;
    assert_eq!(
        s.origin.requests(&seg1),
        0,
        "a second fetch ran past the limit"
    );
    hold.release();
    assert_eq!(first.await.unwrap().status, 200);
    let second = second.await.unwrap();
    assert_eq!(second.status, 200);
    assert_eq!(s.origin.requests(&seg1), 1);
}

async fn get_owned(url: url::Url) -> common::Got {
    get(&url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_playlists_are_refused() {
    let mut small = Limits::default();
    small.max_playlist_bytes = 100;
    let s = start(OriginConfig::default().segments(3), |o| o.limits(small)).await;
    let got = get(&s.proxy.url_for(&s.origin.master_url())).await;
    assert_eq!(got.status, 502, "{}", got.text());

    let mut few = Limits::default();
    few.max_segments = 2;
    let s = start(OriginConfig::default().segments(3), |o| o.limits(few)).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let m = get(&master).await;
    assert_eq!(m.status, 200, "two variants fit");
    let media = get(&master.join(&uris(&m.text())[0]).unwrap()).await;
    assert_eq!(media.status, 502, "three segments do not: {}", media.text());
    assert!(media.text().contains("more than 2"), "{}", media.text());
}
