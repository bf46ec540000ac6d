//! Issue 16 item 6: the client talks to servers like a real one. Headers
//! and the User-Agent go with every request, a cookie set by a playlist goes
//! with the requests after it, a slow link completes while a stall fails
//! typed, compressed playlists are decoded while media are asked for as
//! `identity`, a `Retry-After` sets the wait before a retry, and HTTP/2 is
//! negotiated over TLS (a loopback server with a self-signed certificate).
//!
//! No wall-clock assertion: the trickle and the stall are sized against the
//! idle timeout with wide margins, and the `Retry-After` wait is read from
//! the session's statistics (the delay the client chose), not measured.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{all_files, open_cache, persistent, read_all, read_vod, within};
use http_body_util::Full;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kithara_hls::{HlsError, HlsOptions, HlsSession, SessionStats};
use kithara_test_utils::{Compression, HlsOrigin, OriginConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;

/// The whole stream of `origin`'s master and the session's statistics.
async fn read_with_stats(origin: &HlsOrigin, opts: HlsOptions) -> (Vec<u8>, SessionStats) {
    let mut session = within(HlsSession::open(origin.master_url().as_str(), opts))
        .await
        .expect("open");
    let bytes = within(read_all(&mut session)).await.expect("read");
    let stats = session.stats();
    session.close().await;
    (bytes, stats)
}

/// Every request the origin saw, as its path.
fn paths(origin: &HlsOrigin) -> Vec<String> {
    let mut log = origin.request_log();
    log.sort();
    log.dedup();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_user_agent_and_the_cookie_jar_reach_every_request() {
    let origin =
        HlsOrigin::start(common::encrypted_vod().key_header("x-key-auth", "k1")).expect("origin");
    origin.set_cookie(Some("session=abc; Path=/"));
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .header("X-Cdn-Token", "t1")
        .user_agent("kithara-test/1")
        .key_header("x-key-auth", "k1")
        .key_processor(common::unwrap_xor())
        .variant(kithara_hls::VariantSelect::Index(0));
    let bytes = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect("read");
    assert_eq!(bytes, origin.expected_stream(0));

    let all = paths(&origin);
    assert!(all.contains(&"/key.bin".to_owned()), "{all:?}");
    for path in &all {
        for (name, want) in [("x-cdn-token", "t1"), ("user-agent", "kithara-test/1")] {
            let seen = origin.request_headers(path, name);
            assert!(
                seen.iter().all(|v| v.as_deref() == Some(want)),
                "{path} {name}: {seen:?}"
            );
        }
        // The key header goes to the key server only.
        let key_auth = origin.request_headers(path, "x-key-auth");
        let want = (path == "/key.bin").then(|| "k1".to_owned());
        assert!(key_auth.iter().all(|v| *v == want), "{path}: {key_auth:?}");
    }
    // The master set the cookie: everything after it carries it.
    for path in all.iter().filter(|p| *p != "/master.m3u8") {
        let cookies = origin.request_headers(path, "cookie");
        assert!(
            cookies.iter().all(|c| c.as_deref() == Some("session=abc")),
            "{path}: {cookies:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_segment_outlasting_the_read_timeout_completes() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(2)
            .segment_size(64 * 1024),
    )
    .expect("origin");
    // 8 chunks, 7 pauses of 150 ms: about 1 s in all, against an idle
    // timeout of 600 ms that no single pause comes near.
    origin.trickle(
        &origin.segment_path(0, 0),
        8 * 1024,
        Duration::from_millis(150),
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .read_timeout(Duration::from_millis(600))
        .retries(0);
    let (bytes, stats) = read_with_stats(&origin, opts).await;
    assert_eq!(bytes, origin.expected_stream(0));
    assert_eq!(stats.retries, 0, "it completed in one try");
    assert_eq!(origin.requests(&origin.segment_path(0, 0)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_longer_than_the_read_timeout_is_a_typed_error() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(1).segments(2)).expect("origin");
    let stalled = origin.segment_path(0, 1);
    let _hold = origin.hold(&stalled, 100);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .read_timeout(Duration::from_millis(300))
        .retries(1)
        .lookahead_segments(1);
    let err = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect_err("a stall");
    match &err {
        HlsError::Stalled { url, idle } => {
            assert_eq!(url, &origin.segment_url(0, 1).to_string());
            assert_eq!(*idle, Duration::from_millis(300));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("read timeout"), "{err}");
    assert_eq!(origin.requests(&stalled), 2, "retried once, then failed");
    drop(cache);
    assert!(
        !all_files(dir.path()).iter().any(|p| p.ends_with("1.ts")),
        "nothing of the stalled segment is cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_playlists_are_decoded_and_media_are_asked_for_as_identity() {
    for coding in [Compression::Gzip, Compression::Brotli] {
        let origin = HlsOrigin::start(OriginConfig::default().variants(2).segments(3).init(true))
            .expect("origin");
        origin.compress(Some(coding));
        let dir = tempfile::tempdir().unwrap();
        let cache = open_cache(dir.path());
        let bytes = read_vod(origin.master_url().as_str(), persistent(&cache))
            .await
            .unwrap_or_else(|e| panic!("{coding:?}: {e}"));
        assert_eq!(bytes, origin.expected_stream(1), "{coding:?}");
        for path in paths(&origin) {
            let accepted = origin.request_headers(&path, "accept-encoding");
            if path.ends_with(".m3u8") {
                assert!(
                    accepted
                        .iter()
                        .all(|a| a.as_deref().is_some_and(|a| a.contains(coding.token()))),
                    "{coding:?} {path}: {accepted:?}"
                );
            } else {
                assert!(
                    accepted.iter().all(|a| a.as_deref() == Some("identity")),
                    "{coding:?} {path}: {accepted:?}"
                );
            }
        }
        drop(cache);
        // The cache holds the decoded playlists.
        let playlists: Vec<_> = all_files(dir.path())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "m3u8"))
            .collect();
        assert_eq!(playlists.len(), 2, "{playlists:?}");
        for p in playlists {
            let text = std::fs::read(&p).unwrap();
            assert!(text.starts_with(b"#EXTM3U"), "{coding:?} {p:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_is_retried_after_the_wait_it_asks_for() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(1).segments(2)).expect("origin");
    let path = origin.segment_path(0, 0);
    origin.fail_next(&path, 503, Some("1"));
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache).retries(2);
    let (bytes, stats) = read_with_stats(&origin, opts).await;
    assert_eq!(bytes, origin.expected_stream(0));
    assert_eq!(origin.requests(&path), 2, "one 503, one retry");
    assert_eq!(stats.retries, 1);
    // The backoff alone would have been 5 ms (`persistent`); the server
    // asked for 1 s and got it.
    assert_eq!(stats.retry_wait, Duration::from_secs(1));
}

/// What a TLS request arrived as: its path and HTTP version.
type Seen = Arc<Mutex<Vec<(String, hyper::Version)>>>;

/// A loopback HTTPS server offering only `h2` by ALPN (a client that does
/// not negotiate it gets no answer), serving `files` by path; its address,
/// its self-signed certificate (PEM) and what it saw.
async fn h2_only_server(files: Vec<(&'static str, Vec<u8>)>) -> (SocketAddr, String, Seen) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let key = PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Seen = Arc::default();
    let files: Arc<HashMap<&str, Bytes>> = Arc::new(
        files
            .into_iter()
            .map(|(p, b)| (p, Bytes::from(b)))
            .collect(),
    );
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                continue;
            }
            let (files, log) = (Arc::clone(&files), Arc::clone(&log));
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let path = req.uri().path().to_owned();
                log.lock().unwrap().push((path.clone(), req.version()));
                let body = files.get(path.as_str()).cloned();
                async move {
                    let mut resp =
                        hyper::Response::new(Full::new(body.clone().unwrap_or_default()));
                    if body.is_none() {
                        *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
                    }
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            tokio::spawn(
                http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service),
            );
        }
    });
    (addr, cert.pem(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_over_tls() {
    let segments = [vec![0x47; 3000], vec![0x11; 2000]];
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nseg1.ts\n#EXT-X-ENDLIST\n";
    let (addr, pem, seen) = h2_only_server(vec![
        ("/media.m3u8", playlist.as_bytes().to_vec()),
        ("/seg0.ts", segments[0].clone()),
        ("/seg1.ts", segments[1].clone()),
    ])
    .await;
    let url = format!("https://{addr}/media.m3u8");
    let opts = HlsOptions::new().root_certificate(pem).retries(0);
    let bytes = read_vod(&url, opts).await.expect("read over h2");
    assert_eq!(bytes, segments.concat());
    let seen = seen.lock().unwrap().clone();
    // The look-ahead may ask for the two segments in either order.
    let mut paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/media.m3u8", "/seg0.ts", "/seg1.ts"]);
    assert!(
        seen.iter().all(|(_, v)| *v == hyper::Version::HTTP_2),
        "{seen:?}"
    );
}
