//! Behaviours 4 and 5: a second play is served from the cache (the origin
//! sees no request), with Content-Length, the right Content-Type and Range
//! on every resource; keys come from the cache as processed, never stored
//! raw, with `Cache-Control: no-store`.

mod common;

use std::sync::Arc;

use common::{get, get_with, play, served, start, uris};
use kithara_hls::{KeyContext, KeyProcessor};
use kithara_test_utils::{Compression, Encryption, IvMode, OriginConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_play_is_served_from_the_cache_with_ranges() {
    let s = start(OriginConfig::default().segments(4).init(true), |o| o).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let cold = play(&master, 0).await;
    let before = s.origin.total_requests();
    let warm = play(&master, 0).await;
    assert_eq!(warm.media, cold.media);
    assert_eq!(warm.media, served(&s.origin, 0, 4));
    assert_eq!(
        s.origin.total_requests(),
        before,
        "the warm play asked the origin"
    );
    assert!(s.proxy.stats().hits >= 5, "{:?}", s.proxy.stats());

    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let list = uris(&get(&media).await.text());
    let (init, seg) = (media.join(&list[0]).unwrap(), media.join(&list[1]).unwrap());
    let whole = get(&seg).await;
    let len = whole.body.len();
    assert_eq!(whole.header("content-length"), Some(len.to_string()));
    assert_eq!(whole.header("content-type").as_deref(), Some("video/mp2t"));
    assert_eq!(whole.header("accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(
        get(&init).await.header("content-type").as_deref(),
        Some("video/mp4")
    );

    let part = get_with(&seg, &[("range", "bytes=10-19")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, whole.body.slice(10..20));
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 10-19/{len}"))
    );
    let tail = get_with(&seg, &[("range", "bytes=-5")]).await;
    assert_eq!(tail.body, whole.body.slice(len - 5..));
    let bad = get_with(&seg, &[("range", &format!("bytes={len}-"))]).await;
    assert_eq!(bad.status, 416);
    assert_eq!(bad.header("content-range"), Some(format!("bytes */{len}")));
    // Ranges on every resource: playlists and init segments too.
    let whole_playlist = get(&media).await.body;
    let head = get_with(&media, &[("range", "bytes=0-6")]).await;
    assert_eq!(
        (head.status.as_u16(), &head.body[..]),
        (206, &whole_playlist[..7])
    );
    assert_eq!(&head.body[..], b"#EXTM3U");
    let init_part = get_with(&init, &[("range", "bytes=0-3")]).await;
    assert_eq!(
        (init_part.status.as_u16(), &init_part.body[..]),
        (206, &b"V0-I"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_on_a_miss_is_served_from_the_fetch() {
    let s = start(
        OriginConfig::default().segments(2).segment_size(100_000),
        |o| o,
    )
    .await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let seg = media.join(&uris(&get(&media).await.text())[1]).unwrap();
    let part = get_with(&seg, &[("range", "bytes=50000-50009")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(&part.body[..], &served(&s.origin, 0, 2)[1][50_000..50_010]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_served_processed_and_never_cached_raw() {
    let config = OriginConfig::default()
        .segments(3)
        .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
        .wrapped_key(true)
        .key_query("token", "t0p")
        .key_header("x-key-auth", "letmein");
    let unwrap: KeyProcessor =
        Arc::new(|raw: &[u8], _: &KeyContext| Ok(raw.iter().map(|b| b ^ 0xFF).collect()));
    let s = start(config, |o| {
        o.key_processor(unwrap).key_header("x-key-auth", "letmein")
    })
    .await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let played = play(&master, 0).await;
    assert_eq!(&played.key.unwrap()[..], &s.origin.raw_key()[..]);
    assert_eq!(played.media, served(&s.origin, 0, 3));
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    let key_uri = uris(&get(&media).await.text())
        .into_iter()
        .find(|u| u.contains("/keys/"))
        .unwrap();
    let key = get(&media.join(&key_uri).unwrap()).await;
    assert_eq!(key.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(s.origin.requests("/key.bin"), 1, "the key is fetched once");
    // On disk: the processed key, and the wrapped one nowhere.
    let wrapped: Vec<u8> = s.origin.raw_key().iter().map(|b| b ^ 0xFF).collect();
    let files = kithara_test_utils::files_recursive(s.dir.path());
    let keys: Vec<_> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "key"))
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(std::fs::read(keys[0]).unwrap(), s.origin.raw_key());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(16).any(|w| w == wrapped.as_slice()),
            "raw key in {}",
            f.display()
        );
    }
}

/// An origin that compresses whatever a request accepts: the proxy asks
/// for none, so what it caches and serves is the origin's bytes, with
/// their length and ranges, never a decoded body of another length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressing_origin_is_asked_for_plain_bytes() {
    let s = start(OriginConfig::default().segments(3), |o| o).await;
    s.origin.compress(Some(Compression::Gzip));
    let master = s.proxy.url_for(&s.origin.master_url());
    let cold = play(&master, 0).await;
    assert_eq!(cold.media, served(&s.origin, 0, 3));
    let warm = play(&master, 0).await;
    assert_eq!(warm.media, cold.media);
    for path in [
        s.origin.master_url().path().to_owned(),
        s.origin.media_url(0).path().to_owned(),
        s.origin.segment_path(0, 1),
    ] {
        let asked = s.origin.request_headers(&path, "accept-encoding");
        assert!(!asked.is_empty(), "{path} never asked");
        assert!(
            asked
                .iter()
                .all(|a| a.as_deref().is_none_or(|v| !v.contains("gzip"))),
            "{path}: {asked:?}"
        );
    }
}
