//! Answers to byte-range requests are checked against the request: a `206`
//! must carry a `Content-Range` naming exactly the requested bytes, else it
//! is `HlsError::BadResponse` and nothing is cached. A `200` (a server that
//! ignores `Range`) is accepted: the requested range is cut out of the whole
//! resource.

mod common;

use common::{StaticServer, all_files, assert_no_partial_files, open_cache, persistent, read_vod};
use kithara_hls::HlsError;

/// The resource the byte ranges point into.
fn whole() -> Vec<u8> {
    (0..1000u32).map(|i| (i % 251) as u8).collect()
}

/// A media playlist of one segment: bytes 50..150 of `/all.ts`.
fn playlist() -> Vec<u8> {
    b"#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:4\n\
      #EXT-X-BYTERANGE:100@50\n#EXTINF:4,\nall.ts\n#EXT-X-ENDLIST\n"
        .to_vec()
}

fn response(status: &str, headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Serve the playlist and `segment` (a raw answer for `/all.ts`), read the VOD.
async fn play(segment: Vec<u8>) -> (Result<Vec<u8>, HlsError>, tempfile::TempDir) {
    let server = StaticServer::start_raw(vec![
        ("/media.m3u8", response("200 OK", &[], &playlist())),
        ("/all.ts", segment),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let got = read_vod(&server.url("/media.m3u8"), persistent(&cache).retries(0)).await;
    (got, dir)
}

fn partial(content_range: Option<&str>, body: &[u8]) -> Vec<u8> {
    let headers: Vec<String> = content_range
        .map(|r| format!("Content-Range: {r}"))
        .into_iter()
        .collect();
    response("206 Partial Content", &headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_with_the_requested_range_is_accepted() {
    let all = whole();
    for content_range in ["bytes 50-149/1000", "bytes 50-149/*"] {
        let (got, _dir) = play(partial(Some(content_range), &all[50..150])).await;
        assert_eq!(got.expect(content_range), all[50..150].to_vec());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_with_another_range_is_a_bad_response_and_not_cached() {
    let all = whole();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "wrong start",
            partial(Some("bytes 0-99/1000"), &all[0..100]),
        ),
        (
            "wrong end",
            partial(Some("bytes 50-199/1000"), &all[50..200]),
        ),
        ("missing Content-Range", partial(None, &all[50..150])),
        (
            "unparsable Content-Range",
            partial(Some("bytes fifty-149/1000"), &all[50..150]),
        ),
        (
            "unit other than bytes",
            partial(Some("items 50-149/1000"), &all[50..150]),
        ),
    ];
    for (what, answer) in cases {
        let (got, dir) = play(answer).await;
        match got {
            Err(HlsError::BadResponse { url, reason }) => {
                assert!(url.ends_with("/all.ts"), "{what}: {url}");
                assert!(reason.contains("range"), "{what}: {reason}");
            }
            other => panic!("{what}: unexpected {other:?}"),
        }
        let segs: Vec<_> = all_files(dir.path())
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("/seg/"))
            .collect();
        assert!(segs.is_empty(), "{what}: cached {segs:?}");
        assert_no_partial_files(dir.path());
    }
}

/// A server that ignores `Range` answers `200` with the whole resource: the
/// requested range is cut out of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_with_the_whole_resource_is_sliced() {
    let all = whole();
    let (got, _dir) = play(response("200 OK", &[], &all)).await;
    assert_eq!(got.expect("sliced"), all[50..150].to_vec());
}

/// A `206` to a request without a range cannot be trusted to be the resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_without_a_range_request_is_a_bad_response() {
    let server = StaticServer::start_raw(vec![(
        "/media.m3u8",
        partial(Some("bytes 0-9/100"), b"#EXTM3U\n#E"),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(&server.url("/media.m3u8"), persistent(&cache).retries(0))
        .await
        .expect_err("partial playlist");
    assert!(matches!(err, HlsError::BadResponse { .. }), "{err:?}");
}
