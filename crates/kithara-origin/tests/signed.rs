//! Signed, expiring segment URLs over HTTP.

mod common;

use common::{get, get_ok, parse_media};
use kithara_origin::{Encryption, HlsOrigin, IvMode, OriginConfig};
use url::Url;

fn start(config: OriginConfig) -> HlsOrigin {
    HlsOrigin::start(config).expect("origin starts")
}

fn with_query(url: &Url, query: Option<&str>) -> Url {
    let mut url = url.clone();
    url.set_query(query);
    url
}

#[test]
fn signed_uris_carry_the_current_token_and_rotation_expires_them() {
    let origin = start(
        OriginConfig::default()
            .variants(2)
            .segments(3)
            .init(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            })
            .signed_uris(true),
    );
    assert_eq!(origin.token_generation(), Some(1));
    let url = origin.media_url(0);
    let first = get(&url);
    let text = first.text();
    assert!(
        text.contains("#EXT-X-MAP:URI=\"init.mp4?token=1\""),
        "{text}"
    );
    assert!(text.contains("URI=\"../key.bin\""), "the key is not signed");
    let old = parse_media(&text, &url);
    for (i, entry) in old.entries.iter().enumerate() {
        assert_eq!(entry.url.query(), Some("token=1"));
        assert_eq!(entry.url, origin.segment_url(0, i));
        assert_eq!(get_ok(&entry.url), origin.segment_served_bytes(0, i));
    }
    let init = old.map.clone().unwrap();
    assert_eq!(Some(init.clone()), origin.init_url(0));
    assert_eq!(get_ok(&init), origin.init_bytes(0).unwrap());
    assert_eq!(get(&old.key.clone().unwrap().url).status, 200);

    // Missing or wrong tokens.
    let seg = &old.entries[1].url;
    assert_eq!(get(&with_query(seg, None)).status, 403);
    assert_eq!(get(&with_query(seg, Some("token=2"))).status, 403);
    assert_eq!(get(&with_query(seg, Some("token=1x"))).status, 403);
    assert_eq!(get(&with_query(seg, Some("a=b&token=1"))).status, 200);
    assert_eq!(get(&with_query(&init, None)).status, 403);
    assert_eq!(
        get(&with_query(&url, None)).status,
        200,
        "playlists unsigned"
    );

    origin.rotate_tokens();
    assert_eq!(origin.token_generation(), Some(2));
    for entry in &old.entries {
        assert_eq!(get(&entry.url).status, 403, "expired: {}", entry.url);
    }
    assert_eq!(get(&init).status, 403);
    let fresh = get(&url);
    assert_ne!(fresh.header("etag"), first.header("etag"));
    let new = parse_media(&fresh.text(), &url);
    for (i, entry) in new.entries.iter().enumerate() {
        assert_eq!(entry.url.query(), Some("token=2"));
        assert_eq!(entry.url, origin.segment_url(0, i));
        assert_eq!(get_ok(&entry.url), origin.segment_served_bytes(0, i));
    }
    assert_eq!(get_ok(&new.map.unwrap()), origin.init_bytes(0).unwrap());
    // Counted without the query, 403s included.
    assert_eq!(origin.requests("/v0/seg/1.ts"), 7);
    assert_eq!(origin.requests(origin.segment_url(0, 1).as_str()), 7);
}

#[test]
fn signed_byte_ranges_sign_the_packed_uri() {
    let origin = start(
        OriginConfig::default()
            .segments(3)
            .byte_ranges(true)
            .relative_uris(false)
            .signed_uris(true),
    );
    let url = origin.media_url(1);
    let media = parse_media(&get(&url).text(), &url);
    let packed = origin.segment_url(1, 0);
    assert_eq!(packed.path(), "/v1/all.ts");
    assert_eq!(packed.query(), Some("token=1"));
    assert!(media.entries.iter().all(|e| e.url == packed));
    assert_eq!(get(&packed).status, 200);
    assert_eq!(get(&with_query(&packed, None)).status, 403);
    origin.rotate_tokens();
    assert_eq!(get(&packed).status, 403);
    assert_eq!(get(&origin.segment_url(1, 0)).status, 200);
}

#[test]
fn unsigned_origins_ignore_tokens() {
    let origin = start(OriginConfig::default().init(true));
    assert_eq!(origin.token_generation(), None);
    origin.rotate_tokens();
    assert_eq!(origin.token_generation(), None);
    assert_eq!(origin.segment_url(0, 0).query(), None);
    let text = get(&origin.media_url(0)).text();
    assert!(!text.contains("token="));
    let seg = with_query(&origin.segment_url(0, 0), Some("token=7"));
    assert_eq!(get(&seg).status, 200);
}
