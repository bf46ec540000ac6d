//! Live playlists (no `EXT-X-ENDLIST`) are never frozen into a snapshot: a
//! session on one fails with `HlsError::Live` and caches nothing of it, and
//! a cached live copy (as the proxy keeps them) is never read as final.

mod common;

use common::{all_files, open_cache, persistent, read_vod, within};
use kithara_cache::{AssetId, CachePath};
use kithara_hls::HlsError;
use kithara_test_utils::{HlsOrigin, OriginConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_playlist_is_refused_and_nothing_is_cached() {
    let origin = HlsOrigin::start(OriginConfig::default().segments(6).live(3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = within(read_vod(origin.master_url().as_str(), persistent(&cache)))
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
    let err = within(read_vod(origin.media_url(0).as_str(), persistent(&cache)))
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
