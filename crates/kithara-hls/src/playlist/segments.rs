//! The segment table of a media playlist: a few bytes per segment.
//!
//! A long VOD has tens of thousands of segments and the session keeps its
//! table for as long as it plays. What changes from one segment to the next
//! is its URL (front-coded in [`UrlTable`]) and its duration (a `u32`); the
//! rest is the same for long runs or absent for most segments, so it is kept
//! by where it changes: the key and the init segment in force as runs, byte
//! ranges and gaps only for the segments that have one.

use std::ops::Range;

use url::Url;

use super::url_table::{TableFull, UrlTable};

/// A media segment, as the table gives it back. Its URL is
/// [`SegmentTable::url`], its sequence number follows from its position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Segment {
    pub range: Option<Range<u64>>,
    /// Index into [`MediaPlaylist::keys`](super::MediaPlaylist::keys) of the
    /// key that decrypts it.
    pub key: Option<u32>,
    /// Index into [`MediaPlaylist::inits`](super::MediaPlaylist::inits) of
    /// the init segment that applies.
    pub init: Option<u32>,
    /// `EXT-X-GAP`: the segment is missing; it is never requested.
    pub gap: bool,
}

/// A value that holds for runs of segments: `(first segment, value)` where
/// it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Runs(Vec<(u32, Option<u32>)>);

impl Runs {
    fn push(&mut self, i: u32, value: Option<u32>) {
        if self.0.last().map_or(value.is_some(), |&(_, v)| v != value) {
            self.0.push((i, value));
        }
    }

    fn get(&self, i: u32) -> Option<u32> {
        let after = self.0.partition_point(|&(start, _)| start <= i);
        after.checked_sub(1).and_then(|k| self.0[k].1)
    }
}

/// The segments of a media playlist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SegmentTable {
    urls: UrlTable,
    /// The `EXTINF` of each segment in milliseconds (a `u32` holds the week
    /// a segment may last at most; milliseconds are finer than any seek
    /// needs).
    durations_ms: Vec<u32>,
    keys: Runs,
    inits: Runs,
    /// The segments with a byte range, in order.
    ranges: Vec<(u32, Range<u64>)>,
    /// The `EXT-X-GAP` segments, in order.
    gaps: Vec<u32>,
}

impl SegmentTable {
    /// An empty table for `n` segments whose URLs are relative to `base`.
    pub(crate) fn new(base: &Url, n: usize) -> Self {
        Self {
            urls: UrlTable::new(base),
            durations_ms: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Append a segment at `url` lasting `duration_ms`.
    pub(crate) fn push(
        &mut self,
        url: &Url,
        duration_ms: u32,
        segment: Segment,
    ) -> Result<(), TableFull> {
        let i = u32::try_from(self.len()).map_err(|_| TableFull)?;
        self.urls.push(url)?;
        self.durations_ms.push(duration_ms);
        self.keys.push(i, segment.key);
        self.inits.push(i, segment.init);
        if let Some(range) = segment.range {
            self.ranges.push((i, range));
        }
        if segment.gap {
            self.gaps.push(i);
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.durations_ms.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.durations_ms.is_empty()
    }

    /// Segment `i`, or `None` past the end.
    pub(crate) fn get(&self, i: usize) -> Option<Segment> {
        if i >= self.len() {
            return None;
        }
        // Fits: `push` refuses a position past `u32::MAX`.
        let k = i as u32;
        let range = self
            .ranges
            .binary_search_by_key(&k, |(j, _)| *j)
            .ok()
            .map(|at| self.ranges[at].1.clone());
        Some(Segment {
            range,
            key: self.keys.get(k),
            init: self.inits.get(k),
            gap: self.gaps.binary_search(&k).is_ok(),
        })
    }

    /// Every segment, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The URL of segment `i`.
    pub(crate) fn url(&self, i: usize) -> Option<Url> {
        self.urls.get(i)
    }

    /// The duration of each segment in milliseconds.
    pub(crate) fn durations_ms(&self) -> &[u32] {
        &self.durations_ms
    }

    /// Whether segment `i` is an `EXT-X-GAP`.
    pub(crate) fn is_gap(&self, i: usize) -> bool {
        u32::try_from(i).is_ok_and(|k| self.gaps.binary_search(&k).is_ok())
    }

    /// Number of `EXT-X-GAP` segments.
    pub(crate) fn gaps(&self) -> usize {
        self.gaps.len()
    }

    /// Give back the spare capacity once every segment is in.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.urls.shrink_to_fit();
        self.durations_ms.shrink_to_fit();
        self.keys.0.shrink_to_fit();
        self.inits.0.shrink_to_fit();
        self.ranges.shrink_to_fit();
        self.gaps.shrink_to_fit();
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.urls.heap_bytes()
            + self.durations_ms.capacity() * size_of::<u32>()
            + (self.keys.0.capacity() + self.inits.0.capacity()) * size_of::<(u32, Option<u32>)>()
            + self.ranges.capacity() * size_of::<(u32, Range<u64>)>()
            + self.gaps.capacity() * size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://cdn.example.com/v0/index.m3u8").unwrap()
    }

    #[test]
    fn what_goes_in_comes_out_at_its_position() {
        let mut t = SegmentTable::new(&base(), 0);
        let mut want = Vec::new();
        for i in 0..100u32 {
            let s = Segment {
                range: (i % 7 == 3).then(|| u64::from(i) * 10..u64::from(i) * 10 + 5),
                key: match i {
                    0..20 => None,
                    20..50 => Some(0),
                    50..60 => None,
                    _ => Some(1 + i / 30),
                },
                init: (i >= 10).then_some(i / 40),
                gap: i % 11 == 5,
            };
            let url = Url::parse(&format!("https://cdn.example.com/v0/s{i}.ts")).unwrap();
            t.push(&url, i * 100, s.clone()).unwrap();
            want.push((url, i * 100, s));
        }
        assert_eq!(t.len(), want.len());
        for (i, (url, ms, s)) in want.iter().enumerate() {
            assert_eq!(t.get(i).as_ref(), Some(s), "segment {i}");
            assert_eq!(t.url(i).as_ref(), Some(url));
            assert_eq!(t.durations_ms()[i], *ms);
            assert_eq!(t.is_gap(i), s.gap);
        }
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            want.iter().map(|w| w.2.clone()).collect::<Vec<_>>()
        );
        assert_eq!(t.gaps(), want.iter().filter(|w| w.2.gap).count());
        assert_eq!(t.get(100), None);
        assert_eq!(t.url(100), None);
    }

    #[test]
    fn a_plain_segment_costs_its_duration_and_a_few_url_bytes() {
        let n = 30_000;
        let mut t = SegmentTable::new(&base(), n);
        for i in 0..n {
            let url = Url::parse(&format!("https://cdn.example.com/v0/seg/{i:06}.ts")).unwrap();
            let s = Segment {
                key: Some(0),
                init: Some(0),
                ..Segment::default()
            };
            t.push(&url, 4000, s).unwrap();
        }
        t.shrink_to_fit();
        let per_segment = t.heap_bytes() as f64 / n as f64;
        // A `Url` alone is 88 bytes inline.
        assert!(per_segment < 12.0, "{per_segment} bytes per segment");
    }
}
