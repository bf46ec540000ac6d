//! Tree layouts over HTTP: the redirected master with its `/m/` tree, and
//! alternate audio renditions with the I-frame playlist.

mod common;

use common::{attributes, decrypt, get, get_ok, get_with, parse_master, parse_media};
use kithara_origin::{Encryption, HlsOrigin, IvMode, OriginConfig};

fn start(config: OriginConfig) -> HlsOrigin {
    HlsOrigin::start(config).expect("origin starts")
}

#[test]
fn the_redirected_master_works_only_against_the_final_url() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(3)
            .init(true)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
            .key_query("k", "1")
            .redirect_master(true),
    );
    let redirecting = origin.redirecting_master_url();
    assert_eq!(redirecting.path(), "/redir/master.m3u8");
    let response = get(&redirecting);
    assert_eq!(response.status, 302);
    let location = response.header("location").expect("Location");
    assert_eq!(location, "/m/master.m3u8");
    let final_url = redirecting.join(location).unwrap();
    assert_eq!(final_url, origin.redirected_master_url());

    let master = get(&final_url);
    assert_eq!(master.status, 200);
    assert_eq!(master.body, get_ok(&origin.master_url()), "the same text");
    let variants = parse_master(&master.text(), &final_url);
    assert_eq!(variants.len(), 2);
    for (v, (_, media_url)) in variants.iter().enumerate() {
        assert_eq!(media_url.path(), format!("/m/v{v}/playlist.m3u8"));
        let media = parse_media(&get(media_url).text(), media_url);
        assert_eq!(
            media.map.clone().unwrap().path(),
            format!("/m/v{v}/init.mp4")
        );
        let key = media.key.clone().unwrap();
        assert_eq!(key.url.path(), "/m/key.bin");
        let key: [u8; 16] = get_ok(&key.url).try_into().unwrap();
        let mut stream = get_ok(&media.map.unwrap());
        for (i, entry) in media.entries.iter().enumerate() {
            assert_eq!(entry.url.path(), format!("/m/v{v}/seg/{i}.ts"));
            let iv = origin.segment_iv(i).unwrap();
            stream.extend_from_slice(&decrypt(&get_ok(&entry.url), &key, &iv));
        }
        assert_eq!(stream, origin.expected_stream(v));
    }

    // Resolved against the URL before the redirect: 404.
    let wrong = parse_master(&master.text(), &redirecting);
    assert_eq!(wrong[0].1.path(), "/redir/v0/playlist.m3u8");
    assert_eq!(get(&wrong[0].1).status, 404);

    // Counted under the path as requested.
    assert_eq!(origin.requests("/redir/master.m3u8"), 1);
    assert_eq!(origin.requests("/m/master.m3u8"), 1);
    assert_eq!(origin.requests("/master.m3u8"), 1);
    assert_eq!(origin.requests("/m/v1/seg/2.ts"), 1);
    assert_eq!(origin.requests("/v1/seg/2.ts"), 0);
    assert_eq!(origin.requests("/redir/v0/playlist.m3u8"), 1);
    // Nothing redirects inside the prefixed tree.
    assert_eq!(get(&origin.url("/m/redir/master.m3u8")).status, 404);
}

#[test]
fn absolute_uris_under_the_prefix_stay_under_it() {
    let origin = start(
        OriginConfig::default()
            .relative_uris(false)
            .init(true)
            .encryption(Encryption::Aes128 { iv: IvMode::Fixed })
            .redirect_master(true),
    );
    let prefixed = format!("{}m/", origin.base_url());
    let master = get(&origin.redirected_master_url()).text();
    let media = get(&origin.url("/m/v0/playlist.m3u8")).text();
    for line in master.lines().chain(media.lines()) {
        if !line.starts_with('#') {
            assert!(line.starts_with(&prefixed), "{line}");
        }
    }
    assert!(
        media.contains(&format!("URI=\"{prefixed}key.bin\"")),
        "{media}"
    );
    assert!(media.contains(&format!("URI=\"{prefixed}v0/init.mp4\"")));
    // The root tree keeps root URLs.
    let root = get(&origin.master_url()).text();
    assert!(!root.contains("/m/"), "{root}");
}

#[test]
fn without_redirect_master_neither_path_exists() {
    let origin = start(OriginConfig::default());
    assert_eq!(get(&origin.redirecting_master_url()).status, 404);
    assert_eq!(get(&origin.redirected_master_url()).status, 404);
    assert_eq!(get(&origin.url("/m/v0/seg/0.ts")).status, 404);
}

#[test]
fn alternate_audio_renditions_are_listed_and_served() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(3)
            .segment_size(1000)
            .init(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            })
            .alternate_audio(2),
    );
    assert_eq!(origin.renditions(), 2);
    let master_url = origin.master_url();
    let master = get(&master_url).text();
    assert_eq!(
        master,
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"a0\",LANGUAGE=\"l0\",DEFAULT=YES,AUTOSELECT=YES,URI=\"a0/playlist.m3u8\"\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"a1\",LANGUAGE=\"l1\",DEFAULT=NO,AUTOSELECT=YES,URI=\"a1/playlist.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\",AUDIO=\"aud\"\nv0/playlist.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\",AUDIO=\"aud\"\nv1/playlist.m3u8\n\
         #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI=\"v0/iframes.m3u8\"\n"
    );
    assert_eq!(parse_master(&master, &master_url).len(), 2);

    for k in 0..2 {
        let line = master
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-MEDIA:"))
            .nth(k)
            .unwrap();
        let uri = &attributes(line)
            .into_iter()
            .find(|(n, _)| n == "URI")
            .unwrap()
            .1;
        let url = master_url.join(uri).unwrap();
        assert_eq!(url, origin.rendition_url(k));
        let media = parse_media(&get(&url).text(), &url);
        assert_eq!(media.entries.len(), 3);
        let init = get_ok(&media.map.clone().unwrap());
        assert!(init.starts_with(format!("A{k}-INIT:").as_bytes()));
        assert_eq!(Some(media.map.unwrap()), origin.rendition_init_url(k));
        let key: [u8; 16] = get_ok(&media.key.unwrap().url).try_into().unwrap();
        let mut stream = init;
        for (i, entry) in media.entries.iter().enumerate() {
            assert_eq!(entry.url, origin.rendition_segment_url(k, i));
            assert_eq!(
                origin.rendition_segment_path(k, i),
                format!("/a{k}/seg/{i}.ts")
            );
            let served = get_ok(&entry.url);
            assert_eq!(served, origin.rendition_segment_served_bytes(k, i));
            let plain = decrypt(&served, &key, &origin.segment_iv(i).unwrap());
            assert!(plain.starts_with(format!("A{k}-SEG-{i}:").as_bytes()));
            assert_eq!(plain.len(), 1000);
            assert_eq!(plain, origin.rendition_segment_plaintext(k, i));
            stream.extend_from_slice(&plain);
        }
        assert_eq!(stream, origin.rendition_expected_stream(k));
    }
    assert_ne!(
        origin.rendition_segment_plaintext(0, 1)[9..],
        origin.segment_plaintext(0, 1)[9..]
    );
    assert_eq!(get(&origin.rendition_url(2)).status, 404);
    assert_eq!(get(&origin.url("/a2/seg/0.ts")).status, 404);
}

#[test]
fn renditions_follow_the_live_window_and_signing() {
    let origin = start(
        OriginConfig::default()
            .segments(5)
            .alternate_audio(1)
            .live(2)
            .signed_uris(true),
    );
    let url = origin.rendition_url(0);
    let media = parse_media(&get(&url).text(), &url);
    assert_eq!(media.entries.len(), 2);
    assert_eq!(media.entries[1].url, origin.rendition_segment_url(0, 1));
    assert_eq!(media.entries[1].url.query(), Some("token=1"));
    assert_eq!(get(&origin.rendition_segment_url(0, 2)).status, 404);
    origin.advance(1);
    assert_eq!(
        get_ok(&origin.rendition_segment_url(0, 2)),
        origin.rendition_segment_plaintext(0, 2)
    );
    origin.rotate_tokens();
    assert_eq!(get(&media.entries[1].url).status, 403);
}

#[test]
fn the_iframe_playlist_is_two_byte_ranges_into_segment_zero() {
    let origin = start(
        OriginConfig::default()
            .segment_size(1001)
            .alternate_audio(1),
    );
    let url = origin.iframes_url();
    assert_eq!(url.path(), "/v0/iframes.m3u8");
    let response = get(&url);
    assert_eq!(response.status, 200);
    assert!(response.header("etag").is_some());
    let text = response.text();
    for tag in [
        "#EXT-X-I-FRAMES-ONLY\n",
        "#EXT-X-VERSION:4\n",
        "#EXT-X-ENDLIST\n",
    ] {
        assert!(text.contains(tag), "{tag} missing in\n{text}");
    }
    let media = parse_media(&text, &url);
    assert_eq!(media.entries.len(), 2);
    let segment = origin.segment_served_bytes(0, 0);
    let mut next = 0;
    let mut joined = Vec::new();
    for entry in &media.entries {
        assert_eq!(entry.url, origin.segment_url(0, 0));
        let (len, offset) = entry.byte_range.unwrap();
        let offset = offset.unwrap_or(next);
        next = offset + len;
        let range = format!("bytes={offset}-{}", offset + len - 1);
        let part = get_with(&entry.url, &[("Range", &range)]).unwrap();
        assert_eq!(part.status, 206);
        joined.extend_from_slice(&part.body);
    }
    assert_eq!(joined, segment);

    let plain = start(OriginConfig::default());
    assert_eq!(get(&plain.iframes_url()).status, 404);
    let master = get(&plain.master_url()).text();
    assert!(!master.contains("EXT-X-MEDIA") && !master.contains("AUDIO="));
}
