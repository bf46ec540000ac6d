//! Live playlists over HTTP: the sliding window, the head, the end, and the
//! `ETag` / `If-None-Match` revalidation of media playlists.

mod common;

use common::{Media, decrypt, get, get_ok, get_with, parse_media};
use kithara_origin::{Encryption, HlsOrigin, IvMode, OriginConfig};
use url::Url;

fn start(config: OriginConfig) -> HlsOrigin {
    HlsOrigin::start(config).expect("origin starts")
}

fn media(url: &Url) -> (String, Media) {
    let text = String::from_utf8(get_ok(url)).unwrap();
    let media = parse_media(&text, url);
    (text, media)
}

fn listed(origin: &HlsOrigin, media: &Media) -> Vec<String> {
    let base = origin.base_url();
    media
        .entries
        .iter()
        .map(|e| base.make_relative(&e.url).unwrap())
        .collect()
}

#[test]
fn live_playlist_slides_its_window_as_the_head_advances() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(8)
            .media_sequence(10)
            .target_duration(2)
            .live(3),
    );
    let url = origin.media_url(1);
    assert_eq!(origin.live_head(), 3);

    let (text, m) = media(&url);
    assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
    assert!(!text.contains("#EXT-X-PLAYLIST-TYPE"), "{text}");
    assert!(text.contains("#EXT-X-TARGETDURATION:2\n"), "{text}");
    assert!(m.entries.iter().all(|e| e.duration == "2.0,"));
    assert_eq!(m.media_sequence, 10);
    assert_eq!(
        listed(&origin, &m),
        ["v1/seg/0.ts", "v1/seg/1.ts", "v1/seg/2.ts"]
    );
    assert_eq!(get_ok(&m.entries[2].url), origin.segment_plaintext(1, 2));
    assert_eq!(get(&origin.segment_url(1, 3)).status, 404, "not published");
    assert_eq!(get(&origin.segment_url(0, 7)).status, 404, "not published");

    origin.advance(2);
    assert_eq!(origin.live_head(), 5);
    let (text, m) = media(&url);
    assert!(!text.contains("#EXT-X-ENDLIST"));
    assert_eq!(m.media_sequence, 12);
    assert_eq!(
        listed(&origin, &m),
        ["v1/seg/2.ts", "v1/seg/3.ts", "v1/seg/4.ts"]
    );
    assert_eq!(
        get_ok(&origin.segment_url(1, 4)),
        origin.segment_plaintext(1, 4)
    );
    assert_eq!(get(&origin.segment_url(1, 5)).status, 404);
    // Segments that slid out of the window are still served.
    assert_eq!(
        get_ok(&origin.segment_url(1, 0)),
        origin.segment_plaintext(1, 0)
    );

    origin.advance(100);
    assert_eq!(origin.live_head(), 8, "clamped to the segment count");
    let (text, m) = media(&url);
    assert!(!text.contains("#EXT-X-ENDLIST"));
    assert_eq!(m.media_sequence, 15);
    assert_eq!(
        listed(&origin, &m),
        ["v1/seg/5.ts", "v1/seg/6.ts", "v1/seg/7.ts"]
    );

    origin.end_live();
    let (text, m) = media(&url);
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    assert!(!text.contains("#EXT-X-PLAYLIST-TYPE"));
    assert_eq!(m.media_sequence, 15);
    assert_eq!(m.entries.len(), 3);
    assert_eq!(origin.requests("/v1/seg/5.ts"), 1, "the 404 was counted");
}

#[test]
fn an_ended_live_playlist_no_longer_moves() {
    let origin = start(OriginConfig::default().segments(6).live(2));
    origin.end_live();
    let (text, _) = media(&origin.media_url(0));
    assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    origin.advance(1);
    assert_eq!(origin.live_head(), 2);
    assert_eq!(media(&origin.media_url(0)).0, text);
    assert_eq!(get(&origin.segment_url(0, 2)).status, 404);
}

#[test]
fn a_window_larger_than_the_stream_lists_every_segment() {
    let origin = start(OriginConfig::default().segments(4).live(10));
    assert_eq!(origin.live_head(), 4);
    let (text, m) = media(&origin.media_url(0));
    assert!(!text.contains("#EXT-X-ENDLIST"));
    assert_eq!(m.entries.len(), 4);
    assert_eq!(m.media_sequence, 0);
}

#[test]
fn vod_is_unaffected_by_advance_and_end_live() {
    let origin = start(OriginConfig::default().segments(4));
    let (before, _) = media(&origin.media_url(0));
    assert_eq!(origin.live_head(), 4);
    origin.advance(3);
    origin.end_live();
    assert_eq!(media(&origin.media_url(0)).0, before);
    assert!(before.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
}

#[test]
fn live_segments_keep_their_vod_bytes_and_media_sequence_ivs() {
    let config = OriginConfig::default()
        .segments(5)
        .media_sequence(100)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        });
    let vod = start(config.clone());
    let live = start(config.live(2));
    live.advance(2);
    let (_, m) = media(&live.media_url(0));
    assert_eq!(m.media_sequence, 102);
    let key: [u8; 16] = get_ok(&m.key.clone().unwrap().url).try_into().unwrap();
    for (n, entry) in m.entries.iter().enumerate() {
        let i = 2 + n;
        let served = get_ok(&entry.url);
        assert_eq!(served, vod.segment_served_bytes(0, i));
        let iv = u128::from(m.media_sequence + n as u64).to_be_bytes();
        assert_eq!(decrypt(&served, &key, &iv), live.segment_plaintext(0, i));
    }
}

#[test]
fn live_byte_ranges_grow_the_packed_file_and_start_with_an_explicit_offset() {
    let origin = start(
        OriginConfig::default()
            .segments(6)
            .segment_size(500)
            .byte_ranges(true)
            .live(3),
    );
    let packed = origin.segment_url(0, 0);
    let published = |n: usize| origin.segment_range(0, n - 1).unwrap().end as usize;
    assert_eq!(get_ok(&packed).len(), published(3));

    origin.advance(1);
    let (_, m) = media(&origin.media_url(0));
    // Entry 1 has an implicit offset in the VOD; first in the window, it
    // must be explicit.
    let first = m.entries[0].byte_range.unwrap();
    assert_eq!(first, (500, Some(500)));
    assert_eq!(m.entries[1].byte_range.unwrap(), (500, Some(1000)));
    assert_eq!(m.entries[2].byte_range.unwrap(), (500, None));
    let body = get_ok(&packed);
    assert_eq!(body.len(), published(4));
    assert_eq!(body[500..1000], origin.segment_served_bytes(0, 1)[..]);
    let beyond = format!("bytes={}-", published(4));
    assert_eq!(
        get_with(&packed, &[("Range", &beyond)]).unwrap().status,
        416
    );
}

#[test]
fn media_playlists_carry_an_etag_and_if_none_match_gets_304() {
    let origin = start(OriginConfig::default().segments(5).live(2));
    let url = origin.media_url(0);
    let first = get(&url);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(get(&url).header("etag"), Some(etag.as_str()), "stable");

    let unchanged = get_with(&url, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));
    let weak = format!("\"x\", W/{etag}");
    assert_eq!(
        get_with(&url, &[("If-None-Match", &weak)]).unwrap().status,
        304
    );
    assert_eq!(origin.requests("/v0/playlist.m3u8"), 4, "304s are counted");

    origin.advance(1);
    let changed = get_with(&url, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(changed.status, 200);
    let new_etag = changed.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    assert_eq!(parse_media(&changed.text(), &url).media_sequence, 1);
    let still = get_with(&url, &[("If-None-Match", &new_etag)]).unwrap();
    assert_eq!(still.status, 304);

    origin.end_live();
    let ended = get_with(&url, &[("If-None-Match", &new_etag)]).unwrap();
    assert_eq!(ended.status, 200, "the ENDLIST changes the text");
    assert_ne!(ended.header("etag"), Some(new_etag.as_str()));

    // A VOD's media playlists carry one too; the master does not.
    let vod = start(OriginConfig::default());
    let vod_etag = get(&vod.media_url(1)).header("etag").unwrap().to_owned();
    let again = get_with(&vod.media_url(1), &[("If-None-Match", &vod_etag)]).unwrap();
    assert_eq!(again.status, 304);
    assert_eq!(get(&vod.master_url()).header("etag"), None);
}

#[test]
fn without_etags_media_playlists_carry_last_modified_and_if_modified_since_gets_304() {
    let origin = start(OriginConfig::default().segments(5).live(2).etags(false));
    let url = origin.media_url(0);
    let first = get(&url);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("etag"), None);
    let date = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();
    assert!(date.ends_with(" GMT"), "{date}");
    assert_eq!(
        get(&url).header("last-modified"),
        Some(date.as_str()),
        "stable"
    );

    let unchanged = get_with(&url, &[("If-Modified-Since", &date)]).unwrap();
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("last-modified"), Some(date.as_str()));
    // Another date (exact match) or an ETag condition: the text again.
    let other = get_with(
        &url,
        &[("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")],
    );
    assert_eq!(other.unwrap().status, 200);
    assert_eq!(
        get_with(&url, &[("If-None-Match", "*")]).unwrap().status,
        200
    );

    origin.advance(1);
    let changed = get_with(&url, &[("If-Modified-Since", &date)]).unwrap();
    assert_eq!(changed.status, 200);
    let new_date = changed.header("last-modified").unwrap().to_owned();
    assert_ne!(new_date, date);
    assert_eq!(parse_media(&changed.text(), &url).media_sequence, 1);
    let still = get_with(&url, &[("If-Modified-Since", &new_date)]).unwrap();
    assert_eq!(still.status, 304);
    assert_eq!(origin.requests("/v0/playlist.m3u8"), 7, "304s are counted");
}
