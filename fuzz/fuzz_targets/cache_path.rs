//! `CachePath` parsing: never panics, and an accepted path, written
//! through the production path into a real cache, lands inside its asset
//! directory where its segments say (`parse_path` asserts it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        kithara_cache::fuzzing::parse_path(text);
    }
});
