//! Behaviour 7: a live playlist (no `EXT-X-ENDLIST`) is never frozen: it is
//! fetched again once its copy is older than half its target duration; its
//! segments are cached like any other; with the origin down, the last copy
//! is served; once it ends it is a VOD and comes from the cache.

mod common;

use common::{eventually, get, start, token, uris};
use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::OriginConfig;
use url::Url;

/// The proxy URL of variant 0's media playlist.
async fn media_url(s: &common::Setup) -> Url {
    let master = s.proxy.url_for(&s.origin.master_url());
    let m = get(&master).await.text();
    master.join(&uris(&m)[0]).unwrap()
}

fn sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_playlist_follows_the_origin_and_its_segments_are_cached() {
    // Target duration 1 s: the proxy asks again after 0.5 s.
    let config = OriginConfig::default()
        .segments(10)
        .live(3)
        .target_duration(1);
    let s = start(config, |o| o).await;
    let media = media_url(&s).await;
    let first = get(&media).await.text();
    assert!(!first.contains("#EXT-X-ENDLIST"));
    assert_eq!(sequence(&first), 0);
    assert_eq!(uris(&first).len(), 3);
    s.origin.advance(2);
    // Not frozen: within the bound the proxy serves the new window.
    eventually("the proxy to serve the advanced window", || async {
        sequence(&get(&media).await.text()) == 2
    })
    .await;
    let now = get(&media).await.text();
    let listed = uris(&now);
    assert_eq!(listed.len(), 3);
    // A segment named by its sequence number: the same name in every window.
    assert!(listed[2].ends_with("/v0/seg/000004.ts"), "{}", listed[2]);
    let seg = media.join(&listed[2]).unwrap();
    let want = s.origin.segment_served_bytes(0, 4);
    assert_eq!(get(&seg).await.body, want);
    assert_eq!(get(&seg).await.body, want);
    assert_eq!(
        s.origin.requests(&s.origin.segment_path(0, 4)),
        1,
        "live segments are cached"
    );

    // Ended: ENDLIST appears, and it is served from then on as a VOD.
    s.origin.end_live();
    eventually("the proxy to serve the ended playlist", || async {
        get(&media).await.text().contains("#EXT-X-ENDLIST")
    })
    .await;
    let playlist_path = s.origin.media_url(0).path().to_owned();
    let fetched = s.origin.requests(&playlist_path);
    for _ in 0..3 {
        assert!(get(&media).await.text().contains("#EXT-X-ENDLIST"));
    }
    assert_eq!(
        s.origin.requests(&playlist_path),
        fetched,
        "an ended playlist is not fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_live_copy_is_not_fetched_again() {
    // Target duration 600 s: a copy stays fresh for 300 s, far longer
    // than this test.
    let config = OriginConfig::default()
        .segments(10)
        .live(3)
        .target_duration(600);
    let s = start(config, |o| o).await;
    let media = media_url(&s).await;
    let path = s.origin.media_url(0).path().to_owned();
    for _ in 0..5 {
        get(&media).await;
    }
    assert_eq!(s.origin.requests(&path), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_origin_down_the_last_live_copy_is_served() {
    let config = OriginConfig::default()
        .segments(10)
        .live(3)
        .target_duration(600);
    let s = start(config, |o| o).await;
    let upstream = s.origin.master_url();
    let media = media_url(&s).await;
    let last = get(&media).await.text();
    let seg = media.join(&uris(&last)[0]).unwrap();
    let want = get(&seg).await.body;
    let old = token(&s.proxy);
    s.proxy.shutdown().await;
    s.origin.stop();
    // A new proxy reads the live copy from the cache: of unknown age, so it
    // asks the origin, which is gone; the last copy plays.
    let proxy = Proxy::start(ProxyOptions::new(s.cache.clone()))
        .await
        .unwrap();
    let master = proxy.url_for(&upstream);
    let m = get(&master).await;
    assert_eq!(m.status, 200);
    let media = master.join(&uris(&m.text())[0]).unwrap();
    let served = get(&media).await;
    assert_eq!(served.status, 200);
    let relisted: Vec<String> = uris(&last)
        .iter()
        .map(|u| u.replace(&old, &token(&proxy)))
        .collect();
    assert_eq!(uris(&served.text()), relisted);
    assert_eq!(
        get(&media.join(&uris(&served.text())[0]).unwrap())
            .await
            .body,
        want
    );
    proxy.shutdown().await;
}
