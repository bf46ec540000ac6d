//! Held and cut bodies over HTTP: the first bytes arrive before the origin
//! sends the rest; a cut body stops short of its announced length.

mod common;

use common::{get, get_ok, get_with, open};
use kithara_origin::{HlsOrigin, OriginConfig};

fn start(config: OriginConfig) -> HlsOrigin {
    HlsOrigin::start(config).expect("origin starts")
}

#[test]
fn a_hold_sends_the_head_and_first_bytes_then_waits_for_release() {
    let origin = start(OriginConfig::default().segments(2).segment_size(10_000));
    let path = origin.segment_path(1, 1);
    let served = origin.segment_served_bytes(1, 1);
    let hold = origin.hold(&path, 3000);

    let mut response = open(&origin.segment_url(1, 1), &[]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), Some(10_000), "the full length");
    let first = response.read_body(3000).unwrap();
    assert_eq!(first, served[..3000]);
    // Deterministic: the origin cannot send more before the release.
    assert!(!response.readable_now(), "bytes past the hold arrived");

    hold.release();
    let (rest, error) = response.read_rest();
    assert!(error.is_none(), "{error:?}");
    assert_eq!([first, rest].concat(), served);

    // Released for good: later requests go straight through.
    assert_eq!(get_ok(&origin.segment_url(1, 1)), served);
    assert_eq!(origin.requests(&path), 2);
}

#[test]
fn dropping_the_hold_releases_it_and_any_path_can_be_held() {
    let origin = start(OriginConfig::default());
    let url = origin.media_url(0);
    let expected = get_ok(&url);
    let hold = origin.hold("/v0/playlist.m3u8?ignored", 10);
    let mut response = open(&url, &[]).unwrap();
    assert_eq!(response.content_length(), Some(expected.len()));
    let first = response.read_body(10).unwrap();
    assert!(!response.readable_now());
    drop(hold);
    let (rest, error) = response.read_rest();
    assert!(error.is_none(), "{error:?}");
    assert_eq!([first, rest].concat(), expected);
}

#[test]
fn a_held_range_request_holds_the_partial_body() {
    let origin = start(OriginConfig::default().segment_size(4096));
    let served = origin.segment_served_bytes(0, 0);
    let hold = origin.hold(&origin.segment_path(0, 0), 100);
    let mut response = open(&origin.segment_url(0, 0), &[("Range", "bytes=1000-1999")]).unwrap();
    assert_eq!(response.status, 206);
    assert_eq!(response.content_length(), Some(1000));
    assert_eq!(response.read_body(100).unwrap(), served[1000..1100]);
    assert!(!response.readable_now());
    hold.release();
    let (rest, _) = response.read_rest();
    assert_eq!(rest, served[1100..2000]);
}

#[test]
fn a_cut_announces_the_full_length_then_dies_until_healed() {
    let origin = start(OriginConfig::default().segments(3).segment_size(50_000));
    let path = origin.segment_path(0, 2);
    let served = origin.segment_served_bytes(0, 2);
    origin.cut(&path, Some(1234));

    let response = open(&origin.segment_url(0, 2), &[]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), Some(50_000));
    let (body, _) = response.read_rest();
    assert!(
        body.len() <= 1234,
        "{} bytes: more than the cut",
        body.len()
    );
    assert_eq!(body, served[..body.len()]);
    // Other paths are unaffected; the same path stays cut until healed.
    assert_eq!(get_ok(&origin.segment_url(0, 1)).len(), 50_000);
    let (again, _) = open(&origin.segment_url(0, 2), &[]).unwrap().read_rest();
    assert!(again.len() < 50_000);

    origin.cut(&path, None);
    assert_eq!(get_ok(&origin.segment_url(0, 2)), served);
    assert_eq!(origin.requests(&path), 3);
}

#[test]
fn a_cut_wins_over_a_hold_and_skips_error_statuses() {
    let origin = start(OriginConfig::default());
    let path = "/v1/playlist.m3u8";
    let hold = origin.hold(path, 5);
    origin.cut(path, Some(0));
    let response = open(&origin.media_url(1), &[]).unwrap();
    assert_eq!(response.status, 200);
    let (body, _) = response.read_rest();
    assert!(body.is_empty(), "{body:?}");

    // A forced status is answered in full: faults only touch successes.
    origin.set_status(path, Some(503));
    let forced = get_with(&origin.media_url(1), &[]).unwrap();
    assert_eq!(forced.status, 503);
    origin.set_status(path, None);
    origin.cut(path, None);
    // Healed, the hold applies again.
    let mut held = open(&origin.media_url(1), &[]).unwrap();
    assert_eq!(held.read_body(5).unwrap(), b"#EXTM");
    assert!(!held.readable_now());
    drop(hold);
    let (rest, error) = held.read_rest();
    assert!(error.is_none(), "{error:?}");
    assert!(rest.starts_with(b"3U\n"));
    assert!(get(&origin.media_url(1)).text().starts_with("#EXTM3U"));
}
