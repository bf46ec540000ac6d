//! Behaviour 8: a VOD's signed segment URLs expire (the CDN rotates its
//! tokens). When the origin answers 403 for a segment, the proxy fetches
//! the playlist again once, finds the segment by its media sequence number
//! and asks for it at its new URL.

mod common;

use common::{get, served, start, uris};
use kithara_test_utils::OriginConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_segment_url_is_renewed_from_a_fresh_playlist() {
    let s = start(OriginConfig::default().segments(4).signed_uris(true), |o| o).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let listed = uris(&get(&media).await.text());
    let want = served(&s.origin, 0, 4);
    assert_eq!(get(&media.join(&listed[0]).unwrap()).await.body, want[0]);
    let playlist = s.origin.media_url(0).path().to_owned();
    assert_eq!(s.origin.requests(&playlist), 1);

    // The CDN rotates its tokens: the cached playlist's URIs now get 403.
    s.origin.rotate_tokens();
    let seg = get(&media.join(&listed[2]).unwrap()).await;
    assert_eq!(seg.status, 200, "{}", String::from_utf8_lossy(&seg.body));
    assert_eq!(seg.body, want[2]);
    assert_eq!(
        s.origin.requests(&playlist),
        2,
        "the playlist is fetched again once"
    );
    let seg_path = s.origin.segment_path(0, 2);
    assert_eq!(
        s.origin.requests(&seg_path),
        2,
        "one refused, one renewed request"
    );
    // The renewed playlist serves the next segments without another refresh.
    assert_eq!(get(&media.join(&listed[3]).unwrap()).await.body, want[3]);
    assert_eq!(s.origin.requests(&playlist), 2);
    // The cached segment stays a hit.
    assert_eq!(get(&media.join(&listed[0]).unwrap()).await.body, want[0]);
    assert_eq!(s.origin.requests(&s.origin.segment_path(0, 0)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_stays_gone_is_a_502_after_one_refresh() {
    let s = start(OriginConfig::default().segments(3), |o| o).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let listed = uris(&get(&media).await.text());
    let seg_path = s.origin.segment_path(0, 1);
    s.origin.set_status(&seg_path, Some(410));
    let got = get(&media.join(&listed[1]).unwrap()).await;
    assert_eq!(got.status, 502);
    assert_eq!(got.text().lines().count(), 1);
    // The refreshed playlist lists the same URL: no second segment request.
    assert_eq!(s.origin.requests(&seg_path), 1);
    assert_eq!(s.origin.requests(s.origin.media_url(0).path()), 2);
}
