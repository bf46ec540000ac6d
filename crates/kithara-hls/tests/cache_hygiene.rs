//! What a session leaves in (and asks of) the cache when things go wrong:
//! failed opens leave no asset behind; memory-mode sessions share their
//! on-disk resource cache; cache write errors never stop playback.

mod common;

use std::path::Path;

use common::{StaticServer, encrypted_vod, open_cache, persistent, read_vod, unwrap_xor, within};
use kithara_cache::{AssetCache, CacheOptions};
use kithara_hls::{CacheMode, HlsError, HlsOptions, HlsSession, VariantSelect};
use kithara_test_utils::{HlsOrigin, OriginConfig};

fn memory(root: &Path) -> HlsOptions {
    HlsOptions::new().cache(CacheMode::Memory {
        max_bytes: 8 << 20,
        resource_root: Some(root.to_path_buf()),
    })
}

/// The assets a cache at `root` knows of, read once the sessions are gone.
fn assets_at(root: &Path) -> Vec<String> {
    let cache = AssetCache::open(CacheOptions::new(root)).expect("reopen");
    cache
        .assets()
        .unwrap()
        .iter()
        .map(|a| format!("{a:?}"))
        .collect()
}

// ---- failed opens leave no phantom asset ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_master_leaves_no_asset_persistent() {
    let server = StaticServer::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(&server.url("/master.m3u8"), persistent(&cache))
        .await
        .expect_err("404");
    assert!(matches!(err, HlsError::Http { status: 404, .. }), "{err:?}");
    let assets = cache.assets().unwrap();
    assert!(assets.is_empty(), "phantom asset: {assets:?}");
    drop(cache);
    assert!(assets_at(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_open_on_a_cold_cache_leaves_no_asset_persistent() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let err = read_vod(
        "http://127.0.0.1:9/master.m3u8",
        persistent(&cache).offline(true),
    )
    .await
    .expect_err("cold");
    assert!(err.is_offline_miss(), "{err:?}");
    let assets = cache.assets().unwrap();
    assert!(assets.is_empty(), "phantom asset: {assets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_opens_leave_no_asset_memory_mode() {
    let server = StaticServer::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let err = read_vod(&server.url("/master.m3u8"), memory(dir.path()))
        .await
        .expect_err("404");
    assert!(matches!(err, HlsError::Http { status: 404, .. }), "{err:?}");
    let err = read_vod(
        &server.url("/master.m3u8"),
        memory(dir.path()).offline(true),
    )
    .await
    .expect_err("cold");
    assert!(err.is_offline_miss(), "{err:?}");
    assert!(assets_at(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_open_records_the_source_url() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(1).segments(2)).unwrap();
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    read_vod(&url, persistent(&cache)).await.expect("read");
    let assets = cache.assets().unwrap();
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].source_url.as_deref(), Some(url.as_str()));
}

// ---- memory mode shares the on-disk resource cache of a root ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_memory_sessions_share_a_resource_root() {
    let origin = HlsOrigin::start(encrypted_vod()).unwrap();
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let opts = |v| {
        memory(dir.path())
            .key_processor(unwrap_xor())
            .variant(VariantSelect::Index(v))
    };
    let (mut a, mut b) = within(async {
        let a = HlsSession::open(&url, opts(0))
            .await
            .expect("first session");
        let b = HlsSession::open(&url, opts(1))
            .await
            .expect("second session");
        (a, b)
    })
    .await;
    let (got_a, got_b) =
        within(async { tokio::join!(common::read_all(&mut a), common::read_all(&mut b)) }).await;
    assert!(got_a.expect("read a") == origin.expected_stream(0));
    assert!(got_b.expect("read b") == origin.expected_stream(1));
    a.close().await;
    b.close().await;

    // Drop then reopen works, again and again.
    for _ in 0..3 {
        let got = read_vod(&url, opts(1)).await.expect("reopen");
        assert!(got == origin.expected_stream(1));
    }
    // Once no session uses it, the root is free for another owner.
    let cache = AssetCache::open(CacheOptions::new(dir.path())).expect("root released");
    assert_eq!(cache.assets().unwrap().len(), 1);
}

#[test]
fn a_root_is_released_when_its_last_session_ends() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(1).segments(3)).unwrap();
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s1 = within(HlsSession::open(&url, memory(dir.path())))
            .await
            .unwrap();
        let s2 = within(HlsSession::open(&url, memory(dir.path())))
            .await
            .unwrap();
        // Owned while a session is alive.
        let busy = AssetCache::open(CacheOptions::new(dir.path()));
        assert!(
            matches!(busy, Err(kithara_cache::CacheError::InUse { .. })),
            "{busy:?}"
        );
        s1.close().await;
        let busy = AssetCache::open(CacheOptions::new(dir.path()));
        assert!(busy.is_err(), "still used by the second session");
        s2.close().await;
        AssetCache::open(CacheOptions::new(dir.path())).expect("released");
    });
}

// ---- cache write errors do not stop playback ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_cache_still_plays_online_and_counts_the_write_errors() {
    let origin = HlsOrigin::start(encrypted_vod()).unwrap();
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    drop(open_cache(dir.path()));
    let cache = AssetCache::open_read_only(dir.path()).unwrap();
    let mut s = within(HlsSession::open(
        &url,
        persistent(&cache)
            .key_processor(unwrap_xor())
            .variant(VariantSelect::Index(1)),
    ))
    .await
    .expect("open on a read-only cache");
    let got = within(common::read_all(&mut s)).await.expect("playback");
    s.flush().await;
    let stats = s.stats();
    s.close().await;
    assert!(got == origin.expected_stream(1));
    // master, media playlist, key, init, 6 segments: every write refused.
    assert_eq!(stats.cache_write_errors, 10, "{stats:?}");
    assert_eq!(stats.cache_full, 0, "{stats:?}");
    assert!(
        common::all_files(dir.path())
            .iter()
            .all(|p| { !p.to_string_lossy().contains("assets") })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_into_a_read_only_cache_fails() {
    let origin = HlsOrigin::start(encrypted_vod()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    drop(open_cache(dir.path()));
    let cache = AssetCache::open_read_only(dir.path()).unwrap();
    let s = within(HlsSession::open(
        origin.master_url().as_str(),
        persistent(&cache).key_processor(unwrap_xor()),
    ))
    .await
    .expect("open");
    let err = within(s.prefetch_all(|_| {}))
        .await
        .expect_err("nothing can be cached");
    match &err {
        HlsError::NotCached {
            refused,
            write_errors,
            ..
        } => {
            assert_eq!(*refused, 0);
            assert!(*write_errors > 0);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("cache writes failed"), "{err}");
}
