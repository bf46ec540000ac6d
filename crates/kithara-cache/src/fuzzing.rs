//! Entry points for fuzz targets and their regression tests; not API.

use std::path::{Component, Path};

use crate::index::load::{Loaded, parse};
use crate::path::CachePath;

/// Parses `state.json` bytes the way an open does; true if they are accepted
/// as an index. Must never panic, whatever the bytes.
pub fn parse_index(bytes: &[u8]) -> bool {
    matches!(parse(bytes), Loaded::Found(_))
}

/// Parses a cache path; if accepted, checks that it resolves inside its asset
/// directory (panics otherwise, which is what a fuzzer looks for).
pub fn parse_path(text: &str) -> bool {
    let Ok(path) = CachePath::parse(text) else {
        return false;
    };
    let base = Path::new("/cache/assets/ab/abcd");
    let resolved = path.resolve(base);
    let inside = resolved
        .strip_prefix(base)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))));
    assert!(inside, "{text:?} resolved to {}", resolved.display());
    true
}
