//! Live playlists (no `EXT-X-ENDLIST`) are never frozen into a snapshot: a
//! session follows one (reloads, segments as they appear, the end at
//! `EXT-X-ENDLIST`, a typed error when it stalls), or with
//! `follow_live(false)` fails with `HlsError::Live`; a prefetch refuses one;
//! nothing of a live playlist is cached, and a cached live copy (as the
//! proxy keeps them) is never read as final.
//!
//! The origin's live head moves only when a test step says so; the
//! session's own reload timer (target duration 1 s) is what waits.

mod common;

use common::{all_files, open_cache, open_session, persistent, read_at_least, read_vod, within};
use std::time::Duration;

use kithara_cache::{AssetId, CachePath};
use kithara_hls::{HlsError, VariantSelect};
use kithara_test_utils::{HlsOrigin, OriginConfig};

const SEG: usize = 4096;

fn live_origin(window: usize) -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .segments(6)
            .segment_size(SEG)
            .target_duration(1)
            .live(window),
    )
    .unwrap()
}

/// The files of the asset of `url` under the cache at `root`.
fn asset_files(root: &std::path::Path) -> Vec<String> {
    all_files(root)
        .into_iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "assets"))
        .map(|f| f.display().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_playlist_is_followed_as_segments_appear_until_endlist() {
    let origin = live_origin(3);
    let expected = origin.expected_stream(1);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let mut s = open_session(
        origin.master_url().as_str(),
        persistent(&cache).variant(VariantSelect::Highest),
    )
    .await;
    assert!(s.is_live());
    assert_eq!(s.segment_count(), 3);
    // The three published segments.
    let got = within(read_at_least(&mut s, 3 * SEG)).await.unwrap();
    assert!(got == expected[..3 * SEG]);
    // The fourth exists only once published: the read waits for a reload.
    origin.advance(1);
    let fourth = within(read_at_least(&mut s, SEG)).await.unwrap();
    assert!(fourth == expected[3 * SEG..4 * SEG]);
    assert_eq!(s.segment_count(), 4);
    assert_eq!(s.len(), None, "a live stream has no length yet");
    // The rest (the window of 3 slides by 2: nothing is missed), then the end.
    origin.advance(2);
    origin.end_live();
    let mut rest = Vec::new();
    within(s.read_to_end(&mut rest)).await.unwrap();
    assert!(rest == expected[4 * SEG..]);
    assert_eq!(s.len(), Some(expected.len() as u64));
    assert_eq!(within(s.read(&mut [0u8; 16])).await.unwrap(), 0);
    // Each segment was fetched once.
    for i in 0..6 {
        assert_eq!(
            origin.requests(&format!("/v1/seg/{i}.ts")),
            1,
            "segment {i}"
        );
    }
    within(s.close()).await;
    drop(cache);
    // Segments are cached by sequence number; the live playlists are not.
    let files = asset_files(dir.path());
    assert!(!files.iter().any(|f| f.ends_with(".m3u8")), "{files:?}");
    let segs = files.iter().filter(|f| f.contains("/v1/seg/")).count();
    assert_eq!(segs, 6, "{files:?}");
}

/// What following variant 0 of `origin`, which never advances past its
/// first two segments, cost from the moment they were read until the
/// session was `LiveStalled`.
struct Stall {
    /// Requests of the media playlist (reloads).
    reloads: usize,
    /// Bytes the session downloaded for them.
    reloaded: u64,
    /// The playlist as the origin served it meanwhile (a plain request
    /// made before the reloads).
    playlist: reqwest::header::HeaderMap,
    playlist_len: u64,
}

async fn follow_until_stalled(origin: &HlsOrigin) -> Stall {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let url = origin.media_url(0);
    let mut s = open_session(url.as_str(), persistent(&cache)).await;
    let got = within(read_at_least(&mut s, 2 * SEG)).await.unwrap();
    assert!(got == origin.expected_stream(0)[..2 * SEG]);
    let current = reqwest::get(url.clone()).await.unwrap();
    let playlist = current.headers().clone();
    let playlist_len = current.bytes().await.unwrap().len() as u64;
    origin.reset_requests();
    let before = s.stats().bytes_from_network;
    let err = within(s.read(&mut [0u8; 16])).await.unwrap_err();
    match &err {
        HlsError::LiveStalled { url: u, after } => {
            assert_eq!(u, url.as_str());
            assert!(after.as_secs() >= 3, "{after:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let reloads = origin.requests(url.path());
    let reloaded = s.stats().bytes_from_network - before;
    within(s.close()).await;
    Stall {
        reloads,
        reloaded,
        playlist,
        playlist_len,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_playlist_that_stops_advancing_is_live_stalled() {
    let origin = live_origin(2);
    let stall = follow_until_stalled(&origin).await;
    // Reloads 1 s after the first load (it changed), then every 0.5 s
    // (no change) until 3 s had passed without a new segment: at most 5.
    let reloads = stall.reloads;
    assert!((1..=5).contains(&reloads), "{reloads} reloads");
    // Only the first reload has a body: the others are conditional
    // (If-None-Match) and answered 304.
    assert_eq!(stall.reloaded, stall.playlist_len, "{reloads} reloads");
}

/// An origin like `live_origin` whose media playlists carry no `ETag`,
/// only a `Last-Modified` date (it answers an exact `If-Modified-Since`
/// with 304).
fn dated_live_origin(window: usize) -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .segments(6)
            .segment_size(SEG)
            .target_duration(1)
            .live(window)
            .etags(false),
    )
    .unwrap()
}

/// Without an `ETag`, reloads are conditional on the `Last-Modified` date
/// (`If-Modified-Since`, the date as the origin sent it): unchanged, each
/// costs a 304 and no body, exactly as with an `ETag`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_etag_a_reload_is_conditional_on_last_modified_and_costs_a_304() {
    let origin = dated_live_origin(2);
    let stall = follow_until_stalled(&origin).await;
    assert!(stall.playlist.get("etag").is_none());
    let date = stall.playlist["last-modified"].to_str().unwrap();
    let reloads = stall.reloads;
    assert!((2..=5).contains(&reloads), "{reloads} reloads");
    // The first reload asks for the text; every later one only if it
    // changed since the date the last answer gave.
    let path = "/v0/playlist.m3u8";
    let since = origin.request_headers(path, "if-modified-since");
    assert_eq!(since.len(), reloads);
    assert_eq!(since[0], None);
    assert!(
        since[1..].iter().all(|d| d.as_deref() == Some(date)),
        "{since:?}"
    );
    assert!(
        origin
            .request_headers(path, "if-none-match")
            .iter()
            .all(Option::is_none),
        "no ETag was given, so none is asked for"
    );
    // Only the first reload has a body: the others were answered 304.
    assert_eq!(stall.reloaded, stall.playlist_len, "{reloads} reloads");
}

/// A playlist that does change is still picked up by a reload conditional
/// on its `Last-Modified` date: the origin answers it with the new text and
/// a new date, which the next reload sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_picked_up_by_a_reload_conditional_on_last_modified() {
    let origin = dated_live_origin(2);
    let expected = origin.expected_stream(0);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let mut s = open_session(origin.media_url(0).as_str(), persistent(&cache)).await;
    let got = within(read_at_least(&mut s, 2 * SEG)).await.unwrap();
    assert!(got == expected[..2 * SEG]);
    let path = "/v0/playlist.m3u8";
    let since = || origin.request_headers(path, "if-modified-since");
    // Once a conditional reload has been answered (304: nothing changed)...
    within(origin.wait_until(|| since().iter().any(Option::is_some))).await;
    let first_date = since().into_iter().flatten().next().unwrap();
    // ... the origin publishes a segment: a later conditional reload gets it.
    origin.advance(1);
    let third = within(read_at_least(&mut s, SEG)).await.unwrap();
    assert!(third == expected[2 * SEG..3 * SEG]);
    origin.end_live();
    let mut rest = Vec::new();
    within(s.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty(), "{} more bytes", rest.len());
    assert_eq!(s.len(), Some(3 * SEG as u64));
    within(s.close()).await;
    // The load at open and the first reload are plain; every later reload
    // is conditional, first on the old date, then on the new one.
    let since = since();
    assert_eq!(since[..2], [None, None], "{since:?}");
    assert!(since[2..].iter().all(Option::is_some), "{since:?}");
    let dates: Vec<&str> = since[2..].iter().flatten().map(String::as_str).collect();
    assert_eq!(dates[0], first_date);
    assert!(dates.iter().any(|d| *d != first_date), "{dates:?}");
    assert_eq!(origin.requests("/v0/seg/2.ts"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_refuses_a_live_playlist_and_caches_nothing() {
    let origin = live_origin(3);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let s = open_session(origin.master_url().as_str(), persistent(&cache)).await;
    let err = within(s.prefetch_all(|_| {})).await.unwrap_err();
    assert!(
        matches!(&err, HlsError::Live { url } if url == origin.media_url(1).as_str()),
        "{err:?}"
    );
    within(s.close()).await;
    drop(cache);
    assert!(asset_files(dir.path()).is_empty());
    assert_eq!(origin.requests("/v1/seg/0.ts"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_playlist_is_refused_without_follow_and_nothing_is_cached() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(6).live(3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = within(read_vod(
        origin.master_url().as_str(),
        persistent(&cache).follow_live(false),
    ))
    .await
    .unwrap_err();
    match &err {
        HlsError::Live { url } => assert_eq!(url, origin.media_url(1).as_str()),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("live playlist (no EXT-X-ENDLIST): {}", origin.media_url(1))
    );
    drop(cache);
    let files: Vec<_> = all_files(dir.path())
        .into_iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "assets"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
    // A top media playlist that is live, too.
    let cache = open_cache(dir.path());
    let err = within(read_vod(
        origin.media_url(0).as_str(),
        persistent(&cache).follow_live(false),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, HlsError::Live { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_live_copy_is_fetched_again_and_replaced_once_ended() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(4).live(4)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    // What a proxy that served the live stream left in the cache.
    let id = AssetId::from_url(&origin.master_url()).unwrap();
    let asset = cache.asset(id);
    let live_master = reqwest::get(origin.master_url())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let live_media = reqwest::get(origin.media_url(1))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    asset
        .put_atomic(&CachePath::parse("master.m3u8").unwrap(), &live_master)
        .unwrap();
    asset
        .put_atomic(&CachePath::parse("v1/playlist.m3u8").unwrap(), &live_media)
        .unwrap();
    origin.end_live();
    let got = within(read_vod(origin.master_url().as_str(), persistent(&cache)))
        .await
        .unwrap();
    assert!(got == origin.expected_stream(1));
    let cached = asset
        .read(&CachePath::parse("v1/playlist.m3u8").unwrap())
        .unwrap()
        .unwrap();
    assert!(
        std::str::from_utf8(&cached)
            .unwrap()
            .contains("#EXT-X-ENDLIST")
    );
    // Offline it now plays from the cache.
    let offline = within(read_vod(
        origin.master_url().as_str(),
        persistent(&cache).offline(true),
    ))
    .await
    .unwrap();
    assert!(offline == got);
}

/// `record_live` for no time at all: what the playlist lists now is
/// fetched and stored as a recording, which plays offline; online the
/// recording is not used, the live playlist is followed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_plays_offline_and_is_not_used_online() {
    let origin = live_origin(3);
    let expected = origin.expected_stream(1);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let master = origin.master_url();
    let mut s = open_session(master.as_str(), persistent(&cache)).await;
    let summary = within(s.record_live(Duration::ZERO, |_| {})).await.unwrap();
    assert_eq!(summary.downloaded, 3);
    within(s.close()).await;
    let offline = read_vod(master.as_str(), persistent(&cache).offline(true))
        .await
        .unwrap();
    assert!(offline == expected[..3 * SEG]);
    // Online, the live playlist again.
    let s = open_session(master.as_str(), persistent(&cache)).await;
    assert!(s.is_live());
    within(s.close()).await;
}

/// A recording follows the stream to its `EXT-X-ENDLIST` (well before the
/// time it was given), fetching segments as they are published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_ends_at_endlist_with_every_segment() {
    let origin = live_origin(3);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let master = origin.master_url();
    let mut s = open_session(master.as_str(), persistent(&cache)).await;
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let recording = tokio::spawn(async move {
        let r = s
            .record_live(Duration::from_secs(3600), move |p| {
                let _ = seen_tx.send(p.url.path().to_owned());
            })
            .await;
        s.close().await;
        r
    });
    // Step by step: the next segments are published once the recording
    // has fetched the ones before.
    for _ in 0..3 {
        within(seen.recv()).await.unwrap();
    }
    origin.advance(2);
    for _ in 0..2 {
        within(seen.recv()).await.unwrap();
    }
    origin.advance(1);
    origin.end_live();
    let summary = within(recording).await.unwrap().unwrap();
    assert_eq!(summary.downloaded, 6);
    for i in 0..6 {
        assert_eq!(
            origin.requests(&format!("/v1/seg/{i}.ts")),
            1,
            "segment {i}"
        );
    }
    let offline = read_vod(master.as_str(), persistent(&cache).offline(true))
        .await
        .unwrap();
    assert!(offline == origin.expected_stream(1));
}
