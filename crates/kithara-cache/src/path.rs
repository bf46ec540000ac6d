//! `CachePath`: a validated relative path inside one asset.

use std::fmt;

use crate::error::CacheError;
use crate::layout::{INDEX_FILE, KEPT_MARKER, LOCK_FILE, TEMP_SUFFIX};

const MAX_SEGMENT_BYTES: usize = 255;
const MAX_DEPTH: usize = 16;
const DEVICE_NAMES: &[&str] = &["con", "prn", "aux", "nul", "conin$", "conout$"];

/// A relative path of a resource inside an asset, such as `v0/seg/000001.ts`.
///
/// Every segment is a plain file name: not empty, not `.` or `..`, no `/`, `\`,
/// `:` or NUL, no control characters, not a Windows device name, not one of the
/// cache's own file names, and not ending in the temp suffix. So a `CachePath`
/// joined onto an asset directory always stays inside it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CachePath {
    /// The segments joined by `/`: one allocation, whatever the depth.
    joined: Box<str>,
}

impl CachePath {
    /// Parses a `/`-separated relative path.
    pub fn parse(path: &str) -> Result<Self, CacheError> {
        if path.starts_with('/') {
            return Err(invalid(path, "absolute paths are not allowed"));
        }
        Self::new(path.split('/')).map_err(|e| match e {
            CacheError::InvalidPath { reason, .. } => invalid(path, reason),
            other => other,
        })
    }

    /// Builds a path from its segments, validating each.
    pub fn new<I, S>(segments: I) -> Result<Self, CacheError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let segments: Vec<S> = segments.into_iter().collect();
        let segments: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
        let joined = segments.join("/");
        if segments.is_empty() {
            return Err(invalid(&joined, "empty path"));
        }
        if segments.len() > MAX_DEPTH {
            return Err(invalid(&joined, "path is deeper than 16 segments"));
        }
        for segment in &segments {
            if let Some(reason) = segment_problem(segment) {
                return Err(invalid(&joined, reason));
            }
        }
        Ok(Self {
            joined: joined.into_boxed_str(),
        })
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &str> + Clone {
        // No segment holds a `/` (checked when built).
        self.joined.split('/')
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.joined.rsplit('/').next().unwrap_or_default()
    }

    /// The path as written: the segments joined by `/`.
    pub fn as_str(&self) -> &str {
        &self.joined
    }
}

fn segment_problem(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        return Some("empty segment");
    }
    if segment == "." || segment == ".." {
        return Some("'.' and '..' are not allowed");
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Some("segment longer than 255 bytes");
    }
    if segment.contains(['/', '\\']) {
        return Some("separator inside a segment");
    }
    if segment.contains('\0') {
        return Some("NUL byte");
    }
    if segment.chars().any(char::is_control) {
        return Some("control character");
    }
    if segment.contains(':') {
        return Some("':' is not allowed (drive letters, alternate streams)");
    }
    if segment.contains(['*', '?', '"', '<', '>', '|']) {
        return Some("character reserved on Windows");
    }
    if segment.ends_with(TEMP_SUFFIX) {
        return Some("temp-file suffix is reserved");
    }
    if segment == INDEX_FILE || segment == LOCK_FILE || segment == KEPT_MARKER {
        return Some("reserved cache file name");
    }
    if segment.ends_with(['.', ' ']) {
        return Some("trailing '.' or space");
    }
    if is_device_name(segment) {
        return Some("Windows device name");
    }
    None
}

fn is_device_name(segment: &str) -> bool {
    let stem = segment
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Windows also reserves COM¹..³ and LPT¹..³ (superscript digits).
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            let mut chars = n.chars();
            matches!(
                (chars.next(), chars.next()),
                (Some('0'..='9' | '¹' | '²' | '³'), None)
            )
        })
    };
    DEVICE_NAMES.contains(&stem.as_str()) || numbered("com") || numbered("lpt")
}

fn invalid(path: &str, reason: &'static str) -> CacheError {
    CacheError::InvalidPath {
        path: path.to_owned(),
        reason,
    }
}

impl fmt::Display for CachePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined)
    }
}

/// Segment by segment, as the path's parts compare (`a/b` before `a-b`).
impl Ord for CachePath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.segments().cmp(other.segments())
    }
}

impl PartialOrd for CachePath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for CachePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CachePath({self})")
    }
}

impl std::str::FromStr for CachePath {
    type Err = CacheError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
