//! What a session's resources are: their kind, where each comes from and
//! where it is cached, and the extra parts of a request for one. The
//! [`Loader`](crate::loader::Loader) fetches them.

use std::ops::Range;

use kithara_cache::CachePath;
use reqwest::header::HeaderMap;
use url::Url;

use crate::fetch::Validator;

/// What a resource is; decides its store and its size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// A master or media playlist.
    Playlist,
    /// An `EXT-X-MAP` init segment.
    Init,
    /// A media segment.
    Segment,
    /// A (processed) decryption key.
    Key,
}

/// One resource of a session: where it comes from and where it is cached.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    pub kind: ResourceKind,
    pub url: Url,
    pub range: Option<Range<u64>>,
    pub path: CachePath,
}

/// Extra request parts: query and headers (key requests only), the
/// validator of the last answer (live playlist reloads: `If-None-Match` or
/// `If-Modified-Since`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Extras<'a> {
    pub query: &'a [(String, String)],
    pub headers: Option<&'a HeaderMap>,
    pub validator: Option<&'a Validator>,
}
