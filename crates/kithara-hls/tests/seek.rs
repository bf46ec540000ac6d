//! Issue test 7: seeking. Reading from offsets 0, 1, 5, 7 and from the middle
//! of a later segment gives the expected bytes, on a cold and a warm cache,
//! through the async API and the blocking `Read + Seek` adapter. Seeking by
//! time and from the end downloads no segment before the target (issue 16
//! item 7): the origin's log shows only `HEAD`s and 32-byte tails of them.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::sync::mpsc;
use std::time::Duration;

use common::{LIMIT, open_cache, persistent, read_at_least, read_vod, unwrap_xor, within};
use kithara_hls::{HlsError, HlsOptions, HlsSession, VariantSelect};
use kithara_test_utils::{DirOrigin, Encryption, HlsOrigin, IvMode, OriginConfig};

const VARIANT: usize = 1;

fn origin() -> HlsOrigin {
    HlsOrigin::start(
        OriginConfig::default()
            .variants(2)
            .segments(8)
            .segment_size(3000)
            .init(true)
            .wrapped_key(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            }),
    )
    .expect("origin")
}

/// The offsets of the issue, plus a read across a segment boundary.
fn offsets(origin: &HlsOrigin) -> Vec<u64> {
    let init = origin.init_bytes(VARIANT).map_or(0, |b| b.len());
    let seg = |i: usize| origin.segment_plaintext(VARIANT, i).len();
    let start_of = |k: usize| init + (0..k).map(seg).sum::<usize>();
    vec![
        0,
        1,
        5,
        7,
        (start_of(5) + seg(5) / 2) as u64, // middle of a later segment
        (start_of(3) - 10) as u64,         // across a boundary
    ]
}

fn opts(cache: &kithara_cache::AssetCache) -> HlsOptions {
    persistent(cache)
        .variant(VariantSelect::Index(VARIANT))
        .key_processor(unwrap_xor())
}

async fn check_at(s: &mut HlsSession, expected: &[u8], off: u64) {
    let pos = s.seek(SeekFrom::Start(off)).await.expect("seek");
    assert_eq!(pos, off);
    let want = &expected[off as usize..(off as usize + 100).min(expected.len())];
    let mut got = Vec::new();
    let mut buf = [0u8; 37];
    while got.len() < want.len() {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "early end at {off}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(&got[..want.len()], want, "bytes at offset {off}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_seeks_each_on_a_fresh_cache() {
    let origin = origin();
    let expected = origin.expected_stream(VARIANT);
    for off in offsets(&origin) {
        let dir = tempfile::tempdir().unwrap();
        let cache = open_cache(dir.path());
        within(async {
            let mut s = HlsSession::open(origin.master_url().as_str(), opts(&cache))
                .await
                .expect("open");
            assert_eq!(s.len(), None, "length unknown before anything is read");
            check_at(&mut s, &expected, off).await;
            s.close().await;
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_seeks_in_any_order() {
    let origin = origin();
    let expected = origin.expected_stream(VARIANT);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    read_vod(origin.master_url().as_str(), opts(&cache))
        .await
        .expect("warm-up");
    let mut offs = offsets(&origin);
    offs.reverse();
    offs.extend(offsets(&origin));
    within(async {
        let mut s = HlsSession::open(origin.master_url().as_str(), opts(&cache))
            .await
            .expect("open");
        for off in offs {
            check_at(&mut s, &expected, off).await;
        }
        // From the end and relative to the current position.
        let len = expected.len() as u64;
        assert_eq!(s.seek(SeekFrom::End(-5)).await.unwrap(), len - 5);
        assert_eq!(s.len(), Some(len));
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, &expected[expected.len() - 5..]);
        assert_eq!(s.seek(SeekFrom::Current(-20)).await.unwrap(), len - 20);
        check_at(&mut s, &expected, len - 20).await;
        assert!(s.seek(SeekFrom::Current(-(len as i64) - 1)).await.is_err());
        // Past the end reads nothing.
        s.seek(SeekFrom::Start(len + 10)).await.unwrap();
        assert_eq!(s.read(&mut [0u8; 8]).await.unwrap(), 0);
        assert_eq!(s.stats().network_fetches, 0);
        s.close().await;
    })
    .await;
}

/// Run `f` on its own thread, failing the test if it outlives `LIMIT`.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LIMIT).expect("blocking test timed out")
}

#[test]
fn blocking_reader_reads_and_seeks_cold_then_warm() {
    let origin = origin();
    let expected = origin.expected_stream(VARIANT);
    let offs = offsets(&origin);
    let url = origin.master_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    bounded(move || {
        let cache = open_cache(&root);
        for pass in ["cold", "warm"] {
            let mut r = HlsSession::open_blocking(&url, opts(&cache)).expect("open");
            for &off in &offs {
                assert_eq!(r.seek(SeekFrom::Start(off)).unwrap(), off);
                let mut buf = vec![0u8; 100];
                r.read_exact(&mut buf).unwrap();
                assert_eq!(
                    buf,
                    &expected[off as usize..off as usize + 100],
                    "{pass} {off}"
                );
            }
            r.seek(SeekFrom::Start(0)).unwrap();
            let mut all = Vec::new();
            r.read_to_end(&mut all).unwrap();
            assert!(all == expected, "{pass} full read");
            assert_eq!(r.stream_position().unwrap(), expected.len() as u64);
            assert_eq!(r.seek(SeekFrom::End(0)).unwrap(), expected.len() as u64);
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_blocking_works_on_a_decoder_thread() {
    let origin = origin();
    let expected = origin.expected_stream(VARIANT);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let s = within(HlsSession::open(origin.master_url().as_str(), opts(&cache)))
        .await
        .expect("open");
    let mut r = s.into_blocking().expect("blocking reader");
    let got = within(tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        r.seek(SeekFrom::Start(7)).unwrap();
        r.read_to_end(&mut out).unwrap();
        out
    }))
    .await
    .unwrap();
    assert_eq!(got, &expected[7..]);
}

/// One variant of 8 segments of 4 s, with an init segment; clear or
/// AES-128 (then the key is fetched as a read would).
fn timed_origin(encrypted: bool) -> HlsOrigin {
    let cfg = OriginConfig::default()
        .variants(1)
        .segments(8)
        .segment_size(3000)
        .init(true)
        .target_duration(4);
    let cfg = if encrypted {
        cfg.wrapped_key(true).encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        })
    } else {
        cfg
    };
    HlsOrigin::start(cfg).expect("origin")
}

/// A session on `timed_origin` (two fetches at a time at most).
async fn open_timed(origin: &HlsOrigin, cache: &kithara_cache::AssetCache) -> HlsSession {
    let opts = persistent(cache)
        .key_processor(unwrap_xor())
        .lookahead_segments(2);
    HlsSession::open(origin.master_url().as_str(), opts)
        .await
        .expect("open")
}

/// Segment `i` was never downloaded: every request of it was a `HEAD` or a
/// `GET` of at most 32 bytes (the tail an encrypted length needs).
fn assert_not_downloaded(origin: &HlsOrigin, i: usize) {
    let path = origin.segment_path(0, i);
    let methods = origin.request_methods(&path);
    let ranges = origin.request_headers(&path, "range");
    assert_eq!(methods.len(), ranges.len());
    for (method, range) in methods.iter().zip(&ranges) {
        let small = range.as_deref().and_then(|r| {
            let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
            Some(b.parse::<u64>().ok()? + 1 - a.parse::<u64>().ok()? <= 32)
        });
        assert!(
            method == "HEAD" || (method == "GET" && small == Some(true)),
            "segment {i} downloaded: {method} {range:?}"
        );
    }
}

/// Segment `i` was downloaded whole (a `GET` without a range).
fn assert_downloaded(origin: &HlsOrigin, i: usize) {
    let path = origin.segment_path(0, i);
    let methods = origin.request_methods(&path);
    let ranges = origin.request_headers(&path, "range");
    assert!(
        methods
            .iter()
            .zip(&ranges)
            .any(|(m, r)| m == "GET" && r.is_none()),
        "segment {i} not downloaded: {methods:?} {ranges:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_time_fetches_no_segment_before_the_target() {
    for encrypted in [false, true] {
        let origin = timed_origin(encrypted);
        let expected = origin.expected_stream(0);
        let init = origin.init_bytes(0).map_or(0, |b| b.len());
        let start_of_3 = init
            + (0..3)
                .map(|i| origin.segment_plaintext(0, i).len())
                .sum::<usize>();
        let dir = tempfile::tempdir().unwrap();
        let cache = open_cache(dir.path());
        within(async {
            let mut s = open_timed(&origin, &cache).await;
            assert_eq!(s.duration(), Duration::from_secs(32));
            // 13 s is in segment 3 (12 s to 16 s).
            let pos = s
                .seek_time(Duration::from_millis(13_000))
                .await
                .expect("seek");
            assert_eq!(pos, start_of_3 as u64, "encrypted: {encrypted}");
            assert_eq!(s.position(), pos);
            let mut got = vec![0u8; 100];
            let mut n = 0;
            while n < got.len() {
                let k = s.read(&mut got[n..]).await.expect("read");
                assert!(k > 0, "early end");
                n += k;
            }
            assert_eq!(got, &expected[start_of_3..start_of_3 + 100]);
            // The end is no time to play from: an error, the position stays.
            for past in [32_000, 99_000] {
                let err = s.seek_time(Duration::from_millis(past)).await.unwrap_err();
                assert!(matches!(err, HlsError::SeekPastEnd { .. }), "{err}");
            }
            assert_eq!(s.position(), pos + 100);
            // A time in the first segment is the very start (the init segment).
            assert_eq!(s.seek_time(Duration::from_millis(3_999)).await.unwrap(), 0);
            s.close().await;
        })
        .await;
        for i in 0..3 {
            assert_not_downloaded(&origin, i);
        }
        assert_downloaded(&origin, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_from_the_end_downloads_only_the_last_segment() {
    let origin = timed_origin(true);
    let expected = origin.expected_stream(0);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    within(async {
        let mut s = open_timed(&origin, &cache).await;
        let len = expected.len() as u64;
        assert_eq!(s.seek(SeekFrom::End(-5)).await.expect("seek"), len - 5);
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).await.expect("read");
        assert_eq!(tail, &expected[expected.len() - 5..]);
        s.close().await;
    })
    .await;
    for i in 0..7 {
        assert_not_downloaded(&origin, i);
    }
    assert_downloaded(&origin, 7);
}

/// A `HEAD` length is a hint: when the segment turns out longer (here the
/// file grows between the probes of `SeekFrom::End` and the read), the
/// positions after it move and the stream is the real bytes, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probed_length_that_turns_out_wrong_moves_the_positions_after_it() {
    let files = tempfile::tempdir().unwrap();
    let seg = |i: u8, n: usize| vec![b'a' + i; n];
    let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:4\n");
    for i in 0..3u8 {
        std::fs::write(files.path().join(format!("{i}.ts")), seg(i, 100)).unwrap();
        playlist.push_str(&format!("#EXTINF:4,\n{i}.ts\n"));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(files.path().join("media.m3u8"), playlist).unwrap();
    let origin = DirOrigin::start(files.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    within(async {
        let url = origin.url("media.m3u8");
        let mut s = HlsSession::open(url.as_str(), persistent(&cache))
            .await
            .expect("open");
        assert_eq!(s.seek(SeekFrom::End(0)).await.unwrap(), 300, "from HEADs");
        std::fs::write(files.path().join("0.ts"), seg(0, 150)).unwrap();
        s.seek(SeekFrom::Start(0)).await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.expect("read");
        assert!(all == [seg(0, 150), seg(1, 100), seg(2, 100)].concat());
        assert_eq!(s.len(), Some(350));
        s.close().await;
    })
    .await;
    assert_eq!(origin.requests("/1.ts"), 2, "a HEAD and a GET");
}

/// A live session seeks by time in what its playlist lists so far (3
/// segments of 1 s here), downloading nothing before the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_time_in_a_live_playlist_goes_as_far_as_it_lists() {
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(1)
            .segments(6)
            .segment_size(3000)
            .target_duration(1)
            .live(3),
    )
    .expect("origin");
    let expected = origin.expected_stream(0);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    within(async {
        let mut s = HlsSession::open(origin.master_url().as_str(), persistent(&cache))
            .await
            .expect("open");
        assert!(s.is_live());
        assert_eq!(s.duration(), Duration::from_secs(3));
        assert_eq!(
            s.seek_time(Duration::from_millis(2500)).await.unwrap(),
            6000
        );
        let got = read_at_least(&mut s, 100).await.expect("read");
        assert_eq!(got[..100], expected[6000..6100]);
        let err = s.seek_time(Duration::from_secs(3)).await.unwrap_err();
        assert!(matches!(err, HlsError::SeekPastEnd { .. }), "{err}");
        s.close().await;
    })
    .await;
    for i in 0..2 {
        assert_not_downloaded(&origin, i);
    }
}
