//! The chosen variant as the reader sees it: a list of items (init segments
//! where they start to apply, then segments) that form one virtual byte stream.

use std::collections::HashSet;

use crate::error::HlsError;
use crate::layout;
use crate::playlist::{KeyRef, MediaPlaylist};
use crate::resource::{Resource, ResourceKind};

/// One piece of the virtual stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// `MediaPlaylist::inits[k]`.
    Init(usize),
    /// `MediaPlaylist::segments[i]`.
    Segment(usize),
}

/// The resources of one variant. Segment resources are built when asked
/// for, not kept: a long VOD has thousands, each a URL and a cache path.
#[derive(Debug)]
pub(crate) struct Track {
    pub variant: usize,
    pub media: MediaPlaylist,
    pub items: Vec<Item>,
    init_res: Vec<Resource>,
    /// Where the variant's media live: `v{variant}`.
    dir: String,
}

impl Track {
    pub(crate) fn new(variant: usize, media: MediaPlaylist) -> Result<Self, HlsError> {
        let mut items = Vec::with_capacity(media.segments.len() + media.inits.len());
        let mut current_init = None;
        for (i, seg) in media.segments.iter().enumerate() {
            if seg.init.is_some() && seg.init != current_init {
                if let Some(k) = seg.init {
                    items.push(Item::Init(k as usize));
                }
                current_init = seg.init;
            }
            items.push(Item::Segment(i));
        }
        let dir = layout::variant_dir(variant);
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
        })
    }

    /// The resource of segment `i`.
    fn segment_resource(&self, i: usize) -> Result<Resource, HlsError> {
        let url = self.media.segment_url(i)?;
        Ok(Resource {
            kind: ResourceKind::Segment,
            range: self.media.segments[i].range.clone(),
            path: layout::segment(&self.dir, self.media.sequence(i), &url)?,
            url,
        })
    }

    /// The resource of item `idx` and the key that decrypts it.
    pub(crate) fn item(&self, idx: usize) -> Result<(Resource, Option<KeyRef>), HlsError> {
        Ok(match self.items[idx] {
            Item::Init(k) => (self.init_res[k].clone(), self.media.inits[k].key.clone()),
            Item::Segment(i) => (self.segment_resource(i)?, self.media.segment_key(i)),
        })
    }

    /// The plaintext size of item `idx` when the playlist alone tells it
    /// (a clear byte range).
    pub(crate) fn size_hint(&self, idx: usize) -> Option<u64> {
        let (range, encrypted) = match self.items[idx] {
            Item::Init(k) => (&self.init_res[k].range, self.media.inits[k].key.is_some()),
            Item::Segment(i) => {
                let seg = &self.media.segments[i];
                (&seg.range, seg.key.is_some())
            }
        };
        match (range, encrypted) {
            (Some(r), false) => Some(r.end - r.start),
            _ => None,
        }
    }

    /// How many media resources there are (inits and segments).
    pub(crate) fn media_count(&self) -> usize {
        self.init_res.len() + self.media.segments.len()
    }

    /// Every media resource (inits, then segments), each once, built as the
    /// iterator advances.
    pub(crate) fn media_resources(&self) -> impl Iterator<Item = Result<Resource, HlsError>> {
        let inits = self.init_res.iter().cloned().map(Ok);
        let segs = (0..self.media.segments.len()).map(|i| self.segment_resource(i));
        inits.chain(segs)
    }

    /// The distinct keys (by URL), in order of first use; each with the IV of
    /// the first resource it decrypts.
    pub(crate) fn keys(&self) -> Vec<KeyRef> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for key in self.media.inits.iter().filter_map(|i| i.key.as_ref()) {
            if seen.insert(&key.url) {
                out.push(key.clone());
            }
        }
        let mut used = vec![false; self.media.keys.len()];
        for (i, seg) in self.media.segments.iter().enumerate() {
            let Some(k) = seg.key.map(|k| k as usize) else {
                continue;
            };
            if !used[k] {
                used[k] = true;
                if seen.insert(&self.media.keys[k].url)
                    && let Some(key) = self.media.segment_key(i)
                {
                    out.push(key);
                }
            }
        }
        out
    }
}
