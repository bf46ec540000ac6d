//! Alternate renditions (`EXT-X-MEDIA`): a session plays one by `NAME`,
//! cached under `r{n}/`; a prefetch of a variant fetches the renditions of
//! its groups, and a prefetch of all variants fetches all of them; an
//! unknown name is a typed error.

mod common;

use common::{files_named, open_cache, open_session, persistent, read_vod, within};
use kithara_hls::{HlsError, prefetch_all_variants};
use kithara_test_utils::{HlsOrigin, OriginConfig};

fn origin() -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .variants(2)
            .segments(3)
            .init(true)
            .alternate_audio(2),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendition_plays_by_name_and_is_cached_under_its_own_directory() {
    let origin = origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let url = origin.master_url().to_string();
    let got = read_vod(&url, persistent(&cache).rendition("a1"))
        .await
        .unwrap();
    assert!(got == origin.rendition_expected_stream(1));
    assert_eq!(
        origin.requests("/v1/seg/0.ts"),
        0,
        "the variant's own media"
    );
    assert_eq!(files_named(dir.path(), "r1/playlist.m3u8").len(), 1);
    assert_eq!(files_named(dir.path(), "r1/seg/000002.ts").len(), 1);
    // Offline, from the cache.
    let offline = read_vod(&url, persistent(&cache).rendition("a1").offline(true))
        .await
        .unwrap();
    assert!(offline == got);
    let s = open_session(&url, persistent(&cache)).await;
    let names: Vec<_> = s.renditions().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a0", "a1"]);
    within(s.close()).await;
    let err = read_vod(&url, persistent(&cache).rendition("nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HlsError::NoSuchRendition { name, .. } if name == "nope"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_fetches_the_renditions_of_the_variant_groups() {
    let origin = origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let url = origin.master_url().to_string();
    let s = open_session(&url, persistent(&cache)).await;
    within(s.prefetch_all(|_| {})).await.unwrap();
    within(s.close()).await;
    // Both audio renditions play offline now.
    for k in 0..2 {
        let got = read_vod(
            &url,
            persistent(&cache).rendition(format!("a{k}")).offline(true),
        )
        .await
        .unwrap();
        assert!(got == origin.rendition_expected_stream(k), "a{k}");
    }
    // All variants: the other variant too, each rendition fetched once.
    within(prefetch_all_variants(&url, persistent(&cache), |_| {}))
        .await
        .unwrap();
    let offline = read_vod(
        &url,
        persistent(&cache)
            .variant(kithara_hls::VariantSelect::Index(0))
            .offline(true),
    )
    .await
    .unwrap();
    assert!(offline == origin.expected_stream(0));
    assert_eq!(origin.requests("/a0/seg/0.ts"), 1);
}

/// `playlist_info` (for `kithara info`): variants and renditions from the
/// network without caching anything, and offline from the cache only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlist_info_lists_variants_and_renditions_online_and_offline() {
    let origin = origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let url = origin.master_url().to_string();
    let info = within(kithara_hls::playlist_info(&url, persistent(&cache)))
        .await
        .unwrap();
    assert!(info.master);
    let variants: Vec<_> = info
        .variants
        .iter()
        .map(|v| {
            (
                v.index,
                v.bandwidth,
                v.codecs.as_deref(),
                v.audio.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            (0, 64_000, Some("mp4a.40.2"), Some("aud")),
            (1, 128_000, Some("mp4a.40.2"), Some("aud"))
        ]
    );
    let renditions: Vec<_> = info
        .renditions
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.group.as_str(),
                r.name.as_str(),
                r.language.as_deref(),
                r.default,
            )
        })
        .collect();
    assert_eq!(
        renditions,
        [
            ("AUDIO", "aud", "a0", Some("l0"), true),
            ("AUDIO", "aud", "a1", Some("l1"), false)
        ]
    );
    assert!(
        files_named(dir.path(), ".m3u8").is_empty(),
        "nothing cached"
    );
    let err = within(kithara_hls::playlist_info(
        &url,
        persistent(&cache).offline(true),
    ))
    .await
    .unwrap_err();
    assert!(err.is_offline_miss(), "{err:?}");
    read_vod(&url, persistent(&cache)).await.unwrap();
    let offline = within(kithara_hls::playlist_info(
        &url,
        persistent(&cache).offline(true),
    ))
    .await
    .unwrap();
    assert_eq!(offline, info);
}
