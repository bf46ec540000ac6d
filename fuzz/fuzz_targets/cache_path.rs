//! `CachePath` parsing: never panics, and an accepted path never resolves
//! outside its asset directory (`parse_path` asserts it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        kithara_cache::fuzzing::parse_path(text);
    }
});
