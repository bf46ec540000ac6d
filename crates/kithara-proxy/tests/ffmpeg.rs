//! Behaviour 12: a real client. ffmpeg makes real HLS VODs at test time
//! (a sine tone in AAC): MPEG-TS with two variants, fMP4 with an init
//! segment, AES-128 TS (key at `../keys/`), and fMP4 in one file of byte
//! ranges. A static origin serves them; through a proxy over a fresh
//! cache ffprobe counts the packets of every stream and ffmpeg decodes
//! them all (an MD5 of each stream's audio); then the origin stops and
//! both play again through the same proxy, and through a new proxy in
//! offline mode over the same cache. Every run has the packet counts and
//! the decoded audio of the origin played directly, and exits 0 with
//! nothing on stderr at `-v error`.
//!
//! Needs `ffmpeg` and `ffprobe` (Debian package `ffmpeg`, installed by
//! `.ci/run`); fails, never skips, without them.

mod players;

use std::path::Path;
use std::time::{Duration, Instant};

use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::DirOrigin;
use players::{Encode, PROGRAM_LIMIT, key_info, open_cache, require, run_async, segment_uris};
use url::Url;

/// Protocols ffmpeg may use: HTTP (over TCP) and, for AES-128, `crypto`.
const WHITELIST: &str = "http,tcp,crypto";

/// One stream as ffprobe read it: (codec, packets read).
type Streams = Vec<(String, u64)>;

/// ffprobe reads every packet of every stream of `url`.
async fn probe(url: &Url, when: &str) -> Streams {
    let args = strings(&[
        "-v",
        "error",
        "-protocol_whitelist",
        WHITELIST,
        "-rw_timeout",
        "10000000",
        "-count_packets",
        "-show_entries",
        "stream=codec_name,nb_read_packets",
        "-of",
        "flat",
        url.as_str(),
    ]);
    let out = run_async("ffprobe", args, PROGRAM_LIMIT).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{when}: ffprobe {url}: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    assert!(
        stderr.trim().is_empty(),
        "{when}: ffprobe {url} reported errors:\n{stderr}"
    );
    // `streams.stream.<i>.<key>=<value>` (the same streams are listed
    // again under `programs.`, one program per variant).
    let mut streams: Streams = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.trim().strip_prefix("streams.stream.") else {
            continue;
        };
        let (index, entry) = rest.split_once('.').unwrap();
        let (key, value) = entry.split_once('=').unwrap();
        let index: usize = index.parse().unwrap();
        if streams.len() <= index {
            streams.resize(index + 1, (String::new(), 0));
        }
        let value = value.trim_matches('"');
        match key {
            "codec_name" => streams[index].0 = value.to_owned(),
            "nb_read_packets" => streams[index].1 = value.parse().unwrap(),
            _ => {}
        }
    }
    assert!(!streams.is_empty(), "{when}: no stream in {url}: {stdout}");
    for (codec, n) in &streams {
        assert_eq!(codec, "aac", "{when}: {streams:?}");
        assert!(*n > 0, "{when}: a stream without packets: {streams:?}");
    }
    streams
}

/// ffmpeg decodes every stream of `url`: exit 0, no error. Returns the
/// MD5 of each stream's decoded audio (`0,a,MD5=…`) and the wall time.
async fn decode(url: &Url, when: &str) -> (Vec<String>, Duration) {
    let args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-xerror",
        "-protocol_whitelist",
        WHITELIST,
        "-rw_timeout",
        "10000000",
        "-i",
        url.as_str(),
        "-map",
        "0",
        "-f",
        "streamhash",
        "-hash",
        "md5",
        "-",
    ]);
    let started = Instant::now();
    let out = run_async("ffmpeg", args, PROGRAM_LIMIT).await;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{when}: ffmpeg {url}: {}\n{stderr}",
        out.status
    );
    assert!(
        stderr.trim().is_empty(),
        "{when}: ffmpeg {url} reported errors:\n{stderr}"
    );
    let hashes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(!hashes.is_empty(), "{when}: ffmpeg decoded no stream");
    (hashes, took)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Plays `entry` (a playlist under `root`) directly from the origin,
/// through a proxy over a fresh cache, through it again with the origin
/// stopped, and through a new offline proxy over the same cache: every
/// run has the direct run's packet counts and decoded audio. `fetches`
/// are the origin paths a player needs, each with the number of upstream
/// requests the first play through the proxy makes for it (one per
/// resource: a byte range is a resource); a second play fetches nothing.
async fn plays_online_then_from_the_cache(root: &Path, entry: &str, fetches: &[(String, usize)]) {
    require("ffmpeg", "ffmpeg");
    require("ffprobe", "ffmpeg");
    let origin = DirOrigin::start(root).unwrap();
    let upstream = origin.url(entry);
    let direct = probe(&upstream, "direct from the origin").await;
    let (direct_audio, _) = decode(&upstream, "direct from the origin").await;
    origin.reset_requests();

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = open_cache(cache_dir.path());
    let proxy = Proxy::start(ProxyOptions::new(cache.clone()))
        .await
        .unwrap();
    let proxied = proxy.url_for(&upstream);
    assert_eq!(proxied.host_str(), Some("127.0.0.1"));
    assert_ne!(proxied.port(), upstream.port());

    let started = Instant::now();
    let online = probe(&proxied, "online").await;
    let online_took = started.elapsed();
    assert_eq!(online, direct, "online through the proxy vs direct");
    for (path, n) in fetches {
        assert_eq!(
            origin.requests(path),
            *n,
            "{path}: {:?}",
            origin.request_log()
        );
    }
    let fetched = origin.total_requests();
    assert_eq!(
        fetched,
        fetches.iter().map(|f| f.1).sum::<usize>(),
        "{:?}",
        origin.request_log()
    );
    let (audio, hit_took) = decode(&proxied, "online, cached").await;
    assert_eq!(audio, direct_audio, "decoded audio, online");
    assert_eq!(
        origin.total_requests(),
        fetched,
        "a second play is all hits: {:?}",
        origin.request_log()
    );

    origin.stop();
    let gone = probe(&proxied, "origin stopped").await;
    assert_eq!(gone, direct, "origin stopped");
    let (audio, gone_took) = decode(&proxied, "origin stopped").await;
    assert_eq!(audio, direct_audio, "decoded audio, origin stopped");
    proxy.shutdown().await;

    let offline = Proxy::start(ProxyOptions::new(cache.clone()).offline(true))
        .await
        .unwrap();
    let again = offline.url_for(&upstream);
    assert_eq!(probe(&again, "offline").await, direct, "offline proxy");
    let (audio, offline_took) = decode(&again, "offline").await;
    assert_eq!(audio, direct_audio, "decoded audio, offline");
    offline.shutdown().await;
    eprintln!(
        "{entry}: packets per stream {:?}; {fetched} origin fetches; ffprobe online \
         (misses) {online_took:?}; ffmpeg decode: cached {hit_took:?}, origin stopped \
         {gone_took:?}, offline {offline_took:?}",
        direct.iter().map(|s| s.1).collect::<Vec<_>>()
    );
}

/// Each of `names` under `dir`, as an origin path fetched once.
fn once(dir: &str, names: impl IntoIterator<Item = String>) -> Vec<(String, usize)> {
    names
        .into_iter()
        .map(|n| (format!("/{dir}/{n}"), 1))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_a_ts_master_with_two_variants_online_then_from_the_cache() {
    require("ffmpeg", "ffmpeg");
    let media = tempfile::tempdir().unwrap();
    let root = media.path();
    let mut files = once("ts", ["master.m3u8".to_owned()]);
    for (name, bitrate, frequency) in [("lo", "64k", 440), ("hi", "128k", 660)] {
        let playlist = Encode {
            seconds: 12,
            segment_seconds: 4,
            bitrate,
            frequency,
        }
        .write(
            root,
            &format!("ts/{name}.m3u8"),
            &format!("{name}_%d.ts"),
            &[],
        );
        files.extend(once("ts", [format!("{name}.m3u8")]));
        files.extend(once("ts", segment_uris(&playlist)));
    }
    std::fs::write(
        root.join("ts/master.m3u8"),
        "#EXTM3U\n#EXT-X-VERSION:3\n\
         #EXT-X-STREAM-INF:BANDWIDTH=80000,CODECS=\"mp4a.40.2\"\nlo.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=150000,CODECS=\"mp4a.40.2\"\nhi.m3u8\n",
    )
    .unwrap();
    plays_online_then_from_the_cache(root, "ts/master.m3u8", &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_fmp4_with_an_init_segment_online_then_from_the_cache() {
    require("ffmpeg", "ffmpeg");
    let media = tempfile::tempdir().unwrap();
    let root = media.path();
    let playlist = Encode {
        seconds: 12,
        segment_seconds: 4,
        bitrate: "96k",
        frequency: 550,
    }
    .write(
        root,
        "fmp4/index.m3u8",
        "seg_%d.m4s",
        &[
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init.mp4",
        ],
    );
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.contains("#EXT-X-MAP:URI=\"init.mp4\""), "{text}");
    let mut files = once("fmp4", ["index.m3u8".to_owned(), "init.mp4".to_owned()]);
    files.extend(once("fmp4", segment_uris(&playlist)));
    // The media playlist itself is what the player opens.
    plays_online_then_from_the_cache(root, "fmp4/index.m3u8", &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_aes_128_ts_online_then_from_the_cache() {
    require("ffmpeg", "ffmpeg");
    let media = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let root = media.path();
    // The key lives beside the variant's directory: `../keys/a.key`.
    let info = key_info(root, scratch.path(), "keys/a.key", "../keys/a.key");
    let playlist = Encode {
        seconds: 12,
        segment_seconds: 4,
        bitrate: "64k",
        frequency: 330,
    }
    .write(
        root,
        "aes/index.m3u8",
        "seg_%d.ts",
        &["-hls_key_info_file", info.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(
        text.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/a.key\""),
        "{text}"
    );
    std::fs::write(
        root.join("aes/master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=80000,CODECS=\"mp4a.40.2\"\nindex.m3u8\n",
    )
    .unwrap();
    let mut files = once("aes", ["master.m3u8".to_owned(), "index.m3u8".to_owned()]);
    files.extend(once("keys", ["a.key".to_owned()]));
    files.extend(once("aes", segment_uris(&playlist)));
    plays_online_then_from_the_cache(root, "aes/master.m3u8", &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_byte_range_fmp4_from_one_file_online_then_from_the_cache() {
    require("ffmpeg", "ffmpeg");
    let media = tempfile::tempdir().unwrap();
    let root = media.path();
    // One file: the init segment and every segment are byte ranges of it.
    let playlist = Encode {
        seconds: 12,
        segment_seconds: 4,
        bitrate: "64k",
        frequency: 770,
    }
    .write(
        root,
        "one/index.m3u8",
        "index.m4s",
        &[
            "-hls_flags",
            "single_file",
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init.mp4",
        ],
    );
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(
        text.contains("#EXT-X-MAP:URI=\"index.m4s\",BYTERANGE="),
        "{text}"
    );
    let segments = segment_uris(&playlist);
    assert!(segments.iter().all(|s| s == "index.m4s"), "{text}");
    assert_eq!(text.matches("#EXT-X-BYTERANGE:").count(), segments.len());
    // One upstream request per range: the init segment's and each segment's.
    let files = vec![
        ("/one/index.m3u8".to_owned(), 1),
        ("/one/index.m4s".to_owned(), 1 + segments.len()),
    ];
    plays_online_then_from_the_cache(root, "one/index.m3u8", &files).await;
}
