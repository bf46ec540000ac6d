//! End-to-end tests of the loopback HLS origin over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{decrypt, get, get_ok, get_with, parse_master, parse_media};
use kithara_origin::{Encryption, HlsOrigin, IvMode, OriginConfig, Stopped};

fn start(config: OriginConfig) -> HlsOrigin {
    HlsOrigin::start(config).expect("origin starts")
}

#[test]
fn master_lists_variants_in_order_of_increasing_bandwidth() {
    let origin = start(OriginConfig::default().variants(3));
    let master_url = origin.master_url();
    assert_eq!(master_url.path(), "/master.m3u8");
    assert_eq!(master_url.host_str(), Some("127.0.0.1"));
    let response = get(&master_url);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let variants = parse_master(&response.text(), &master_url);
    assert_eq!(variants.len(), 3);
    for (v, (_, url)) in variants.iter().enumerate() {
        assert_eq!(*url, origin.media_url(v));
    }
    assert!(variants.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn plain_vod_serves_deterministic_segments() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(8)
            .segment_size(1000),
    );
    for v in 0..2 {
        let media_url = origin.media_url(v);
        let text = String::from_utf8(get_ok(&media_url)).unwrap();
        for tag in [
            "#EXT-X-PLAYLIST-TYPE:VOD",
            "#EXT-X-ENDLIST",
            "#EXT-X-TARGETDURATION:4",
        ] {
            assert!(text.contains(tag), "{tag} missing in\n{text}");
        }
        assert!(!text.contains("EXT-X-KEY"));
        let media = parse_media(&text, &media_url);
        assert_eq!(media.entries.len(), 8);
        assert_eq!(media.media_sequence, 0);
        let mut stream = Vec::new();
        for (i, entry) in media.entries.iter().enumerate() {
            assert_eq!(entry.duration, "4.0,");
            assert_eq!(entry.url, origin.segment_url(v, i));
            assert_eq!(entry.url.path(), format!("/v{v}/seg/{i}.ts"));
            let body = get_ok(&entry.url);
            assert!(body.starts_with(format!("V{v}-SEG-{i}:").as_bytes()));
            assert_eq!(body.len(), 1000);
            assert_eq!(body, origin.segment_plaintext(v, i));
            stream.extend_from_slice(&body);
        }
        assert_eq!(stream, origin.expected_stream(v));
        assert_eq!(origin.init_bytes(v), None);
    }
    assert_ne!(
        origin.segment_plaintext(0, 1),
        origin.segment_plaintext(1, 1)
    );
}

#[test]
fn two_origins_with_the_same_config_serve_identical_bytes() {
    let config = OriginConfig::default()
        .init(true)
        .encryption(Encryption::Aes128 { iv: IvMode::Fixed });
    let a = start(config.clone());
    let b = start(config);
    assert_ne!(a.base_url(), b.base_url());
    for i in 0..6 {
        assert_eq!(get_ok(&a.segment_url(1, i)), get_ok(&b.segment_url(1, i)));
    }
    assert_eq!(a.expected_stream(1), b.expected_stream(1));
}

#[test]
fn aes_fixed_iv_with_init_wrapped_key_and_key_auth() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(5)
            .segment_size(3000)
            .init(true)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
            .wrapped_key(true)
            .key_query("token", "s3cret value")
            .key_header("X-Key-Auth", "yes"),
    );
    for v in 0..2 {
        let media_url = origin.media_url(v);
        let text = String::from_utf8(get_ok(&media_url)).unwrap();
        let media = parse_media(&text, &media_url);
        let key = media.key.clone().expect("EXT-X-KEY");
        assert_eq!(key.method, "AES-128");
        assert_eq!(key.url, origin.key_url());
        assert!(key.url.query().unwrap().contains("token="));
        let iv = key.iv.expect("explicit IV");
        assert_eq!(Some(iv), origin.segment_iv(3));

        // Key auth: query and header are both required.
        let mut no_query = key.url.clone();
        no_query.set_query(None);
        assert_eq!(
            get_with(&no_query, &[("X-Key-Auth", "yes")])
                .unwrap()
                .status,
            403
        );
        assert_eq!(get(&key.url).status, 403);
        assert_eq!(
            get_with(&key.url, &[("x-key-auth", "no")]).unwrap().status,
            403
        );
        let served = get_with(&key.url, &[("x-key-auth", "yes")]).unwrap();
        assert_eq!(served.status, 200);
        assert_eq!(served.body.len(), 16);
        let unwrapped: Vec<u8> = served.body.iter().map(|b| b ^ 0xFF).collect();
        assert_eq!(unwrapped, origin.raw_key());
        assert_ne!(served.body, origin.raw_key());

        // Init segment: in clear, before the key tag.
        let map_url = media.map.clone().expect("EXT-X-MAP");
        assert_eq!(Some(map_url.clone()), origin.init_url(v));
        let map_pos = text.find("#EXT-X-MAP").unwrap();
        assert!(map_pos < text.find("#EXT-X-KEY").unwrap());
        let init = get_ok(&map_url);
        assert!(init.starts_with(format!("V{v}-INIT:").as_bytes()));
        assert_eq!(Some(init.clone()), origin.init_bytes(v));

        let mut stream = init;
        for (i, entry) in media.entries.iter().enumerate() {
            let ciphertext = get_ok(&entry.url);
            assert_eq!(ciphertext.len() % 16, 0);
            assert_eq!(ciphertext, origin.segment_served_bytes(v, i));
            let plain = decrypt(&ciphertext, &origin.raw_key(), &iv);
            assert_eq!(plain, origin.segment_plaintext(v, i));
            stream.extend_from_slice(&plain);
        }
        assert_eq!(stream, origin.expected_stream(v));
    }
    assert_eq!(origin.requests("/key.bin"), 8);
}

#[test]
fn aes_media_sequence_iv_uses_big_endian_sequence_number() {
    let origin = start(
        OriginConfig::default()
            .variants(1)
            .segments(4)
            .media_sequence(258)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            }),
    );
    let media_url = origin.media_url(0);
    let media = parse_media(&String::from_utf8(get_ok(&media_url)).unwrap(), &media_url);
    assert_eq!(media.media_sequence, 258);
    let key = media.key.expect("EXT-X-KEY");
    assert_eq!(key.iv, None, "no IV attribute in media-sequence mode");
    let served_key: [u8; 16] = get_ok(&key.url).try_into().expect("16-byte key");
    assert_eq!(served_key, origin.raw_key());
    let mut stream = Vec::new();
    for (i, entry) in media.entries.iter().enumerate() {
        let msn = media.media_sequence + i as u64;
        let iv = u128::from(msn).to_be_bytes();
        assert_eq!(Some(iv), origin.segment_iv(i));
        let plain = decrypt(&get_ok(&entry.url), &served_key, &iv);
        assert!(plain.starts_with(format!("V0-SEG-{i}:").as_bytes()));
        stream.extend_from_slice(&plain);
    }
    assert_eq!(stream, origin.expected_stream(0));
}

#[test]
fn byte_ranges_pack_segments_with_implicit_offsets() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(7)
            .segment_size(777)
            .byte_ranges(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            }),
    );
    let v = 1;
    let media_url = origin.media_url(v);
    let text = String::from_utf8(get_ok(&media_url)).unwrap();
    let media = parse_media(&text, &media_url);
    assert_eq!(media.entries.len(), 7);
    assert!(
        media.entries[0].byte_range.unwrap().1.is_some(),
        "first offset explicit"
    );
    assert!(
        media
            .entries
            .iter()
            .any(|e| e.byte_range.unwrap().1.is_none())
    );
    assert_eq!(
        get(&origin.segment_url(v, 0).join("seg/0.ts").unwrap()).status,
        404
    );

    let packed_url = origin.segment_url(v, 0);
    assert_eq!(packed_url.path(), "/v1/all.ts");
    let packed = get_ok(&packed_url);
    let mut next_offset = 0;
    let mut stream = Vec::new();
    for (i, entry) in media.entries.iter().enumerate() {
        assert_eq!(entry.url, packed_url);
        let (len, offset) = entry.byte_range.expect("EXT-X-BYTERANGE");
        // RFC 8216 §4.3.2.2: no offset means "right after the previous one".
        let offset = offset.unwrap_or(next_offset);
        next_offset = offset + len;
        assert_eq!(origin.segment_range(v, i), Some(offset..offset + len));

        let range = format!("bytes={}-{}", offset, offset + len - 1);
        let response = get_with(&entry.url, &[("Range", &range)]).unwrap();
        assert_eq!(response.status, 206);
        assert_eq!(
            response.header("content-range"),
            Some(format!("bytes {}-{}/{}", offset, offset + len - 1, packed.len()).as_str())
        );
        assert_eq!(
            response.body,
            packed[offset as usize..(offset + len) as usize]
        );
        let iv = origin.segment_iv(i).unwrap();
        stream.extend_from_slice(&decrypt(&response.body, &origin.raw_key(), &iv));
    }
    assert_eq!(next_offset, packed.len() as u64);
    assert_eq!(stream, origin.expected_stream(v));
    assert_eq!(origin.requests("/v1/all.ts"), 8);

    let beyond = format!("bytes={}-", packed.len());
    assert_eq!(
        get_with(&packed_url, &[("Range", &beyond)]).unwrap().status,
        416
    );
}

#[test]
fn absolute_uris_when_configured() {
    let origin = start(
        OriginConfig::default()
            .relative_uris(false)
            .init(true)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
            .key_query("k", "1"),
    );
    let base = origin.base_url().to_string();
    let master = String::from_utf8(get_ok(&origin.master_url())).unwrap();
    let media = String::from_utf8(get_ok(&origin.media_url(0))).unwrap();
    for line in master.lines().chain(media.lines()) {
        if !line.starts_with('#') && !line.is_empty() {
            assert!(line.starts_with(&base), "{line} is not absolute");
        }
    }
    assert!(media.contains(&format!("URI=\"{}\"", origin.key_url())));
    assert!(media.contains(&format!("URI=\"{}\"", origin.init_url(0).unwrap())));
}

#[test]
fn relative_uris_by_default() {
    let origin = start(
        OriginConfig::default()
            .init(true)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
            .key_query("k", "1"),
    );
    let master = String::from_utf8(get_ok(&origin.master_url())).unwrap();
    let media = String::from_utf8(get_ok(&origin.media_url(1))).unwrap();
    assert!(!master.contains("http://"));
    assert!(!media.contains("http://"));
    assert!(media.contains("URI=\"../key.bin?k=1\""));
}

#[test]
fn fail_after_breaks_segments_only_until_healed() {
    let origin = start(OriginConfig::default().segments(6));
    origin.set_fail_after(Some(2));
    assert_eq!(get(&origin.segment_url(0, 0)).status, 200);
    assert_eq!(get(&origin.segment_url(1, 0)).status, 200);
    assert_eq!(get(&origin.segment_url(0, 1)).status, 500);
    assert_eq!(get(&origin.segment_url(0, 0)).status, 500);
    assert_eq!(
        get(&origin.media_url(0)).status,
        200,
        "playlists unaffected"
    );
    assert_eq!(get(&origin.master_url()).status, 200);
    origin.set_fail_after(None);
    assert_eq!(get(&origin.segment_url(0, 1)).status, 200);
    origin.set_fail_after(Some(0));
    assert_eq!(get(&origin.segment_url(0, 2)).status, 500);
}

#[test]
fn set_status_forces_and_clears_a_status() {
    let origin = start(OriginConfig::default().encryption(Encryption::Aes128 {
        iv: IvMode::MediaSequence,
    }));
    origin.set_status("/v0/seg/3.ts", Some(404));
    origin.set_status("/key.bin", Some(500));
    assert_eq!(get(&origin.segment_url(0, 3)).status, 404);
    assert_eq!(get(&origin.segment_url(0, 2)).status, 200);
    assert_eq!(get(&origin.segment_url(1, 3)).status, 200);
    assert_eq!(get(&origin.key_url()).status, 500);
    origin.set_status(origin.key_url().as_str(), None);
    origin.set_status("/v0/seg/3.ts", None);
    assert_eq!(get(&origin.key_url()).status, 200);
    assert_eq!(get(&origin.segment_url(0, 3)).status, 200);
}

#[test]
fn counters_and_log_track_every_request() {
    let origin = start(
        OriginConfig::default()
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
            .key_query("t", "x"),
    );
    assert_eq!(origin.total_requests(), 0);
    get_ok(&origin.master_url());
    get_ok(&origin.media_url(0));
    get_ok(&origin.segment_url(0, 3));
    get_ok(&origin.segment_url(0, 3));
    get_ok(&origin.key_url());
    let mut unknown = origin.base_url();
    unknown.set_path("/nope/x.ts");
    assert_eq!(get(&unknown).status, 404);
    assert_eq!(get(&origin.media_url(9)).status, 404);
    assert_eq!(get(&origin.segment_url(0, 6)).status, 404);

    assert_eq!(origin.requests("/v0/seg/3.ts"), 2);
    assert_eq!(origin.requests(origin.segment_url(0, 3).as_str()), 2);
    assert_eq!(origin.requests("/key.bin"), 1, "counted without the query");
    assert_eq!(origin.requests("/nope/x.ts"), 1);
    assert_eq!(origin.requests("/v1/seg/0.ts"), 0);
    assert_eq!(origin.total_requests(), 8);
    assert_eq!(
        origin.request_log(),
        [
            "/master.m3u8",
            "/v0/playlist.m3u8",
            "/v0/seg/3.ts",
            "/v0/seg/3.ts",
            "/key.bin",
            "/nope/x.ts",
            "/v9/playlist.m3u8",
            "/v0/seg/6.ts",
        ]
    );
    origin.reset_requests();
    assert_eq!(origin.total_requests(), 0);
    assert!(origin.request_log().is_empty());
}

#[test]
fn no_key_resource_without_encryption() {
    let origin = start(OriginConfig::default());
    let mut key = origin.base_url();
    key.set_path("/key.bin");
    assert_eq!(get(&key).status, 404);
}

#[test]
fn segment_delay_postpones_segment_bodies() {
    let delay = Duration::from_millis(150);
    let origin = start(OriginConfig::default().segment_delay(delay));
    let started = Instant::now();
    get_ok(&origin.segment_url(0, 0));
    assert!(started.elapsed() >= delay);
}

#[test]
fn stop_refuses_connections_afterwards() {
    let origin = start(OriginConfig::default());
    let url = origin.master_url();
    get_ok(&url);
    origin.stop();
    let err = get_with(&url, &[]).expect_err("connection must fail after stop");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn drop_also_stops_the_server() {
    let url = {
        let origin = start(OriginConfig::default());
        get_ok(&origin.master_url());
        origin.master_url()
    };
    assert!(get_with(&url, &[]).is_err());
}

#[test]
fn stop_does_not_wait_for_an_idle_keep_alive_connection() {
    use std::io::{Read, Write};
    let origin = start(OriginConfig::default());
    let addr = origin.addr();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 12];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    // Waiting for the idle connection would run out the grace period and
    // cut it off.
    assert_eq!(origin.stop(), Stopped::Drained);
}

#[tokio::test]
async fn works_from_inside_a_tokio_runtime() {
    let origin = start(OriginConfig::default().segments(2));
    let url = origin.segment_url(1, 1);
    let body = tokio::task::spawn_blocking(move || get_ok(&url))
        .await
        .unwrap();
    assert_eq!(body, origin.segment_plaintext(1, 1));
    drop(origin);
}

#[test]
fn stop_lets_an_in_flight_segment_finish() {
    let origin = start(OriginConfig::default().segment_delay(Duration::from_millis(300)));
    let url = origin.segment_url(0, 2);
    let expected = origin.segment_plaintext(0, 2);
    let client = std::thread::spawn(move || get_with(&url, &[]));
    // Wait until the request has reached the origin, then stop it.
    while origin.requests("/v0/seg/2.ts") == 0 {
        std::thread::yield_now();
    }
    origin.stop();
    let response = client.join().unwrap().expect("in-flight request completes");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, expected);
}
