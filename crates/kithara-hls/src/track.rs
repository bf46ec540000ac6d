//! The chosen variant as the reader sees it: a list of items (init segments
//! where they start to apply, then segments) that form one virtual byte stream.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use parking_lot::RwLock;
use url::Url;

use crate::crypto::sequence_iv;
use crate::error::HlsError;
use crate::layout;
use crate::playlist::{InitSegment, KeyRef, MediaPlaylist};
use crate::resource::{Resource, ResourceKind};

/// One piece of the virtual stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// `MediaPlaylist::inits[k]`.
    Init(usize),
    /// `MediaPlaylist::segments[i]`.
    Segment(usize),
}

/// The items of a VOD track, four bytes each: a long VOD has tens of
/// thousands. The top bit tells an init segment from a segment.
#[derive(Debug, Default)]
struct Items(Vec<u32>);

impl Items {
    const INIT: u32 = 1 << 31;

    fn push(&mut self, item: Item) -> Result<(), HlsError> {
        let (n, tag) = match item {
            Item::Init(k) => (k, Self::INIT),
            Item::Segment(i) => (i, 0),
        };
        match u32::try_from(n) {
            Ok(n) if n < Self::INIT => {
                self.0.push(n | tag);
                Ok(())
            }
            _ => Err(HlsError::Internal("more than 2^31 segments")),
        }
    }

    fn get(&self, idx: usize) -> Option<Item> {
        let n = *self.0.get(idx)?;
        let i = (n & !Self::INIT) as usize;
        Some(if n & Self::INIT != 0 {
            Item::Init(i)
        } else {
            Item::Segment(i)
        })
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// The position of `item`.
    fn position(&self, item: Item) -> Option<usize> {
        (0..self.len()).find(|&idx| self.get(idx) == Some(item))
    }
}

/// The resources of one variant. Segment resources are built when asked
/// for, not kept: a long VOD has thousands, each a URL and a cache path.
///
/// A live track keeps its items resolved instead ([`LiveTable`]): they come
/// from successive reloads of a playlist whose window slides, so no one
/// playlist holds them all.
#[derive(Debug)]
pub(crate) struct Track {
    pub variant: usize,
    /// The VOD's playlist (empty for a live track).
    pub media: MediaPlaylist,
    items: Items,
    init_res: Vec<Resource>,
    /// Where the variant's media live: `v{variant}`.
    dir: String,
    /// `Some` for a live track: its items, appended as reloads bring them.
    live: Option<RwLock<LiveTable>>,
    /// The playlist fetched again after a URL expired
    /// ([`refresh`](crate::refresh)): where it has a segment of the same
    /// sequence number, its URLs are used instead of `media`'s.
    fresh: RwLock<Option<MediaPlaylist>>,
}

/// One item of a live track, resolved.
#[derive(Clone, Debug)]
struct LiveItem {
    res: Resource,
    key: Option<KeyRef>,
    hint: Option<u64>,
    /// A segment's media sequence number (`None` for an init segment).
    sequence: Option<u64>,
    /// A segment's `EXTINF` in milliseconds (0 for an init segment).
    duration_ms: u32,
}

/// The items of a live track so far.
#[derive(Debug, Default)]
struct LiveTable {
    items: Vec<LiveItem>,
    /// How many of the items are segments.
    segments: usize,
    /// Every init segment seen, with its stable index (its cache name).
    inits: HashMap<InitSegment, usize>,
    /// The init segment in force after the last item.
    current_init: Option<InitSegment>,
    /// The sequence number after the last segment taken.
    next_sequence: Option<u64>,
    /// The last `EXT-X-TARGETDURATION` seen.
    target_duration: u64,
}

/// The comment line that marks a media playlist as a recording of a live
/// one: online it is never used (the live playlist is followed again),
/// offline it plays.
pub(crate) const RECORDING: &str = "## kithara: a recording of a live playlist";

/// Whether a cached media playlist is a recording of a live one.
pub(crate) fn is_recording(text: &[u8]) -> bool {
    // Written as the line after `#EXTM3U`.
    text.split(|&b| b == b'\n')
        .nth(1)
        .is_some_and(|line| line.trim_ascii() == RECORDING.as_bytes())
}

/// The index in `fresh` of the segment with `sequence`.
fn fresh_index(fresh: &MediaPlaylist, sequence: u64) -> Option<usize> {
    let j = usize::try_from(sequence.checked_sub(fresh.first_sequence)?).ok()?;
    (j < fresh.segments.len()).then_some(j)
}

/// The plaintext size a clear byte range tells.
fn hint(range: Option<&Range<u64>>, encrypted: bool) -> Option<u64> {
    range.filter(|_| !encrypted).map(|r| r.end - r.start)
}

impl Track {
    /// The track of `media`, whose media are cached under `dir` (`v{n}` or
    /// `r{n}`); `variant` is the variant chosen.
    pub(crate) fn new(variant: usize, dir: String, media: MediaPlaylist) -> Result<Self, HlsError> {
        let mut items = Items(Vec::with_capacity(
            media.segments.len() + media.inits.len() - media.segments.gaps(),
        ));
        let mut current_init = None;
        for (i, seg) in media.segments.iter().enumerate() {
            if seg.gap {
                continue; // missing (`EXT-X-GAP`): never requested
            }
            if seg.init.is_some() && seg.init != current_init {
                if let Some(k) = seg.init {
                    items.push(Item::Init(k as usize))?;
                }
                current_init = seg.init;
            }
            items.push(Item::Segment(i))?;
        }
        let init_res = media
            .inits
            .iter()
            .enumerate()
            .map(|(k, init)| {
                Ok(Resource {
                    kind: ResourceKind::Init,
                    url: init.url.clone(),
                    range: init.range.clone(),
                    path: layout::init(&dir, k, &init.url)?,
                })
            })
            .collect::<Result<Vec<_>, HlsError>>()?;
        Ok(Self {
            variant,
            media,
            items,
            init_res,
            dir,
            live: None,
            fresh: RwLock::new(None),
        })
    }

    /// A live track, starting with the segments of `first`.
    pub(crate) fn live(
        variant: usize,
        dir: String,
        first: &MediaPlaylist,
    ) -> Result<Self, HlsError> {
        let track = Self {
            variant,
            media: MediaPlaylist::default(),
            items: Items::default(),
            init_res: Vec::new(),
            dir,
            live: Some(RwLock::new(LiveTable::default())),
            fresh: RwLock::new(None),
        };
        track.extend(first)?;
        Ok(track)
    }

    /// Whether the track follows a live playlist.
    pub(crate) fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Append the segments of a reloaded live playlist that come after the
    /// last one taken (by media sequence number), each after the init
    /// segment it needs if that changed; returns how many segments were
    /// added. Segments that left the window before a reload saw them are
    /// skipped (logged).
    pub(crate) fn extend(&self, playlist: &MediaPlaylist) -> Result<usize, HlsError> {
        let Some(live) = &self.live else {
            return Err(HlsError::Internal("a VOD track does not grow"));
        };
        let mut table = live.write();
        table.target_duration = playlist.target_duration;
        let mut added = 0;
        for (i, seg) in playlist.segments.iter().enumerate() {
            let sequence = playlist.sequence(i);
            if let Some(next) = table.next_sequence {
                if sequence < next {
                    continue;
                }
                if sequence > next {
                    tracing::warn!(
                        missed = sequence - next,
                        sequence,
                        "live segments left the playlist before a reload saw them"
                    );
                }
            }
            let init = seg.init.map(|k| &playlist.inits[k as usize]);
            if let Some(init) = init
                && table.current_init.as_ref() != Some(init)
            {
                let next_index = table.inits.len();
                let k = *table.inits.entry(init.clone()).or_insert(next_index);
                let res = Resource {
                    kind: ResourceKind::Init,
                    url: init.url.clone(),
                    range: init.range.clone(),
                    path: layout::init(&self.dir, k, &init.url)?,
                };
                table.items.push(LiveItem {
                    hint: hint(res.range.as_ref(), init.key.is_some()),
                    key: init.key.clone(),
                    res,
                    sequence: None,
                    duration_ms: 0,
                });
                table.current_init = Some(init.clone());
            }
            let url = playlist.segment_url(i)?;
            let res = Resource {
                kind: ResourceKind::Segment,
                range: seg.range.clone(),
                path: layout::segment(&self.dir, sequence, &url)?,
                url,
            };
            table.items.push(LiveItem {
                hint: hint(res.range.as_ref(), seg.key.is_some()),
                key: playlist.segment_key(i),
                res,
                sequence: Some(sequence),
                duration_ms: playlist.segments.durations_ms()[i],
            });
            table.segments += 1;
            table.next_sequence = Some(sequence.saturating_add(1));
            added += 1;
        }
        Ok(added)
    }

    /// A VOD media playlist of the first `items` items of a live track (what
    /// a recording fetched), marked as a recording ([`RECORDING`]).
    /// Segments keep their sequence numbers (so their cache names); those
    /// the recording missed are `EXT-X-GAP`s. `EXTINF` is the target
    /// duration (the segment table keeps no durations). `None` for a VOD
    /// track or no segment.
    pub(crate) fn recording(&self, items: usize) -> Option<String> {
        use std::fmt::Write as _;
        let table = self.live.as_ref()?.read();
        let items = &table.items[..items.min(table.items.len())];
        let first = items.iter().find_map(|i| i.sequence)?;
        let t = table.target_duration.max(1);
        let mut out = format!(
            "#EXTM3U\n{RECORDING}\n#EXT-X-TARGETDURATION:{t}\n\
             #EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        );
        // The key in force as written: its URL and explicit IV, if any.
        let mut key: Option<(String, Option<[u8; 16]>)> = None;
        let mut next = first;
        for item in items {
            let want = item.key.as_ref().map(|k| {
                let explicit = match item.sequence {
                    Some(seq) if k.iv == sequence_iv(seq) => None,
                    _ => Some(k.iv),
                };
                (k.url.to_string(), explicit)
            });
            if want != key {
                match &want {
                    None => out.push_str("#EXT-X-KEY:METHOD=NONE\n"),
                    Some((url, iv)) => {
                        let _ = write!(out, "#EXT-X-KEY:METHOD=AES-128,URI=\"{url}\"");
                        if let Some(iv) = iv {
                            let _ = write!(out, ",IV=0x{}", hex::encode(iv));
                        }
                        out.push('\n');
                    }
                }
                key = want;
            }
            let range = item
                .res
                .range
                .as_ref()
                .map(|r| format!("{}@{}", r.end - r.start, r.start));
            let Some(seq) = item.sequence else {
                let _ = write!(out, "#EXT-X-MAP:URI=\"{}\"", item.res.url);
                if let Some(range) = range {
                    let _ = write!(out, ",BYTERANGE=\"{range}\"");
                }
                out.push('\n');
                continue;
            };
            for _missed in next..seq {
                let _ = writeln!(out, "#EXTINF:{t},\n#EXT-X-GAP\n{}", item.res.url);
            }
            if let Some(range) = range {
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{range}");
            }
            let _ = writeln!(out, "#EXTINF:{t},\n{}", item.res.url);
            next = seq.saturating_add(1);
        }
        out.push_str("#EXT-X-ENDLIST\n");
        Some(out)
    }

    /// The number of items (init segments and segments) so far.
    pub(crate) fn len(&self) -> usize {
        match &self.live {
            Some(live) => live.read().items.len(),
            None => self.items.len(),
        }
    }

    /// The number of media segments so far.
    pub(crate) fn segment_count(&self) -> usize {
        match &self.live {
            Some(live) => live.read().segments,
            None => self.media.segments.len(),
        }
    }

    /// Use the URLs of `fresh`, the VOD's playlist fetched again, from now
    /// on; returns how many segments it maps (by media sequence number).
    pub(crate) fn refresh(&self, fresh: MediaPlaylist) -> usize {
        let mapped = (0..self.media.segments.len())
            .filter(|&i| fresh_index(&fresh, self.media.sequence(i)).is_some())
            .count();
        *self.fresh.write() = Some(fresh);
        mapped
    }

    /// The URL and key of segment `i`: from the refreshed playlist if it
    /// has the segment's sequence number, else from the original.
    fn segment_parts(&self, i: usize) -> Result<(Url, Option<KeyRef>), HlsError> {
        let sequence = self.media.sequence(i);
        if let Some(fresh) = &*self.fresh.read()
            && let Some(j) = fresh_index(fresh, sequence)
        {
            return Ok((fresh.segment_url(j)?, fresh.segment_key(j)));
        }
        Ok((self.media.segment_url(i)?, self.media.segment_key(i)))
    }

    /// Init segment `k` (URL from the refreshed playlist when it has as
    /// many init segments) and its key.
    fn init_parts(&self, k: usize) -> (Resource, Option<KeyRef>) {
        let mut res = self.init_res[k].clone();
        let mut key = self.media.inits[k].key.clone();
        if let Some(fresh) = &*self.fresh.read()
            && fresh.inits.len() == self.media.inits.len()
        {
            res.url = fresh.inits[k].url.clone();
            key = fresh.inits[k].key.clone();
        }
        (res, key)
    }

    /// The resource of segment `i` and the key that decrypts it.
    fn segment_resource(&self, i: usize) -> Result<(Resource, Option<KeyRef>), HlsError> {
        let (url, key) = self.segment_parts(i)?;
        let res = Resource {
            kind: ResourceKind::Segment,
            range: self
                .media
                .segments
                .get(i)
                .ok_or(HlsError::Internal("segment out of range"))?
                .range,
            path: layout::segment(&self.dir, self.media.sequence(i), &url)?,
            url,
        };
        Ok((res, key))
    }

    /// Media resource `m` (inits first, then segments; see
    /// [`media_count`](Self::media_count)), built from the current URLs;
    /// `None` for a gap (`EXT-X-GAP`), which is never requested.
    pub(crate) fn media_resource(&self, m: usize) -> Result<Option<Resource>, HlsError> {
        match m.checked_sub(self.init_res.len()) {
            None => Ok(Some(self.init_parts(m).0)),
            Some(i) if self.media.segments.is_gap(i) => Ok(None),
            Some(i) if i < self.media.segments.len() => Ok(Some(self.segment_resource(i)?.0)),
            Some(_) => Err(HlsError::Internal("media resource out of range")),
        }
    }

    /// How many media resources are gaps (never requested).
    pub(crate) fn gaps(&self) -> usize {
        self.media.segments.gaps()
    }

    /// The resource of item `idx` and the key that decrypts it.
    pub(crate) fn item(&self, idx: usize) -> Result<(Resource, Option<KeyRef>), HlsError> {
        if let Some(live) = &self.live {
            let table = live.read();
            let item = table
                .items
                .get(idx)
                .ok_or(HlsError::Internal("live item out of range"))?;
            return Ok((item.res.clone(), item.key.clone()));
        }
        match self.items.get(idx) {
            Some(Item::Init(k)) => Ok(self.init_parts(k)),
            Some(Item::Segment(i)) => self.segment_resource(i),
            None => Err(HlsError::Internal("item out of range")),
        }
    }

    /// The duration of the track (so far, for a live one): the sum of its
    /// segments' `EXTINF`, gaps included.
    pub(crate) fn duration(&self) -> Duration {
        let ms: u64 = match &self.live {
            Some(live) => live
                .read()
                .items
                .iter()
                .map(|i| u64::from(i.duration_ms))
                .sum(),
            None => self
                .media
                .segments
                .durations_ms()
                .iter()
                .map(|&d| u64::from(d))
                .sum(),
        };
        Duration::from_millis(ms)
    }

    /// The item a reader starts at to play from time `t` (from the start of
    /// the track, by `EXTINF`): the segment that contains `t`, or the init
    /// segment right before it when one starts to apply there; the next
    /// segment when `t` falls in a gap. `None` past the last segment.
    pub(crate) fn item_at(&self, t: Duration) -> Option<usize> {
        let t = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
        // Items of segments that end after `t`, the first one found.
        let found = match &self.live {
            Some(live) => {
                let table = live.read();
                let mut end = 0u64;
                table.items.iter().position(|i| {
                    end += u64::from(i.duration_ms);
                    i.sequence.is_some() && end > t
                })
            }
            None => {
                let mut end = 0u64;
                let segments = &self.media.segments;
                let seg = (segments.durations_ms().iter().enumerate()).position(|(i, &ms)| {
                    end += u64::from(ms);
                    !segments.is_gap(i) && end > t
                })?;
                self.items.position(Item::Segment(seg))
            }
        }?;
        Some(match found.checked_sub(1) {
            Some(before) if self.is_init(before) => before,
            _ => found,
        })
    }

    fn is_init(&self, idx: usize) -> bool {
        match &self.live {
            Some(live) => live
                .read()
                .items
                .get(idx)
                .is_some_and(|i| i.sequence.is_none()),
            None => matches!(self.items.get(idx), Some(Item::Init(_))),
        }
    }

    /// The plaintext size of item `idx` when the playlist alone tells it
    /// (a clear byte range).
    pub(crate) fn size_hint(&self, idx: usize) -> Option<u64> {
        if let Some(live) = &self.live {
            return live.read().items.get(idx).and_then(|item| item.hint);
        }
        match self.items.get(idx)? {
            Item::Init(k) => hint(
                self.init_res[k].range.as_ref(),
                self.media.inits[k].key.is_some(),
            ),
            Item::Segment(i) => {
                let seg = self.media.segments.get(i)?;
                hint(seg.range.as_ref(), seg.key.is_some())
            }
        }
    }

    /// How many media resources there are (inits and segments).
    pub(crate) fn media_count(&self) -> usize {
        self.init_res.len() + self.media.segments.len()
    }

    /// Every media resource (inits, then segments), each once, built as the
    /// iterator advances.
    pub(crate) fn media_resources(&self) -> impl Iterator<Item = Result<Resource, HlsError>> {
        (0..self.media_count()).filter_map(|m| self.media_resource(m).transpose())
    }

    /// The distinct keys (by URL), in order of first use; each with the IV of
    /// the first resource it decrypts. From the refreshed playlist once
    /// there is one.
    pub(crate) fn keys(&self) -> Vec<KeyRef> {
        match &*self.fresh.read() {
            Some(fresh) => keys_of(fresh),
            None => keys_of(&self.media),
        }
    }
}

/// The distinct keys of `media` (by URL), in order of first use; each with
/// the IV of the first resource it decrypts.
fn keys_of(media: &MediaPlaylist) -> Vec<KeyRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for key in media.inits.iter().filter_map(|i| i.key.as_ref()) {
        if seen.insert(&key.url) {
            out.push(key.clone());
        }
    }
    let mut used = vec![false; media.keys.len()];
    for (i, seg) in media.segments.iter().enumerate() {
        let Some(k) = seg.key.map(|k| k as usize) else {
            continue;
        };
        if !used[k] {
            used[k] = true;
            if seen.insert(&media.keys[k].url)
                && let Some(key) = media.segment_key(i)
            {
                out.push(key);
            }
        }
    }
    out
}
