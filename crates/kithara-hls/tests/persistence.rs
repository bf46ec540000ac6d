//! Issue tests 1 and 2: persistent mode leaves the cache root populated, and a
//! second run on the same root reads the same bytes again.

mod common;

use std::time::Duration;

use common::{files_named, open_cache, persistent, read_all, read_at_least, read_vod, within};
use kithara_hls::{HlsSession, VariantSelect};
use kithara_test_utils::{
    HlsOrigin, OriginConfig, assert_dir_not_empty, count_files_recursive, dir_nonempty_recursive,
};

/// Test 1: a run that reads at least `min_bytes` leaves the root non-empty; a
/// second run on the same root (a new `AssetCache`) reads the same bytes and
/// the root stays non-empty.
async fn warm_up(variants: usize, delay: Option<Duration>) {
    let mut config = OriginConfig::default()
        .variants(variants)
        .segments(8)
        .segment_size(2048);
    if let Some(d) = delay {
        config = config.segment_delay(d);
    }
    let origin = HlsOrigin::start(config).expect("origin");
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let min_bytes = 3 * 2048 + 100;
    let last = variants - 1;

    let first = {
        let cache = open_cache(dir.path());
        let opts = persistent(&cache).variant(VariantSelect::Index(last));
        within(async {
            let mut s = HlsSession::open(&url, opts).await.expect("open");
            let got = read_at_least(&mut s, min_bytes).await.expect("read");
            s.close().await;
            got
        })
        .await
    };
    assert!(first.len() >= min_bytes);
    assert_eq!(&first[..], &origin.expected_stream(last)[..first.len()]);
    assert_dir_not_empty(dir.path());

    let cache = open_cache(dir.path());
    let opts = persistent(&cache).variant(VariantSelect::Index(last));
    let second = within(async {
        let mut s = HlsSession::open(&url, opts).await.expect("reopen");
        let got = read_at_least(&mut s, min_bytes).await.expect("read again");
        s.close().await;
        got
    })
    .await;
    assert!(second.len() >= min_bytes);
    assert_eq!(
        &second[..first.len().min(second.len())],
        &first[..first.len().min(second.len())]
    );
    assert!(dir_nonempty_recursive(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_two_variants() {
    warm_up(2, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_four_variants() {
    warm_up(4, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_two_variants_with_segment_delay() {
    warm_up(2, Some(Duration::from_millis(20))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_four_variants_with_segment_delay() {
    warm_up(4, Some(Duration::from_millis(20))).await;
}

/// Test 2: after a read that returned bytes, the cache root holds files,
/// among them the first segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_exist_on_disk_after_a_read() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(2).segments(4)).expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    within(async {
        let mut s = HlsSession::open(origin.master_url().as_str(), persistent(&cache))
            .await
            .expect("open");
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0);
        assert!(count_files_recursive(dir.path()) > 0);
        let asset = s.asset_id().to_string();
        let seg0 = files_named(dir.path(), "seg/000000.ts");
        assert_eq!(seg0.len(), 1, "first segment cached: {seg0:?}");
        assert!(seg0[0].to_string_lossy().contains(&asset));
        assert_eq!(files_named(dir.path(), "master.m3u8").len(), 1);
        assert_eq!(files_named(dir.path(), "playlist.m3u8").len(), 1);
        s.close().await;
    })
    .await;
}

/// Writes run behind the reader; `flush` waits for every one so far, and
/// `close` for the rest: every segment file is then whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_puts_everything_read_so_far_on_disk() {
    // Large segments: their writes take long enough to be still queued
    // when the read returns, unless something waits for them.
    const SIZE: usize = 1 << 20;
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(12)
            .segment_size(SIZE),
    )
    .expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let whole = |n: usize| {
        let seg = files_named(dir.path(), &format!("seg/{n:06}.ts"));
        seg.len() == 1 && std::fs::metadata(&seg[0]).is_ok_and(|m| m.len() == SIZE as u64)
    };
    within(async {
        // No look-ahead: segment 5 is fetched when the reader asks for it.
        let opts = persistent(&cache).lookahead_segments(1);
        let mut s = HlsSession::open(origin.master_url().as_str(), opts)
            .await
            .expect("open");
        // Up to the first byte of segment 5: its write was queued a moment
        // before that byte was returned.
        let mut buf = vec![0u8; SIZE];
        let mut got = 0;
        while got <= 5 * SIZE {
            let want = (5 * SIZE + 1 - got).min(SIZE);
            let n = s.read(&mut buf[..want]).await.expect("read");
            assert!(n > 0, "stream ended early");
            got += n;
        }
        s.flush().await;
        for n in 0..=5 {
            assert!(whole(n), "segment {n} whole on disk after flush");
        }
        s.close().await;
        let segs = files_named(dir.path(), ".ts");
        assert!(segs.len() >= 5, "{segs:?}");
        for seg in &segs {
            assert_eq!(
                std::fs::metadata(seg).unwrap().len(),
                SIZE as u64,
                "{seg:?}"
            );
        }
        common::assert_no_partial_files(dir.path());
    })
    .await;
}

/// A second session on the same cache serves everything from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_run_is_served_from_the_cache() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(2).segments(5)).expect("origin");
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let cold = read_vod(&url, persistent(&cache)).await.expect("cold");
    let before = origin.total_requests();
    let mut s = within(HlsSession::open(&url, persistent(&cache)))
        .await
        .expect("open");
    let warm = within(read_all(&mut s)).await.expect("warm");
    let stats = s.stats();
    s.close().await;
    assert!(warm == cold);
    assert_eq!(origin.total_requests(), before, "warm run used the network");
    assert_eq!(stats.network_fetches, 0);
    assert!(stats.cache_hits >= 5 + 2);
    // Clear segments: the stream's bytes plus the two playlists came from the cache.
    assert!(stats.bytes_from_cache as usize > warm.len());
    assert_eq!(stats.bytes_from_network, 0);
}

/// Writes the cache refuses (`CacheFull`) do not stop playback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_full_keeps_playing_from_memory() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(6)
            .segment_size(4096),
    )
    .expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = kithara_cache::AssetCache::open(
        kithara_cache::CacheOptions::new(dir.path()).max_bytes(6000),
    )
    .expect("cache");
    let mut s = within(HlsSession::open(
        origin.master_url().as_str(),
        persistent(&cache),
    ))
    .await
    .expect("open");
    let got = within(read_all(&mut s))
        .await
        .expect("playback survives a full cache");
    s.flush().await;
    let stats = s.stats();
    s.close().await;
    assert!(got == origin.expected_stream(0));
    assert!(stats.cache_full > 0, "{stats:?}");
}
