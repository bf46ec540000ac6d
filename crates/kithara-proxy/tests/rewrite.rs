//! Behaviour 1: playlists rewritten. Every URI of a master and a media
//! playlist points back at the proxy; every other line is as the origin
//! served it; relative, absolute, byte-range and init URIs all play, with
//! the bytes the origin serves.

mod common;

use common::{get, play, served, start, uris};
use kithara_test_utils::{Encryption, IvMode, OriginConfig};

fn without_uris(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.contains("URI=\"") && (l.starts_with('#') || l.trim().is_empty()))
        .filter(|l| !l.starts_with("#EXT-X-BYTERANGE"))
        .map(str::to_owned)
        .collect()
}

async fn every_uri_points_back(config: OriginConfig, segments: usize) {
    let s = start(config.segments(segments), |o| o).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let base = s.proxy.base_url().clone();
    let served_master = get(&master).await;
    assert_eq!(served_master.status, 200);
    assert_eq!(
        served_master.header("content-type").as_deref(),
        Some("application/vnd.apple.mpegurl")
    );
    let origin_master = get(&s.origin.master_url()).await.text();
    assert_eq!(
        without_uris(&served_master.text()),
        without_uris(&origin_master)
    );
    for uri in uris(&served_master.text()) {
        assert!(
            uri.starts_with(base.path()),
            "{uri} does not point at the proxy"
        );
    }
    for v in 0..2 {
        let played = play(&master, v).await;
        for uri in uris(&played.playlist) {
            assert!(
                uri.starts_with(base.path()),
                "{uri} does not point at the proxy"
            );
        }
        let origin_media = get(&s.origin.media_url(v)).await.text();
        assert_eq!(without_uris(&played.playlist), without_uris(&origin_media));
        assert_eq!(played.media, served(&s.origin, v, segments), "variant {v}");
        if let Some(key) = played.key {
            assert_eq!(&key[..], &s.origin.raw_key()[..]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_uris() {
    every_uri_points_back(OriginConfig::default(), 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_uris_with_init_segments_and_keys() {
    let config = OriginConfig::default()
        .relative_uris(false)
        .init(true)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        })
        .media_sequence(7);
    every_uri_points_back(config, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_range_segments_are_served_as_resources_of_their_own() {
    let s = start(OriginConfig::default().byte_ranges(true).segments(5), |o| o).await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let played = play(&master, 1).await;
    assert!(
        !played.playlist.contains("BYTERANGE"),
        "{}",
        played.playlist
    );
    assert_eq!(played.media, served(&s.origin, 1, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uris_resolve_against_the_url_after_redirects() {
    let s = start(
        OriginConfig::default().segments(3).redirect_master(true),
        |o| o,
    )
    .await;
    let master = s.proxy.url_for(&s.origin.redirecting_master_url());
    let played = play(&master, 1).await;
    assert_eq!(played.media, served(&s.origin, 1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renditions_and_iframe_playlists_are_served_through_the_proxy() {
    let s = start(
        OriginConfig::default().segments(3).alternate_audio(2),
        |o| o,
    )
    .await;
    let master = s.proxy.url_for(&s.origin.master_url());
    let text = get(&master).await.text();
    let base = s.proxy.base_url().path().to_owned();
    let media_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
        .collect();
    assert_eq!(media_lines.len(), 2);
    for (k, line) in media_lines.iter().enumerate() {
        let uri = &uris(line)[0];
        assert!(uri.starts_with(&base), "{uri}");
        let played = common::play_media(&master.join(uri).unwrap()).await;
        let want: Vec<_> = (0..3)
            .map(|i| bytes::Bytes::from(s.origin.rendition_segment_served_bytes(k, i)))
            .collect();
        assert_eq!(played.media, want, "rendition {k}");
    }
    let iframe = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-I-FRAME-STREAM-INF"))
        .unwrap();
    let uri = &uris(iframe)[0];
    assert!(uri.starts_with(&base), "{uri}");
    let played = common::play_media(&master.join(uri).unwrap()).await;
    let seg0 = s.origin.segment_served_bytes(0, 0);
    let joined: Vec<u8> = played.media.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(
        joined, seg0,
        "the two I-frame ranges are the halves of segment 0"
    );
}
