//! Where each URI stands in a playlist's text, and what it references: what
//! a proxy needs to point every URI of a playlist back at itself while
//! passing every other byte through.

use std::collections::HashMap;

use url::Url;

use crate::error::HlsError;

/// What a URI in a playlist references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ref {
    /// A variant stream's media playlist (master).
    Variant(usize),
    /// An `EXT-X-MEDIA` rendition's media playlist (master).
    Rendition(usize),
    /// An I-frame media playlist (master).
    IFrame(usize),
    /// Media segment `i` (media).
    Segment(usize),
    /// Init segment `k` of [`super::MediaPlaylist::inits`] (media).
    Init(usize),
    /// Key `k` of [`Spans::keys`] (an `EXT-X-KEY`, or an
    /// `EXT-X-SESSION-KEY` in a master).
    Key(usize),
    /// A whole line that a served playlist leaves out: a tag with a URI
    /// kithara does not serve, or an `EXT-X-BYTERANGE` (a served segment
    /// is its byte range, a resource of its own).
    DropLine,
    /// The attribute list of an `EXT-X-MAP` of init segment `k`: served
    /// with its `URI` pointed elsewhere and without `BYTERANGE` (the served
    /// init segment is its range).
    Map(usize),
}

/// One URI (or a dropped line) as a byte range of the playlist text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
    pub what: Ref,
}

/// The URIs of one playlist, in text order, and the distinct key URLs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Spans {
    pub list: Vec<Span>,
    /// Identity-format key URLs, in order of first appearance.
    pub keys: Vec<Url>,
    key_index: HashMap<Url, usize>,
}

impl Spans {
    /// Record that `sub`, a slice of `text`, references `what`; returns
    /// the span's index.
    pub(crate) fn push(&mut self, text: &str, sub: &str, what: Ref) -> Result<usize, HlsError> {
        let start = (sub.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let end = start.wrapping_add(sub.len());
        if end > text.len() || start > end {
            return Err(HlsError::Internal("a URI span outside its playlist"));
        }
        let too_big = || HlsError::Internal("a playlist of more than 4 GiB");
        self.list.push(Span {
            start: u32::try_from(start).map_err(|_| too_big())?,
            end: u32::try_from(end).map_err(|_| too_big())?,
            what,
        });
        Ok(self.list.len() - 1)
    }

    /// Record a key URI `sub` that resolves to `url`.
    pub(crate) fn key(&mut self, text: &str, sub: &str, url: Url) -> Result<(), HlsError> {
        let next = self.keys.len();
        let k = *self.key_index.entry(url.clone()).or_insert(next);
        if k == next {
            self.keys.push(url);
        }
        self.push(text, sub, Ref::Key(k)).map(drop)
    }

    /// Say what span `i` references, once known (an `EXT-X-MAP` is numbered
    /// by the segment that follows it).
    pub(crate) fn set(&mut self, i: usize, what: Ref) {
        if let Some(span) = self.list.get_mut(i) {
            span.what = what;
        }
    }
}
