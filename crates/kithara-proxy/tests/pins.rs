//! Behaviours 9 and 13: the asset being served is pinned, and stays pinned
//! for the linger time after its last request, so eviction never removes
//! the track under the player; `max_bytes` holds whatever is streamed (what
//! cannot be cached is served from memory).

mod common;

use std::time::Duration;

use common::{open_cache, play, served, until};
use kithara_cache::{AssetId, CacheError, CachePath};
use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::{HlsOrigin, OriginConfig};

/// Room for one track (3 × 40 KB segments and its playlists) and a bit.
const MAX: u64 = 200_000;

fn origin() -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(3)
            .segment_size(40_000),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playing_track_is_never_evicted_and_max_bytes_holds() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), MAX);
    let proxy =
        Proxy::start(ProxyOptions::new(cache.clone()).pin_linger(Duration::from_secs(3600)))
            .await
            .unwrap();
    let (a, b) = (origin(), origin());
    let a_id = AssetId::from_url(&a.master_url()).unwrap();
    assert_eq!(
        play(&proxy.url_for(&a.master_url()), 0).await.media,
        served(&a, 0, 3)
    );
    until("track A to be cached", || {
        cache.asset(a_id).info().is_some_and(|i| i.bytes >= 120_000)
    })
    .await;
    assert!(
        cache.asset(a_id).info().unwrap().pinned,
        "the playing track is pinned"
    );

    // Something else needs room that only A could give: refused, A stays.
    let other = cache.asset(AssetId::from_key(b"other"));
    let big = vec![7u8; 100_000];
    let err = other
        .put_atomic(&CachePath::parse("x.bin").unwrap(), &big)
        .unwrap_err();
    assert!(matches!(err, CacheError::CacheFull { .. }), "{err}");

    // Another track streams through the same proxy: it plays, A stays, the
    // cache stays under its limit (B's segments that do not fit are served
    // from memory).
    assert_eq!(
        play(&proxy.url_for(&b.master_url()), 0).await.media,
        served(&b, 0, 3)
    );
    let stats = cache.stats().unwrap();
    assert!(stats.total_bytes <= MAX, "{stats:?}");
    assert!(
        cache
            .asset(a_id)
            .exists(&CachePath::parse("v0/seg/000002.ts").unwrap())
    );
    proxy.shutdown().await;
    // The proxy is gone: nothing stays pinned.
    assert!(!cache.asset(a_id).info().unwrap().pinned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_ends_after_the_linger_time() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), MAX);
    let proxy =
        Proxy::start(ProxyOptions::new(cache.clone()).pin_linger(Duration::from_millis(50)))
            .await
            .unwrap();
    let a = origin();
    let a_id = AssetId::from_url(&a.master_url()).unwrap();
    play(&proxy.url_for(&a.master_url()), 0).await;
    until("track A to be cached", || {
        cache.asset(a_id).info().is_some_and(|i| i.bytes >= 120_000)
    })
    .await;
    until("the pin to end", || {
        !cache.asset(a_id).info().unwrap().pinned
    })
    .await;
    // Unpinned, it is evicted when room is needed.
    let other = cache.asset(AssetId::from_key(b"other"));
    let put = other
        .put_atomic(&CachePath::parse("x.bin").unwrap(), &vec![7u8; 100_000])
        .unwrap();
    assert_eq!(put.evicted, vec![a_id]);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_larger_than_the_cache_is_served_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), 100_000);
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()))
        .await
        .unwrap();
    let o = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(2)
            .segment_size(150_000),
    )
    .unwrap();
    let master = proxy.url_for(&o.master_url());
    assert_eq!(play(&master, 0).await.media, served(&o, 0, 2));
    assert!(cache.stats().unwrap().total_bytes <= 100_000);
    // The flight's writer lets its temp file go once it knows the length;
    // the player may have its bytes (from memory) a moment before.
    until("no segment file on disk", || {
        let files = kithara_test_utils::files_recursive(dir.path());
        !files.iter().any(|f| f.to_string_lossy().contains("/seg/"))
    })
    .await;
    proxy.shutdown().await;
}

/// A request that outlasts the linger time (the origin is slow to send the
/// playlist) keeps its asset pinned while it is answered, and what it
/// loads is released with the rest once the asset is not playing: the next
/// request loads the playlist again (a read-only cache, so from the
/// origin). Before, the linger timer ran out under the request and the
/// playlist it then loaded stayed in memory for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outlasting_the_linger_time_leaves_nothing_loaded() {
    let origin = origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = kithara_cache::AssetCache::open_read_only(dir.path()).unwrap();
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()).pin_linger(Duration::from_millis(1)))
        .await
        .unwrap();
    let master = origin.master_url();
    let hold = origin.hold(master.path(), 10);
    let url = proxy.url_for(&master);
    let slow = tokio::spawn(async move { common::get(&url).await });
    until("the origin to be asked", || {
        origin.requests(master.path()) == 1
    })
    .await;
    // The request outlasts the linger time many times over.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        cache.stats().unwrap().pinned_assets,
        1,
        "unpinned while a request was under way"
    );
    hold.release();
    assert_eq!(slow.await.unwrap().status, 200);
    until("the asset to be unpinned", || {
        cache.stats().unwrap().pinned_assets == 0
    })
    .await;
    // Not playing: its playlists left memory, so the next play loads the
    // master again.
    assert_eq!(common::get(&proxy.url_for(&master)).await.status, 200);
    assert_eq!(
        origin.requests(master.path()),
        2,
        "the master was still in memory"
    );
    proxy.shutdown().await;
}
