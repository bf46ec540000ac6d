//! The `playlist` fuzz corpus as an ordinary test.
//!
//! `tests/corpus/playlist/*` holds hand-made playlists (media playlists with
//! byte ranges, keys, `EXT-X-MAP`s, odd layout; master playlists; hostile
//! numbers, refused URIs and encryption, garbage) plus the inputs the
//! cargo-fuzz target `playlist` in `fuzz/` found. Every file goes through the
//! entry point the fuzz target uses (`kithara_hls::fuzzing::parse_playlist`),
//! which must never panic: it asserts that an accepted playlist is within the
//! bounds, that every segment's URL, key, sequence number and init segment
//! can be used, and that a second parse gives the same result.
//!
//! Under libFuzzer any panic aborts (its panic hook runs before unwinding),
//! so here too every panic counts, even one something caught: a panic hook
//! counts them.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use kithara_hls::fuzzing::{Parsed, parse_playlist};

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    kithara_test_utils::corpus(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
}

/// Panics so far in this test binary, caught or not.
static PANICS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn every_playlist_input_is_refused_or_fully_usable() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let inputs = corpus("playlist");
    let mut failed = Vec::new();
    let mut parsed = Vec::new();
    for (name, bytes) in &inputs {
        // Each input on its own, so one failure does not hide the others.
        let before = PANICS.load(Ordering::SeqCst);
        match std::panic::catch_unwind(|| parse_playlist(bytes)) {
            Ok(_) if PANICS.load(Ordering::SeqCst) != before => {
                failed.push(format!("{name}: a panic was caught on the way"));
            }
            Ok(p) => parsed.push((name.as_str(), p)),
            Err(panic) => {
                failed.push(format!(
                    "{name}: {}",
                    kithara_test_utils::panic_message(&*panic)
                ));
            }
        }
    }
    assert!(failed.is_empty(), "inputs that panicked: {failed:#?}");
    let outcome = |want: &str| {
        assert!(
            inputs.iter().any(|(n, _)| n == want),
            "corpus file {want} is missing"
        );
        parsed.iter().find(|(n, _)| *n == want).map(|(_, p)| *p)
    };
    for (name, segments) in [
        ("media_plain", 3),
        ("media_byteranges", 4),
        ("media_keys", 5),
        ("media_map", 4),
        ("media_encrypted_map", 2),
        ("media_layout", 2),
        ("media_fairplay_then_identity", 1),
    ] {
        assert_eq!(outcome(name), Some(Parsed::Media { segments }), "{name}");
    }
    // A master parser ignores the tags it does not read (RFC 8216 §6.3.1):
    // `EXT-X-DATERANGE`, whatever its durations or quotes.
    for (name, variants) in [
        ("master", 2),
        ("master_media_groups", 1),
        ("master_daterange_negative", 1),
        ("master_daterange_nan", 1),
        ("master_daterange_lone_quote", 1),
        ("master_daterange_unbalanced_quotes", 1),
        ("fuzz-b21bd039b80ce352", 1),
        ("first_line_daterange", 1),
        ("extm3u_line_with_a_dropped_tag", 1),
    ] {
        assert_eq!(outcome(name), Some(Parsed::Master { variants }), "{name}");
    }
    for name in [
        "empty",
        "garbage",
        "not_utf8",
        "html",
        "no_header",
        "no_target_duration",
        "no_segment",
        "no_extinf",
        "dangling_tag",
        "sample_aes",
        "file_segment",
        "file_key",
        "encrypted_map_no_iv",
        "negative_duration",
        "nan_duration",
        "huge_target_duration",
        "huge_byterange",
        "byterange_past_limit",
        "huge_media_sequence",
        "range_without_offset",
        "empty_range",
        "master_tag_in_media",
        "bad_iv",
        "daterange_negative",
        "master_iframes_only",
        "master_file_variant",
        "master_bad_numbers",
        "master_lone_quote",
        "first_line_byterange",
        "first_line_media_sequence",
        "implicit_range_past_limit",
        "map_second_byterange_past_limit",
        "master_map_second_byterange_overflow",
        "master_map_spaced_byterange_overflow",
        "fuzz-82aa934d3cd7e8c2",
        "fuzz-bec76ae47ad56416",
    ] {
        assert_eq!(outcome(name), Some(Parsed::Refused), "{name}");
    }
    let count = |f: fn(&Parsed) -> bool| parsed.iter().filter(|(_, p)| f(p)).count();
    eprintln!(
        "playlist corpus: {} inputs: {} media, {} master, {} refused; none panicked",
        inputs.len(),
        count(|p| matches!(p, Parsed::Media { .. })),
        count(|p| matches!(p, Parsed::Master { .. })),
        count(|p| matches!(p, Parsed::Refused)),
    );
}
