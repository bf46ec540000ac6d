//! Fetching whole assets into the cache without decoding (for `kithara fetch`),
//! resuming after an interruption; and redirects.

mod common;

use std::sync::{Arc, Mutex};

use common::{StaticServer, files_named, open_cache, persistent, read_vod, unwrap_xor, within};
use kithara_hls::{
    HlsSession, PrefetchProgress, ResourceKind, Source, VariantSelect, prefetch_all_variants,
};
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig};

fn config() -> OriginConfig {
    OriginConfig::default()
        .variants(2)
        .segments(7)
        .init(true)
        .wrapped_key(true)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_resumes_after_an_interruption_and_enables_offline_play() {
    let origin = HlsOrigin::start(config()).expect("origin");
    let url = origin.master_url().to_string();
    let expected = origin.expected_stream(0);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .key_processor(unwrap_xor())
        .variant(VariantSelect::Index(0))
        .retries(0)
        .lookahead_segments(1);

    // Listing: playlists, key, init, 7 segments.
    let s = within(HlsSession::open(&url, opts.clone()))
        .await
        .expect("open");
    let resources = s.resources();
    assert_eq!(s.segment_count(), 7);
    assert_eq!(resources.len(), 2 + 1 + 1 + 7);
    assert_eq!(resources[0].cache_path, "master.m3u8");
    assert_eq!(resources[1].cache_path, "v0/playlist.m3u8");
    assert!(resources.iter().any(|r| r.kind == ResourceKind::Key));
    assert!(resources.iter().any(|r| r.cache_path == "v0/seg/000006.ts"));

    // Interrupted: segment requests fail after 3.
    origin.set_fail_after(Some(3));
    let err = within(s.prefetch_all(|_| {}))
        .await
        .expect_err("interrupted");
    assert!(
        matches!(err, kithara_hls::HlsError::Http { status: 500, .. }),
        "{err:?}"
    );
    s.close().await;
    assert_eq!(files_named(dir.path(), ".ts").len(), 3);

    // Resumed: only what is missing is downloaded.
    origin.set_fail_after(None);
    let s = within(HlsSession::open(&url, opts.clone()))
        .await
        .expect("reopen");
    let events: Arc<Mutex<Vec<PrefetchProgress>>> = Arc::default();
    let ev = Arc::clone(&events);
    let sum = within(s.prefetch_all(move |p| ev.lock().unwrap().push(p.clone())))
        .await
        .expect("resume");
    s.close().await;
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 9);
    assert!(events.iter().all(|e| e.total == 9 && e.variant == 0));
    assert_eq!(events.last().unwrap().done, 9);
    assert_eq!(
        sum.skipped,
        1 + 1 + 3,
        "key, init and 3 segments were cached"
    );
    assert_eq!(sum.downloaded, 4);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.source == Source::Network)
            .count(),
        4
    );
    assert_eq!(files_named(dir.path(), ".ts").len(), 7);

    // Everything needed offline is there.
    origin.stop();
    let got = read_vod(&url, opts.offline(true)).await.expect("offline");
    assert!(got == expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_all_variants_fills_every_variant() {
    let origin = HlsOrigin::start(config()).expect("origin");
    let url = origin.master_url().to_string();
    let expected: Vec<_> = (0..2).map(|v| origin.expected_stream(v)).collect();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache).key_processor(unwrap_xor());
    let sum = within(prefetch_all_variants(&url, opts.clone(), |_| {}))
        .await
        .expect("fetch");
    // Per variant: init + 7 segments; the key is shared.
    assert_eq!(sum.downloaded, 2 * 8 + 1);
    assert_eq!(sum.skipped, 1);
    let again = within(prefetch_all_variants(&url, opts.clone(), |_| {}))
        .await
        .expect("again");
    assert_eq!(again.downloaded, 0);
    origin.stop();
    for (v, exp) in expected.iter().enumerate() {
        let got = read_vod(
            &url,
            opts.clone().variant(VariantSelect::Index(v)).offline(true),
        )
        .await
        .expect("offline");
        assert!(&got == exp, "variant {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirected_master_resolves_against_its_final_url_online_and_offline() {
    let origin = HlsOrigin::start(config().encryption(Encryption::None)).expect("origin");
    let expected = origin.expected_stream(1);
    let redirect = StaticServer::start(vec![(
        "/track.m3u8",
        302,
        origin.master_url().to_string().into_bytes(),
    )]);
    let url = redirect.url("/track.m3u8");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let got = read_vod(&url, persistent(&cache)).await.expect("online");
    assert!(got == expected);
    assert_eq!(files_named(dir.path(), "master.m3u8.url").len(), 1);
    drop(redirect);
    origin.stop();
    let mut s = within(HlsSession::open(&url, persistent(&cache).offline(true)))
        .await
        .expect("offline open");
    let got = within(common::read_all(&mut s))
        .await
        .expect("offline read");
    assert_eq!(s.last_source(), Some(Source::Cache));
    s.close().await;
    assert!(got == expected);
}
