//! Fetching a whole asset into the cache without decoding it (for
//! `kithara fetch`): every resource not cached yet is downloaded and stored;
//! cached ones are skipped, so an interrupted fetch resumes where it stopped.
//! A cached copy is skipped only if it is sound (`Loader::intact`: empty,
//! of the wrong length or failing its digest, it is fetched again).

use std::sync::Arc;

use tokio::task::JoinSet;
use url::Url;

use crate::error::HlsError;
use crate::key::KeyManager;
use crate::open::{Ctx, excluded};
use crate::options::{HlsOptions, VariantSelect};
use crate::refresh::with_fresh_urls;
use crate::resource::{Extras, Resource, ResourceKind};
use crate::session::HlsSession;
use crate::source::Source;

impl PrefetchSummary {
    /// Count one resource: skipped (cached) or downloaded (`bytes`).
    pub(crate) fn count(&mut self, source: Source, bytes: u64) {
        match source {
            Source::Cache => self.skipped += 1,
            Source::Network => {
                self.downloaded += 1;
                self.bytes += bytes;
            }
        }
    }

    /// Add what another prefetch did.
    pub(crate) fn add(&mut self, other: PrefetchSummary) {
        self.downloaded += other.downloaded;
        self.skipped += other.skipped;
        self.bytes += other.bytes;
    }
}

/// One resource done by a prefetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefetchProgress {
    /// The variant being fetched.
    pub variant: usize,
    /// Resources done so far in this variant (this one included).
    pub done: usize,
    /// Resources of this variant in total (keys, init segments, segments).
    pub total: usize,
    /// What this resource is.
    pub kind: ResourceKind,
    /// Its URL.
    pub url: Url,
    /// `Cache` when it was already cached (skipped), `Network` when downloaded.
    pub source: Source,
    /// Bytes downloaded for it (0 when skipped).
    pub bytes: u64,
}

/// What a prefetch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefetchSummary {
    /// Resources downloaded.
    pub downloaded: usize,
    /// Resources skipped because they were cached.
    pub skipped: usize,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// Media resource `m` of the track, unless cached; built again with fresh
/// URLs if its URL expired. `None` for a gap.
async fn fetch_media(ctx: Arc<Ctx>, m: usize) -> Result<Option<(Resource, Source, u64)>, HlsError> {
    let ctx = &*ctx;
    with_fresh_urls(ctx, || async move {
        let Some(res) = ctx.track.media_resource(m)? else {
            return Ok(None);
        };
        let (source, n) = store_missing(ctx, &res).await?;
        Ok(Some((res, source, n)))
    })
    .await
}

/// Download `res` into the cache unless it is there: where it came from
/// and the bytes downloaded.
pub(crate) async fn store_missing(ctx: &Ctx, res: &Resource) -> Result<(Source, u64), HlsError> {
    if ctx.loader.intact(res).await? {
        ctx.loader.stats().already_cached();
        return Ok((Source::Cache, 0));
    }
    let resp = ctx.loader.download(res, Extras::default()).await?;
    let n = resp.bytes.len() as u64;
    ctx.loader.store(res, resp.bytes).await?;
    Ok((Source::Network, n))
}

/// Key `k` of the track (in [`Track::keys`](crate::track::Track::keys)
/// order), cached if it was not; built again with fresh URLs if its URL
/// expired. Returns its URL, where it came from and the bytes downloaded.
async fn fetch_key(ctx: &Ctx, k: usize) -> Result<(Url, Source, u64), HlsError> {
    with_fresh_urls(ctx, || async move {
        let key = ctx
            .track
            .keys()
            .into_iter()
            .nth(k)
            .ok_or(HlsError::Internal("key index out of range"))?;
        let res = KeyManager::resource(&key.url)?;
        if ctx.loader.intact(&res).await? {
            ctx.loader.stats().already_cached();
            return Ok((key.url, Source::Cache, 0));
        }
        let before = ctx.loader.stats().snapshot().bytes_from_network;
        ctx.keys.get(&ctx.loader, &key).await?;
        let after = ctx.loader.stats().snapshot().bytes_from_network;
        Ok((key.url, Source::Network, after.saturating_sub(before)))
    })
    .await
}

/// Every key, init segment and segment of the track of `ctx` not cached
/// yet, downloaded and cached, with up to `lookahead_segments` downloads at
/// a time (see [`HlsSession::prefetch_all`]); `url` is the session's (a
/// refused write names it), `playlist` the media playlist's (a live one is
/// refused naming it).
pub(crate) async fn track<F>(
    ctx: &Arc<Ctx>,
    url: &Url,
    playlist: &Url,
    mut progress: F,
) -> Result<PrefetchSummary, HlsError>
where
    F: FnMut(&PrefetchProgress) + Send,
{
    if ctx.track.is_live() {
        // A live stream has no "everything" to fetch; nothing of it is
        // cached (its playlists never are).
        return Err(HlsError::Live {
            url: playlist.to_string(),
        });
    }
    let variant = ctx.track.variant;
    let keys = ctx.track.keys();
    let total = keys.len() + ctx.track.media_count() - ctx.track.gaps();
    let mut summary = PrefetchSummary::default();
    let mut done = 0;
    let mut report = |kind, url: &Url, source, bytes, summary: &mut PrefetchSummary| {
        done += 1;
        summary.count(source, bytes);
        progress(&PrefetchProgress {
            variant,
            done,
            total,
            kind,
            url: url.clone(),
            source,
            bytes,
        });
    };
    // Playback serves what the cache refuses from memory; a prefetch
    // exists for the cache, so a refused or failed write (here or when
    // `open` stored the playlists) fails it: as soon as one is counted,
    // and at the latest once the last write has finished.
    let refused = || {
        let stats = ctx.loader.stats().snapshot();
        if stats.cache_full == 0 && stats.cache_write_errors == 0 {
            Ok(())
        } else {
            Err(HlsError::NotCached {
                url: url.to_string(),
                refused: stats.cache_full,
                write_errors: stats.cache_write_errors,
            })
        }
    };
    ctx.loader.flush().await;
    refused()?;
    for k in 0..keys.len() {
        let (url, source, bytes) = fetch_key(ctx, k).await?;
        if source == Source::Network {
            refused()?;
        }
        report(ResourceKind::Key, &url, source, bytes, &mut summary);
    }
    let limit = ctx.lookahead_segments.max(1);
    // Built one at a time (in the task): a long VOD's resources are not
    // all held at once.
    let mut pending = 0..ctx.track.media_count();
    let mut set = JoinSet::new();
    loop {
        while set.len() < limit {
            match pending.next() {
                None => break,
                Some(m) => set.spawn(fetch_media(Arc::clone(ctx), m)),
            };
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let joined = joined
            .map_err(|e| HlsError::Task(e.to_string()))
            .and_then(|r| r)
            .and_then(|ok| refused().map(|()| ok));
        match joined {
            Ok(Some((res, source, bytes))) => {
                report(res.kind, &res.url, source, bytes, &mut summary)
            }
            Ok(None) => {} // a gap
            Err(e) => {
                // Leave nothing running behind (atomic writes: an aborted
                // download never reaches the cache).
                set.shutdown().await;
                return Err(e);
            }
        }
    }
    // Done means on disk: the writes behind the downloads have landed.
    ctx.loader.flush().await;
    refused()?;
    Ok(summary)
}

/// Fetch every variant of the asset at `url` into the cache (one after the
/// other; each variant as [`HlsSession::prefetch_all`]), except those with a
/// codec of [`HlsOptions::exclude_codecs`] (none left is
/// [`HlsError::NoSuchVariant`]). `options.variant` is ignored. A
/// media-playlist URL has one variant.
pub async fn prefetch_all_variants<F>(
    url: &str,
    options: HlsOptions,
    mut progress: F,
) -> Result<PrefetchSummary, HlsError>
where
    F: FnMut(&PrefetchProgress) + Send,
{
    // `Lowest` is the first variant not excluded to open (it lists the rest).
    let first = HlsSession::open(url, options.clone().variant(VariantSelect::Lowest)).await?;
    let done = first.variant_index();
    let wanted: Vec<usize> = first
        .variants()
        .iter()
        .filter(|v| v.index != done && !excluded(v, &options.exclude_codecs))
        .map(|v| v.index)
        .collect();
    let mut total = first.prefetch_all(&mut progress).await?;
    drop(first);
    for v in wanted {
        let s = HlsSession::open(url, options.clone().variant(VariantSelect::Index(v))).await?;
        total.add(s.prefetch_all(&mut progress).await?);
    }
    Ok(total)
}
