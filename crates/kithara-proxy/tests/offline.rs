//! Behaviour 6: offline (the switch, or the origin gone) everything cached
//! plays, byte for byte, and a miss is a 504 with one line of text.

mod common;

use common::{get, play, served, start, uris};
use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::{Encryption, IvMode, OriginConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_played_plays_again_with_the_origin_gone_or_offline() {
    let config = OriginConfig::default()
        .segments(3)
        .init(true)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        });
    let s = start(config, |o| o).await;
    let upstream = s.origin.master_url();
    let online = play(&s.proxy.url_for(&upstream), 1).await;
    let want = served(&s.origin, 1, 3);
    assert_eq!(online.media, want);
    s.proxy.shutdown().await;
    s.origin.stop();

    for offline in [false, true] {
        // A new proxy over the same cache: the origin is gone.
        let proxy = Proxy::start(ProxyOptions::new(s.cache.clone()).offline(offline))
            .await
            .unwrap();
        let master = proxy.url_for(&upstream);
        let again = play(&master, 1).await;
        assert_eq!(again.media, want, "offline={offline}");
        assert_eq!(again.key, online.key);
        // Variant 0 was never played: its playlist is a miss.
        let m = get(&master).await.text();
        let v0 = master.join(&uris(&m)[0]).unwrap();
        let miss = get(&v0).await;
        assert_eq!(miss.status, 504, "offline={offline}");
        let text = miss.text();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert_eq!(
            miss.header("content-type").as_deref(),
            Some("text/plain; charset=utf-8")
        );
        // A track never played at all.
        let never = url::Url::parse("http://127.0.0.1:9/never/master.m3u8").unwrap();
        let miss = get(&proxy.url_for(&never)).await;
        assert_eq!(miss.status, 504, "offline={offline}: {}", miss.text());
        proxy.shutdown().await;
    }
}

/// One cache layout: a track that kithara-hls fetched (`kithara fetch`)
/// plays offline through the proxy, and a track the proxy cached reads
/// offline through kithara-hls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_and_the_proxy_read_each_others_files() {
    use kithara_hls::{CacheMode, HlsOptions, HlsSession, VariantSelect};

    let config = OriginConfig::default()
        .segments(3)
        .init(true)
        .media_sequence(5)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        });
    let s = start(config.clone(), |o| o).await;
    let fetched = HlsSession::open(
        s.origin.master_url().as_str(),
        HlsOptions::new()
            .cache(CacheMode::Persistent(s.cache.clone()))
            .variant(VariantSelect::Index(0)),
    )
    .await
    .unwrap();
    fetched.prefetch_all(|_| {}).await.unwrap();
    drop(fetched);
    let want = served(&s.origin, 0, 3);
    let before = s.origin.total_requests();
    let offline = Proxy::start(ProxyOptions::new(s.cache.clone()).offline(true))
        .await
        .unwrap();
    let played = play(&offline.url_for(&s.origin.master_url()), 0).await;
    assert_eq!(played.media, want);
    assert_eq!(s.origin.total_requests(), before);
    offline.shutdown().await;

    // The other way: variant 1, played through the proxy, read offline.
    let online = play(&s.proxy.url_for(&s.origin.master_url()), 1).await;
    assert_eq!(online.media, served(&s.origin, 1, 3));
    let mut read = HlsSession::open(
        s.origin.master_url().as_str(),
        HlsOptions::new()
            .cache(CacheMode::Persistent(s.cache.clone()))
            .variant(VariantSelect::Index(1))
            .offline(true),
    )
    .await
    .unwrap();
    let mut bytes = Vec::new();
    read.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(bytes, s.origin.expected_stream(1));
}
