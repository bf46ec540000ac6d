//! Issue test 8: bad input gives a clear typed error and leaves no partial
//! file in the cache.

mod common;

use common::{
    StaticServer, all_files, assert_no_partial_files, files_named, open_cache, persistent, read_vod,
};
use kithara_hls::{HlsError, HlsSession};
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig};

const HEAD: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n";

fn playlist(body: &str) -> Vec<u8> {
    format!("{HEAD}{body}#EXT-X-ENDLIST\n").into_bytes()
}

/// Serve `media` at `/media.m3u8` plus a master pointing at it, open through a
/// persistent cache, and return the error with the cache root.
async fn open_bad(media: Vec<u8>) -> (HlsError, tempfile::TempDir, StaticServer) {
    let server = StaticServer::start(vec![
        (
            "/master.m3u8",
            200,
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nmedia.m3u8\n".to_vec(),
        ),
        ("/media.m3u8", 200, media),
        ("/seg0.ts", 200, vec![0x47; 188]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(&server.url("/master.m3u8"), persistent(&cache))
        .await
        .expect_err("bad input must fail");
    (err, dir, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_segment_uri_is_rejected_before_any_request() {
    let (err, dir, server) = open_bad(playlist(
        "#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nfile:///etc/passwd\n",
    ))
    .await;
    match &err {
        HlsError::UnsupportedScheme { url } => assert_eq!(url, "file:///etc/passwd"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        server.hits("/seg0.ts"),
        0,
        "no request after a rejected playlist"
    );
    assert!(
        files_named(dir.path(), "playlist.m3u8").is_empty(),
        "rejected playlist cached"
    );
    assert_no_partial_files(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_key_uri_is_rejected() {
    let (err, dir, server) = open_bad(playlist(
        "#EXT-X-KEY:METHOD=AES-128,URI=\"file:///tmp/secret.key\"\n#EXTINF:4,\nseg0.ts\n",
    ))
    .await;
    assert!(
        matches!(&err, HlsError::UnsupportedScheme { url } if url.starts_with("file:")),
        "{err:?}"
    );
    assert_eq!(server.hits("/seg0.ts"), 0);
    assert!(files_named(dir.path(), ".key").is_empty());
    assert_no_partial_files(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_playlist_is_a_playlist_error() {
    for body in [
        b"<html>not a playlist</html>".to_vec(),
        format!("{HEAD}#EXTINF:4,\n").into_bytes(),
        b"#EXTM3U\n#EXT-X-TARGETDURATION:abc\n#EXTINF:4,\nseg0.ts\n".to_vec(),
    ] {
        let (err, dir, _server) = open_bad(body).await;
        match &err {
            HlsError::Playlist { url, reason } => {
                assert!(url.ends_with("/media.m3u8"), "{url}");
                assert!(!reason.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(files_named(dir.path(), "playlist.m3u8").is_empty());
        assert_no_partial_files(dir.path());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_http_session_url_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = HlsSession::open("file:///etc/hosts", persistent(&cache))
        .await
        .expect_err("file url");
    assert!(matches!(err, HlsError::UnsupportedScheme { .. }), "{err:?}");
    assert!(
        all_files(dir.path())
            .iter()
            .all(|p| !p.to_string_lossy().contains("assets"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_404_names_the_segment_and_leaves_no_partial_file() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(1).segments(6)).expect("origin");
    let path = origin.segment_path(0, 3);
    origin.set_status(&path, Some(404));
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(origin.master_url().as_str(), persistent(&cache).retries(2))
        .await
        .expect_err("404");
    match &err {
        HlsError::Http { url, status } => {
            assert_eq!(*status, 404);
            assert_eq!(url, &origin.segment_url(0, 3).to_string());
        }
        other => panic!("unexpected {other:?}"),
    }
    // 4xx is not retried with backoff; a 404 may be an expired URL, so it
    // is tried once more after one refetch of the playlist (expiring_urls.rs).
    assert_eq!(origin.requests(&path), 2, "4xx is not retried");
    assert_eq!(origin.requests("/v0/playlist.m3u8"), 2);
    assert!(files_named(dir.path(), "seg/000003.ts").is_empty());
    assert_eq!(files_named(dir.path(), "seg/000000.ts").len(), 1);
    assert_no_partial_files(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_server_500_is_retried_then_named_and_nothing_is_cached() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(4)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed }),
    )
    .expect("origin");
    origin.set_status("/key.bin", Some(500));
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    // One segment at a time, so the request count below is exact.
    let opts = persistent(&cache).retries(2).lookahead_segments(1);
    let err = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect_err("key server down");
    match &err {
        HlsError::Http { url, status } => {
            assert_eq!(*status, 500);
            assert_eq!(url, &origin.key_url().to_string());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(origin.requests("/key.bin"), 3, "first try + 2 retries");
    assert!(files_named(dir.path(), ".key").is_empty());
    assert!(
        files_named(dir.path(), ".ts").is_empty(),
        "no segment fetched without its key"
    );
    assert_no_partial_files(dir.path());

    // Once the key server heals, the same cache plays.
    origin.set_status("/key.bin", None);
    let got = read_vod(origin.master_url().as_str(), persistent(&cache))
        .await
        .expect("healed");
    assert!(got == origin.expected_stream(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_5xx_is_retried_and_then_fails_clearly() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(1).segments(4)).expect("origin");
    origin.set_fail_after(Some(1));
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).retries(1).lookahead_segments(1),
    )
    .await
    .expect_err("segments fail after the first");
    assert!(matches!(err, HlsError::Http { status: 500, .. }), "{err:?}");
    assert_eq!(origin.requests(&origin.segment_path(0, 1)), 2, "one retry");
    assert_no_partial_files(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_segment_times_out_with_a_network_error_naming_it() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(2)
            .segment_delay(std::time::Duration::from_secs(3)),
    )
    .expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .retries(0)
        .lookahead_segments(1)
        .read_timeout(std::time::Duration::from_millis(200));
    let err = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect_err("timeout");
    match &err {
        HlsError::Stalled { url, idle } => {
            assert_eq!(url, &origin.segment_url(0, 0).to_string());
            assert_eq!(*idle, std::time::Duration::from_millis(200));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(files_named(dir.path(), ".ts").is_empty());
    assert_no_partial_files(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlist_bounds_are_enforced() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(2).segments(8)).expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).max_segments(4),
    )
    .await
    .expect_err("too many segments");
    assert!(matches!(err, HlsError::Playlist { .. }), "{err:?}");
    let err = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).max_playlist_bytes(20),
    )
    .await
    .expect_err("too large");
    assert!(
        matches!(err, HlsError::TooLarge { limit: 20, .. }),
        "{err:?}"
    );
    // The (valid) master may be cached; the rejected media playlist is not.
    assert!(files_named(dir.path(), "playlist.m3u8").is_empty());
    assert_no_partial_files(dir.path());
}

/// Numbers past their bounds (durations, a target duration, a byte range,
/// a media sequence): each is a `Playlist` error naming the playlist and the
/// bound, and nothing is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_out_of_bounds_are_playlist_errors_and_nothing_is_cached() {
    let seg = "#EXTINF:4,\nseg0.ts\n";
    let cases = [
        (
            "extinf-negative",
            format!("{HEAD}#EXTINF:-1,\nseg0.ts\n"),
            "not between 0 and 604800 s",
        ),
        (
            "extinf-nan",
            format!("{HEAD}#EXTINF:NaN,\nseg0.ts\n"),
            "not between 0 and 604800 s",
        ),
        (
            "target-duration",
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:18446744073709551615\n{seg}"),
            "more than 86400 s",
        ),
        (
            "byterange",
            format!("{HEAD}#EXT-X-BYTERANGE:18446744073709551615@5\n{seg}"),
            "ends past 1125899906842624",
        ),
        (
            "media-sequence",
            format!("{HEAD}#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n{seg}{seg}"),
            "overflows with 2 segments",
        ),
    ];
    let routes: Vec<(String, Vec<u8>)> = cases
        .iter()
        .map(|(name, body, _)| {
            let text = format!("{body}#EXT-X-ENDLIST\n");
            (format!("/{name}.m3u8"), text.into_bytes())
        })
        .collect();
    let server = StaticServer::start(
        routes
            .iter()
            .map(|(path, body)| (path.as_str(), 200, body.clone()))
            .chain(std::iter::once(("/seg0.ts", 200, vec![0x47; 188])))
            .collect(),
    );
    for (name, _, why) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let cache = open_cache(dir.path());
        let url = server.url(&format!("/{name}.m3u8"));
        let err = read_vod(&url, persistent(&cache))
            .await
            .expect_err("a bad number must fail");
        match &err {
            HlsError::Playlist { url: u, reason } => {
                assert_eq!(u, &url, "{name}");
                assert!(reason.contains(why), "{name}: {reason}");
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
        assert!(
            all_files(dir.path())
                .iter()
                .all(|p| !p.to_string_lossy().contains("assets")),
            "{name}: cached {:?}",
            all_files(dir.path())
        );
        assert_no_partial_files(dir.path());
    }
    assert_eq!(server.hits("/seg0.ts"), 0);
}
