//! RFC 8216 §6.3.1, "ignore what you do not understand", and the tags real
//! services serve: unknown tags and attributes, `EXT-X-SESSION-KEY` in a
//! media playlist, low-latency and date tags pass through; `EXT-X-GAP`
//! segments are never requested and the reader skips them; `EXT-X-DEFINE`
//! variables (`NAME`/`VALUE`, `QUERYPARAM`, `IMPORT` from the master) are
//! substituted. The VOD is a static directory served by `DirOrigin`.

mod common;

use std::path::Path;

use common::{open_cache, open_session, persistent, read_vod, within};
use kithara_test_utils::DirOrigin;

const MASTER: &str = "#EXTM3U
#EXT-X-DEFINE:NAME=\"dir\",VALUE=\"v0\"
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"nokey.bin\"
#EXT-X-NEW-MASTER-TAG:A=1
#EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS=\"mp4a.40.2\",FUTURE-ATTR=\"x\"
{$dir}/index.m3u8?tok=t1
";

const MEDIA: &str = "#EXTM3U
#EXT-X-VERSION:11
#EXT-X-TARGETDURATION:4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0
#EXT-X-PART-INF:PART-TARGET=1.0
#EXT-X-DEFINE:IMPORT=\"dir\"
#EXT-X-DEFINE:QUERYPARAM=\"tok\"
#EXT-X-DEFINE:NAME=\"ext\",VALUE=\"ts\"
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"../nokey.bin\"
#EXT-X-NEW-MEDIA-TAG:X=1
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2026-01-01T00:00:00.000Z\",X-NEW=\"1\"
#EXTINF:4,
s0-{$tok}.{$ext}
#EXT-X-GAP
#EXTINF:4,
s1.ts
#EXT-X-PART:DURATION=1.0,URI=\"s2.part0.ts\"
#EXTINF:4,
../{$dir}/s2.{$ext}
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s3.part0.ts\"
#EXT-X-RENDITION-REPORT:URI=\"../v1/index.m3u8\",LAST-MSN=2
#EXT-X-ENDLIST
";

fn write_vod(root: &Path) -> Vec<u8> {
    std::fs::create_dir_all(root.join("v0")).unwrap();
    std::fs::write(root.join("master.m3u8"), MASTER).unwrap();
    std::fs::write(root.join("v0/index.m3u8"), MEDIA).unwrap();
    let s0 = vec![0x11u8; 3000];
    let s2 = vec![0x22u8; 5000];
    std::fs::write(root.join("v0/s0-t1.ts"), &s0).unwrap();
    std::fs::write(root.join("v0/s2.ts"), &s2).unwrap();
    [s0, s2].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tags_pass_gaps_are_skipped_and_variables_substituted() {
    let site = tempfile::tempdir().unwrap();
    let expected = write_vod(site.path());
    let origin = DirOrigin::start(site.path()).unwrap();
    let master = origin.url("/master.m3u8");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let got = read_vod(master.as_str(), persistent(&cache)).await.unwrap();
    assert!(got == expected, "{} bytes", got.len());
    // The gap and the announced-only resources are never requested.
    for path in [
        "/v0/s1.ts",
        "/nokey.bin",
        "/v0/s2.part0.ts",
        "/v0/s3.part0.ts",
    ] {
        assert_eq!(origin.requests(path), 0, "{path}");
    }
    assert_eq!(origin.requests("/v0/s0-t1.ts"), 1);
    assert_eq!(origin.requests("/v0/s2.ts"), 1);
    // Offline it plays from the cache, substituted again from the cached text.
    let offline = read_vod(master.as_str(), persistent(&cache).offline(true))
        .await
        .unwrap();
    assert!(offline == expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_skips_gaps() {
    let site = tempfile::tempdir().unwrap();
    write_vod(site.path());
    let origin = DirOrigin::start(site.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let s = open_session(origin.url("/master.m3u8").as_str(), persistent(&cache)).await;
    let mut totals = Vec::new();
    let summary = within(s.prefetch_all(|p| totals.push(p.total)))
        .await
        .unwrap();
    assert_eq!(summary.downloaded, 2);
    assert_eq!(totals, [2, 2]);
    assert_eq!(origin.requests("/v0/s1.ts"), 0);
    within(s.close()).await;
}

/// An inline `data:` key (RFC 2397) works with no key request, online and
/// offline (errors that would name it say "data: URI": unit test in key.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_data_key_decrypts() {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    let key = *b"inline-key-16byt";
    let iv = [7u8; 16];
    let plain = vec![0x5Au8; 1000];
    let cipher = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(&plain);
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("s0.ts"), &cipher).unwrap();
    // "aW5saW5lLWtleS0xNmJ5dA==" is base64 of the key.
    let media = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n\
        #EXT-X-KEY:METHOD=AES-128,URI=\"data:text/plain;base64,aW5saW5lLWtleS0xNmJ5dA==\",IV=0x07070707070707070707070707070707\n\
        #EXTINF:4,\ns0.ts\n#EXT-X-ENDLIST\n";
    std::fs::write(site.path().join("index.m3u8"), media).unwrap();
    let origin = DirOrigin::start(site.path()).unwrap();
    let url = origin.url("/index.m3u8");
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let got = read_vod(url.as_str(), persistent(&cache)).await.unwrap();
    assert!(got == plain);
    assert_eq!(origin.total_requests(), 2, "{:?}", origin.request_log());
    let offline = read_vod(url.as_str(), persistent(&cache).offline(true))
        .await
        .unwrap();
    assert!(offline == plain);
}
