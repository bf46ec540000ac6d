//! `state.json` loading: any bytes are accepted or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kithara_cache::fuzzing::parse_index(data);
});
