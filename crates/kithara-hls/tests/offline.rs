//! Issue test 6: offline mode plays a warmed cache without network and fails
//! with `OfflineMiss` naming whatever is missing.

mod common;

use std::path::Path;

use common::{encrypted_vod, files_named, open_cache, persistent, read_vod, unwrap_xor};
use kithara_hls::{AssetCache, CacheMode, HlsError, HlsOptions, HlsSession, VariantSelect};
use kithara_test_utils::{Encryption, HlsOrigin, OriginConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_cache_plays_offline_with_the_origin_stopped() {
    let origin = HlsOrigin::start(encrypted_vod()).expect("origin");
    let url = origin.master_url().to_string();
    let expected = origin.expected_stream(1);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache).key_processor(unwrap_xor());
    let online = read_vod(&url, opts.clone()).await.expect("warm-up");
    assert!(online == expected);
    origin.stop();

    let mut s = common::within(HlsSession::open(&url, opts.offline(true)))
        .await
        .expect("offline open");
    assert!(s.is_offline());
    let offline = common::within(common::read_all(&mut s))
        .await
        .expect("offline read");
    let stats = s.stats();
    s.close().await;
    assert!(offline == expected, "offline stream differs");
    assert_eq!(stats.network_fetches, 0);
    assert_eq!(stats.bytes_from_network, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_cache_offline_is_an_offline_miss() {
    let origin = HlsOrigin::start(encrypted_vod()).expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let url = origin.master_url().to_string();
    let err = read_vod(&url, persistent(&cache).offline(true))
        .await
        .expect_err("nothing cached");
    match err {
        HlsError::OfflineMiss { url: missing } => assert_eq!(missing, url),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        origin.total_requests(),
        0,
        "offline mode touched the network"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_key_is_an_offline_miss_naming_the_key() {
    let origin = HlsOrigin::start(encrypted_vod()).expect("origin");
    let url = origin.master_url().to_string();
    let key_url = origin.key_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache).key_processor(unwrap_xor());
    read_vod(&url, opts.clone()).await.expect("warm-up");
    let keys = files_named(dir.path(), ".key");
    assert_eq!(keys.len(), 1);
    std::fs::remove_file(&keys[0]).unwrap();
    let before = origin.total_requests();

    let err = read_vod(&url, opts.offline(true))
        .await
        .expect_err("the key is gone");
    match err {
        HlsError::OfflineMiss { url } => assert_eq!(url, key_url),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(origin.total_requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_segment_or_variant_playlist_is_an_offline_miss_naming_it() {
    let origin = HlsOrigin::start(encrypted_vod().encryption(Encryption::None)).expect("origin");
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache).variant(VariantSelect::Index(0));
    read_vod(&url, opts.clone()).await.expect("warm-up");

    let seg = files_named(dir.path(), "v0/seg/000003.ts");
    assert_eq!(seg.len(), 1);
    std::fs::remove_file(&seg[0]).unwrap();
    let err = read_vod(&url, opts.clone().offline(true))
        .await
        .expect_err("segment 3 is gone");
    match err {
        HlsError::OfflineMiss { url } => assert_eq!(url, origin.segment_url(0, 3).to_string()),
        other => panic!("unexpected {other:?}"),
    }

    // A variant that was never fetched: its playlist is missing.
    let err = read_vod(&url, opts.variant(VariantSelect::Index(1)).offline(true))
        .await
        .expect_err("variant 1 never fetched");
    match err {
        HlsError::OfflineMiss { url } => assert_eq!(url, origin.media_url(1).to_string()),
        other => panic!("unexpected {other:?}"),
    }
}

/// Memory mode keeps playlists and keys on disk but not segments: offline,
/// the first segment is the miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_mode_offline_misses_segments() {
    let origin = HlsOrigin::start(encrypted_vod()).expect("origin");
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let opts = HlsOptions::new()
        .cache(CacheMode::Memory {
            max_bytes: 1 << 20,
            resource_root: Some(dir.path().to_path_buf()),
        })
        .key_processor(unwrap_xor());
    read_vod(&url, opts.clone()).await.expect("online");
    let err = read_vod(&url, opts.offline(true))
        .await
        .expect_err("segments not kept");
    match err {
        HlsError::OfflineMiss { url } => {
            assert!(url.contains("init.mp4") || url.contains("/seg/"), "{url}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Options reading variant 0 through `cache`.
fn variant0(cache: AssetCache) -> HlsOptions {
    persistent(&cache).variant(VariantSelect::Index(0))
}

/// Warms a cache from an origin of `config`, cuts segment 3 to `keep(len)`
/// bytes as a power cut could, and reopens the cache, as after the reboot.
/// Offline, the segment must be the `OfflineMiss` naming it (not a silently
/// shorter stream); online, the read must be byte-exact, fetch it once and
/// cache it whole again. Returns the origin and the reopened cache.
async fn cut_segment_is_a_miss(
    config: OriginConfig,
    dir: &Path,
    keep: fn(usize) -> usize,
) -> (HlsOrigin, AssetCache) {
    let origin = HlsOrigin::start(config).expect("origin");
    let url = origin.master_url().to_string();
    read_vod(&url, variant0(open_cache(dir)))
        .await
        .expect("warm-up");
    let seg = files_named(dir, "v0/seg/000003.ts");
    assert_eq!(seg.len(), 1);
    let whole = std::fs::read(&seg[0]).unwrap();
    std::fs::write(&seg[0], &whole[..keep(whole.len())]).unwrap();

    let cache = open_cache(dir);
    match read_vod(&url, variant0(cache.clone()).offline(true)).await {
        Err(HlsError::OfflineMiss { url }) => {
            assert_eq!(url, origin.segment_url(0, 3).to_string())
        }
        Err(other) => panic!("unexpected {other:?}"),
        Ok(stream) => panic!("segment 3 is cut, yet {} bytes were read", stream.len()),
    }
    origin.reset_requests();
    let online = read_vod(&url, variant0(cache.clone()))
        .await
        .expect("online");
    assert!(online == origin.expected_stream(0), "online stream differs");
    assert_eq!(origin.requests(&origin.segment_path(0, 3)), 1);
    assert_eq!(std::fs::read(&seg[0]).unwrap(), whole, "cached again");
    (origin, cache)
}

/// A power cut can bring back a `Buffered` write that had not reached the
/// disk as an empty file under its final name. No HLS resource is empty, so
/// an empty cached segment or playlist is a miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_cached_file_is_a_miss_not_a_resource() {
    let dir = tempfile::tempdir().unwrap();
    let clear = encrypted_vod().encryption(Encryption::None);
    let (origin, cache) = cut_segment_is_a_miss(clear, dir.path(), |_| 0).await;

    let media = files_named(dir.path(), "v0/playlist.m3u8");
    assert_eq!(media.len(), 1);
    std::fs::write(&media[0], b"").unwrap();
    origin.reset_requests();
    let online = read_vod(origin.master_url().as_str(), variant0(cache))
        .await
        .expect("online");
    assert!(online == origin.expected_stream(0), "online stream differs");
    assert_eq!(origin.requests(origin.media_url(0).path()), 1);
    assert!(
        std::fs::metadata(&media[0]).unwrap().len() > 0,
        "cached again"
    );
}

/// A byte-range segment's length is in the playlist, so a cached one of any
/// other length (a power cut's short leftover) is a miss too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_byte_range_of_the_wrong_length_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let ranges = encrypted_vod()
        .encryption(Encryption::None)
        .byte_ranges(true);
    cut_segment_is_a_miss(ranges, dir.path(), |len| len / 2).await;
}
