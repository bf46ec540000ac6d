//! The chosen variant as the reader sees it: a list of items (init segments
//! where they start to apply, then segments) that form one virtual byte stream.

use kithara_cache::CachePath;

use crate::error::HlsError;
use crate::playlist::{KeyRef, MediaPlaylist, extension_of};
use crate::resource::{Resource, ResourceKind};

/// One piece of the virtual stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// `MediaPlaylist::inits[k]`.
    Init(usize),
    /// `MediaPlaylist::segments[i]`.
    Segment(usize),
}

/// The resources of one variant, with their cache paths.
#[derive(Debug)]
pub(crate) struct Track {
    pub variant: usize,
    pub media: MediaPlaylist,
    pub items: Vec<Item>,
    init_res: Vec<Resource>,
    seg_res: Vec<Resource>,
}

fn cache_path(s: String) -> Result<CachePath, HlsError> {
    Ok(CachePath::parse(&s)?)
}

impl Track {
    pub(crate) fn new(variant: usize, media: MediaPlaylist) -> Result<Self, HlsError> {
        let mut items = Vec::with_capacity(media.segments.len() + media.inits.len());
        let mut current_init = None;
        for (i, seg) in media.segments.iter().enumerate() {
            if seg.init.is_some() && seg.init != current_init {
                if let Some(k) = seg.init {
                    items.push(Item::Init(k));
                }
                current_init = seg.init;
            }
            items.push(Item::Segment(i));
        }
        let init_res = media
            .inits
            .iter()
            .enumerate()
            .map(|(k, init)| {
                let ext = extension_of(&init.url, "mp4");
                let name = if k == 0 {
                    format!("v{variant}/init.{ext}")
                } else {
                    format!("v{variant}/init-{k}.{ext}")
                };
                Ok(Resource {
                    kind: ResourceKind::Init,
                    url: init.url.clone(),
                    range: init.range.clone(),
                    path: cache_path(name)?,
                })
            })
            .collect::<Result<Vec<_>, HlsError>>()?;
        let seg_res = media
            .segments
            .iter()
            .enumerate()
            .map(|(i, seg)| {
                let ext = extension_of(&seg.url, "ts");
                Ok(Resource {
                    kind: ResourceKind::Segment,
                    url: seg.url.clone(),
                    range: seg.range.clone(),
                    path: cache_path(format!("v{variant}/seg/{i:06}.{ext}"))?,
                })
            })
            .collect::<Result<Vec<_>, HlsError>>()?;
        Ok(Self {
            variant,
            media,
            items,
            init_res,
            seg_res,
        })
    }

    /// The resource of item `idx` and the key that decrypts it.
    pub(crate) fn item(&self, idx: usize) -> (&Resource, Option<&KeyRef>) {
        match self.items[idx] {
            Item::Init(k) => (&self.init_res[k], self.media.inits[k].key.as_ref()),
            Item::Segment(i) => (&self.seg_res[i], self.media.segments[i].key.as_ref()),
        }
    }

    /// The plaintext size of item `idx` when the playlist alone tells it
    /// (a clear byte range).
    pub(crate) fn size_hint(&self, idx: usize) -> Option<u64> {
        let (res, key) = self.item(idx);
        match (&res.range, key) {
            (Some(r), None) => Some(r.end - r.start),
            _ => None,
        }
    }

    /// Every media resource (inits, then segments), each once.
    pub(crate) fn media_resources(&self) -> impl Iterator<Item = (&Resource, Option<&KeyRef>)> {
        let inits = self
            .init_res
            .iter()
            .zip(self.media.inits.iter().map(|i| i.key.as_ref()));
        let segs = self
            .seg_res
            .iter()
            .zip(self.media.segments.iter().map(|s| s.key.as_ref()));
        inits.chain(segs)
    }

    /// The distinct keys, in order of first use.
    pub(crate) fn keys(&self) -> Vec<&KeyRef> {
        let mut out: Vec<&KeyRef> = Vec::new();
        for (_, key) in self.media_resources() {
            if let Some(k) = key
                && !out.iter().any(|o| o.url == k.url)
            {
                out.push(k);
            }
        }
        out
    }
}
