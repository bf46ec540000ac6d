//! Playlist parsing (master and media, as a session parses a download): any
//! bytes are refused or give a playlist whose every segment can be used, the
//! same on a second parse; never a panic (`parse_playlist` asserts it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kithara_hls::fuzzing::parse_playlist(data);
});
