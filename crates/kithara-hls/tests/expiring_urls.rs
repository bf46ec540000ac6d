//! Expiring signed URLs: a segment, init segment or key of a cached VOD
//! playlist that answers 403, 404 or 410 online makes the client fetch the
//! playlist once more, map segments by media sequence, replace the cached
//! playlist and retry. The origin signs segment and init URIs with a token
//! and rotates it on a test step (`HlsOrigin::rotate_tokens`).

mod common;

use common::{open_cache, open_session, persistent, read_at_least, read_vod, unwrap_xor, within};
use kithara_cache::{AssetCache, AssetId, CachePath};
use kithara_hls::HlsError;
use kithara_test_utils::{HlsOrigin, OriginConfig};

const SEG: usize = 4096;

fn signed_origin() -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .segments(6)
            .segment_size(SEG)
            .init(true)
            .signed_uris(true),
    )
    .unwrap()
}

/// The cached media playlist of variant 1, as text.
fn cached_playlist(cache: &AssetCache, origin: &HlsOrigin) -> String {
    let asset = cache.asset(AssetId::from_url(&origin.master_url()).unwrap());
    let bytes = asset
        .read(&CachePath::parse("v1/playlist.m3u8").unwrap())
        .unwrap()
        .expect("the media playlist is cached");
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Play the start of the VOD so that its playlists (token 1) and first
/// segments are cached, then expire every URL in them.
async fn cache_then_rotate(origin: &HlsOrigin, cache: &AssetCache) {
    let mut s = open_session(origin.master_url().as_str(), persistent(cache)).await;
    within(read_at_least(&mut s, 100)).await.unwrap();
    within(s.close()).await;
    assert!(cached_playlist(cache, origin).contains("token=1"));
    origin.rotate_tokens();
    origin.reset_requests();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_refetches_the_playlist_once_and_replaces_the_cached_one() {
    let origin = signed_origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    cache_then_rotate(&origin, &cache).await;
    let got = read_vod(origin.master_url().as_str(), persistent(&cache))
        .await
        .unwrap();
    assert!(got == origin.expected_stream(1));
    // One refetch for every expired URL, however many fetches hit one.
    assert_eq!(origin.requests("/v1/playlist.m3u8"), 1);
    assert_eq!(origin.requests("/master.m3u8"), 0);
    // The cached playlist is the new one; the cached init was not fetched again.
    assert!(cached_playlist(&cache, &origin).contains("token=2"));
    assert_eq!(origin.requests("/v1/init.mp4"), 0);
    // Offline, the replaced playlist and the cached resources play.
    let offline = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).offline(true),
    )
    .await
    .unwrap();
    assert!(offline == got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_prefetch_after_a_rotation_completes() {
    let origin = signed_origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    cache_then_rotate(&origin, &cache).await;
    let s = open_session(origin.master_url().as_str(), persistent(&cache)).await;
    let summary = within(s.prefetch_all(|_| {})).await.unwrap();
    assert!(summary.downloaded > 0);
    within(s.close()).await;
    assert_eq!(origin.requests("/v1/playlist.m3u8"), 1);
    let offline = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).offline(true),
    )
    .await
    .unwrap();
    assert!(offline == origin.expected_stream(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_still_refused_after_the_refetch_fails_with_its_status() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(6)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    origin.set_status("/v1/seg/2.ts", Some(410));
    let err = read_vod(origin.master_url().as_str(), persistent(&cache))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HlsError::Http { url, status: 410 } if url == origin.segment_url(1, 2).as_str()),
        "{err:?}"
    );
    // Loaded at open, then once more: no refetch loop.
    assert_eq!(origin.requests("/v1/playlist.m3u8"), 2);
    assert_eq!(origin.requests("/v1/seg/2.ts"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_refetches_the_playlist_too() {
    let origin = HlsOrigin::start(common::encrypted_vod()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    origin.set_status("/key.bin", Some(403));
    let err = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).key_processor(unwrap_xor()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, HlsError::Http { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(origin.requests("/v1/playlist.m3u8"), 2);
    // Once the key server answers again, the VOD plays.
    origin.set_status("/key.bin", None);
    let got = read_vod(
        origin.master_url().as_str(),
        persistent(&cache).key_processor(unwrap_xor()),
    )
    .await
    .unwrap();
    assert!(got == origin.expected_stream(1));
}
