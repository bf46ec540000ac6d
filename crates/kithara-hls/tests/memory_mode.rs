//! Issue test 3: memory mode keeps segments in memory; at most playlists and
//! keys reach the disk.

mod common;

use common::{all_files, files_named, read_all, read_vod, unwrap_xor, within};
use kithara_hls::{CacheMode, HlsOptions, HlsSession, VariantSelect};
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig, count_files_recursive};

fn memory(root: Option<&std::path::Path>, max_bytes: u64) -> HlsOptions {
    HlsOptions::new().cache(CacheMode::Memory {
        max_bytes,
        resource_root: root.map(|p| p.to_path_buf()),
    })
}

async fn grows_by_at_most_variants_plus_six(variants: usize) {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(variants)
            .segments(12)
            .init(true)
            .wrapped_key(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            }),
    )
    .expect("origin");
    let dir = tempfile::tempdir().unwrap();
    let before = count_files_recursive(dir.path());
    let opts = memory(Some(dir.path()), 8 << 20)
        .key_processor(unwrap_xor())
        .variant(VariantSelect::Index(variants - 1));
    let got = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect("read");
    assert!(!got.is_empty());
    assert!(got == origin.expected_stream(variants - 1));
    let after = count_files_recursive(dir.path());
    assert!(
        after <= before + variants + 6,
        "{before} -> {after} files: {:?}",
        all_files(dir.path())
    );
    assert!(
        files_named(dir.path(), ".ts").is_empty(),
        "a segment reached the disk"
    );
    assert!(
        files_named(dir.path(), "init.mp4").is_empty(),
        "an init segment reached the disk"
    );
    // What is allowed did land there, for offline use.
    assert_eq!(files_named(dir.path(), ".key").len(), 1);
    assert!(!files_named(dir.path(), ".m3u8").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_grows_by_at_most_variants_plus_six_two_variants() {
    grows_by_at_most_variants_plus_six(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_grows_by_at_most_variants_plus_six_four_variants() {
    grows_by_at_most_variants_plus_six(4).await;
}

/// Without a resource root everything stays in memory and still plays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_memory_mode_reads_the_stream() {
    let origin = HlsOrigin::start(OriginConfig::default().variants(2).segments(6)).expect("origin");
    let mut s = within(HlsSession::open(
        origin.master_url().as_str(),
        memory(None, 1 << 20),
    ))
    .await
    .expect("open");
    let got = within(read_all(&mut s)).await.expect("read");
    assert!(got == origin.expected_stream(s.variant_index()));
    assert!(s.stats().network_fetches >= 6);
    s.close().await;
}

/// A memory cache smaller than the stream (even than one segment) still
/// plays everything; old segments are evicted or writes refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_memory_smaller_than_the_stream() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(10)
            .segment_size(5000),
    )
    .expect("origin");
    for max in [12_000u64, 1000] {
        let got = read_vod(origin.master_url().as_str(), memory(None, max))
            .await
            .expect("read");
        assert!(got == origin.expected_stream(0), "max_bytes {max}");
    }
}
