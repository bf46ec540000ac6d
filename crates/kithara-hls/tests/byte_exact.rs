//! Issue test 4: a whole VOD read through the cache equals, byte for byte, the
//! init segment + decrypted segments the origin serves.

mod common;

use common::{open_cache, persistent, read_vod, unwrap_xor};
use kithara_hls::{CacheMode, VariantSelect};
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig};

/// Read variant `v` of `config` in persistent mode (cold, then warm) and in
/// memory mode, and compare each with the origin's plaintext stream.
async fn check(config: OriginConfig, v: usize) {
    check_with(config, v, false).await;
}

/// As [`check`]; `wrapped` adds the key processor that unwraps the key.
async fn check_with(config: OriginConfig, v: usize, wrapped: bool) {
    let origin = HlsOrigin::start(config).expect("origin");
    let expected = origin.expected_stream(v);
    assert!(!expected.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let mut opts = persistent(&cache).variant(VariantSelect::Index(v));
    if wrapped {
        opts = opts.key_processor(unwrap_xor());
    }
    let url = origin.master_url().to_string();
    let cold = read_vod(&url, opts.clone()).await.expect("cold read");
    assert_eq!(cold.len(), expected.len());
    assert!(cold == expected, "cold stream differs from the origin's");
    let warm = read_vod(&url, opts.clone()).await.expect("warm read");
    assert!(warm == expected, "warm stream differs from the origin's");

    let mem = opts.cache(CacheMode::Memory {
        max_bytes: 1 << 20,
        resource_root: None,
    });
    let in_memory = read_vod(&url, mem).await.expect("memory read");
    assert!(in_memory == expected, "memory-mode stream differs");
}

fn base() -> OriginConfig {
    OriginConfig::default()
        .variants(2)
        .segments(6)
        .segment_size(3000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_segments() {
    check(base(), 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_variant_with_init_segment() {
    check(base().init(true), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes128_fixed_iv() {
    check(
        base().encryption(Encryption::Aes128 { iv: IvMode::Fixed }),
        0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes128_media_sequence_iv_with_offset_sequence() {
    check(
        base().media_sequence(41).encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        }),
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_ranges() {
    check(base().byte_ranges(true), 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_ranges_with_init_and_encryption() {
    check(
        base()
            .byte_ranges(true)
            .init(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            }),
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_uris_and_wrapped_key() {
    check_with(
        base()
            .relative_uris(false)
            .init(true)
            .wrapped_key(true)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed }),
        0,
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_playlist_url_opened_directly() {
    let origin = HlsOrigin::start(base().init(true)).expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let got = read_vod(origin.media_url(1).as_str(), persistent(&cache))
        .await
        .expect("read");
    assert!(got == origin.expected_stream(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_lookahead_windows_give_the_same_bytes() {
    let origin = HlsOrigin::start(base().segments(10)).expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .variant(VariantSelect::Lowest)
        .lookahead_segments(1)
        .lookahead_bytes(0);
    let got = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect("read");
    assert!(got == origin.expected_stream(0) || got == origin.expected_stream(1));
}
